import type { CountedStats, TableStats } from "../runner/table-stats.ts";

/**
 * Where the drill's list of tables and objects came from: captured right before the dump, or the
 * live source now (nothing was captured), or nowhere. Row counts always come from the dump itself.
 */
export type Baseline = "CAPTURED" | "LIVE_SOURCE" | "NONE" | "CHECKPOINT";

/** One table of a drill's comparison; `expectedRows`: the rows the dump holds for it. */
export type TableCheck = {
  name: string;
  expectedRows: number | null;
  actualRows: number | null;
  status: "OK" | "MISSING" | "EXTRA" | "ROWS_DIFFER";
};

/** The stored `details` of a drill. */
export type DrillComparison = {
  passed: boolean;
  baseline: Baseline;
  /** Why the drill failed (empty when it passed). */
  problems: string[];
  /** Differences that do not fail the drill (the live source changed since the backup), and how it compared. */
  notes: string[];
  tables: TableCheck[];
  missingObjects: string[];
  extraObjects: string[];
};

export type DrillInput = {
  /** Rows per table in the dump, counted while it was restored (DumpRowCounter). */
  dumpRows: ReadonlyMap<string, number>;
  /** Tables and objects to expect (their row counts are ignored), or null. */
  schema: TableStats | null;
  baseline: Baseline;
  /** Why there is no schema, for the note (baseline NONE). */
  why?: string;
  /** The restored database, counted. */
  actual: CountedStats;
};

const ROWS_NOTE = "row counts compared with the rows of the dump itself, counted while it was restored: the dump's own snapshot";

/**
 * Compares a restored database with its dump and baseline. Every table must hold exactly the rows
 * the dump holds for it: the dump is one consistent snapshot, so a busy source cannot make this
 * differ, and a row lost on the way fails the drill. Tables and objects: against a capture at dump
 * time everything must match (the same tables, views, routines, triggers); against the live source
 * only what the backup lacks fails the drill (the source may have changed since), the rest is noted.
 */
export function compareDrill(input: DrillInput): DrillComparison {
  const { dumpRows, schema, baseline, actual } = input;
  const strict = baseline === "CAPTURED";
  const problems: string[] = [];
  const notes: string[] = [];
  const actualRows = new Map(actual.tables.map((t) => [t.name, t.rows]));
  const expectedNames = new Set(schema?.tables.map((t) => t.name) ?? []);
  const names = [...new Set([...dumpRows.keys(), ...expectedNames, ...actualRows.keys()])].sort(cmp);
  const tables: TableCheck[] = [];
  for (const name of names) {
    const rows = actualRows.get(name);
    const expectedRows = dumpRows.get(name) ?? (rows === undefined ? null : 0);
    if (rows === undefined) {
      tables.push({ name, expectedRows, actualRows: null, status: "MISSING" });
      problems.push(`table ${name} is missing from the restored database`);
    } else if (rows !== expectedRows) {
      tables.push({ name, expectedRows, actualRows: rows, status: "ROWS_DIFFER" });
      problems.push(`table ${name} has ${rows} rows, the dump holds ${expectedRows}`);
    } else if (schema && !expectedNames.has(name)) {
      tables.push({ name, expectedRows, actualRows: rows, status: "EXTRA" });
      (strict ? problems : notes).push(`table ${name} is in the restored database but ${strict ? "was not captured at dump time" : "no longer on the source"}`);
    } else {
      tables.push({ name, expectedRows, actualRows: rows, status: "OK" });
    }
  }
  const actualObjects = new Set(actual.objects);
  const expectedObjects = new Set(schema?.objects ?? []);
  const missingObjects = (schema?.objects ?? []).filter((o) => !actualObjects.has(o));
  const extraObjects = schema ? actual.objects.filter((o) => !expectedObjects.has(o)) : [];
  if (missingObjects.length) problems.push(`missing from the restored database: ${missingObjects.join(", ")}`);
  if (extraObjects.length) (strict ? problems : notes).push(`not expected in the restored database: ${extraObjects.join(", ")}`);
  if (baseline === "LIVE_SOURCE")
    notes.unshift("no tables and objects were captured at dump time: compared with the live source now, which may have changed since the backup");
  if (baseline === "NONE") notes.unshift(`no tables and objects to compare with: ${input.why ?? "none were captured"}; only the rows of the dump are checked`);
  notes.push(ROWS_NOTE);
  return { passed: problems.length === 0, baseline, problems, notes, tables, missingObjects, extraObjects };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
