import type { TableStats } from "../runner/table-stats.ts";

/** What the restored database was compared with: the capture at dump time, or the live source now. */
export type Baseline = "CAPTURED" | "LIVE_SOURCE";

/** One table of a drill's comparison. */
export type TableCheck = {
  name: string;
  expectedRows: number | null;
  actualRows: number | null;
  status: "OK" | "MISSING" | "EXTRA" | "ROWS_DIFFER";
};

/** The stored `details` of a drill. */
export type DrillComparison = {
  passed: boolean;
  baseline: Baseline | "NONE";
  /** Why the drill failed (empty when it passed). */
  problems: string[];
  /** Differences that do not fail the drill (the live source changed since the backup). */
  notes: string[];
  tables: TableCheck[];
  missingObjects: string[];
  extraObjects: string[];
};

/**
 * Compares a restored database with its baseline. Against stats captured at dump time everything
 * must match: the same tables with the same row counts, the same views, routines and triggers.
 * Against the live source (no capture exists) the source may have changed since the backup, so
 * only tables and objects the backup lacks fail the drill; row counts and extra tables are notes.
 */
export function compareStats(expected: TableStats, actual: TableStats, baseline: Baseline): DrillComparison {
  const strict = baseline === "CAPTURED";
  const problems: string[] = [];
  const notes: string[] = [];
  const actualRows = new Map(actual.tables.map((t) => [t.name, t.rows]));
  const expectedNames = new Set(expected.tables.map((t) => t.name));
  const tables: TableCheck[] = [];
  for (const t of expected.tables) {
    const rows = actualRows.get(t.name);
    if (rows === undefined) {
      tables.push({ name: t.name, expectedRows: t.rows, actualRows: null, status: "MISSING" });
      problems.push(`table ${t.name} is missing from the restored database`);
    } else if (rows !== t.rows) {
      tables.push({ name: t.name, expectedRows: t.rows, actualRows: rows, status: "ROWS_DIFFER" });
      (strict ? problems : notes).push(`table ${t.name} has ${rows} rows, ${strict ? "captured at dump time" : "the live source has"}: ${t.rows}`);
    } else {
      tables.push({ name: t.name, expectedRows: t.rows, actualRows: rows, status: "OK" });
    }
  }
  for (const t of actual.tables.filter((x) => !expectedNames.has(x.name))) {
    tables.push({ name: t.name, expectedRows: null, actualRows: t.rows, status: "EXTRA" });
    (strict ? problems : notes).push(`table ${t.name} is in the restored database but ${strict ? "was not captured at dump time" : "no longer on the source"}`);
  }
  const actualObjects = new Set(actual.objects);
  const expectedObjects = new Set(expected.objects);
  const missingObjects = expected.objects.filter((o) => !actualObjects.has(o));
  const extraObjects = actual.objects.filter((o) => !expectedObjects.has(o));
  if (missingObjects.length) problems.push(`missing from the restored database: ${missingObjects.join(", ")}`);
  if (extraObjects.length) (strict ? problems : notes).push(`not expected in the restored database: ${extraObjects.join(", ")}`);
  if (!strict) notes.unshift("no table stats were captured at dump time: compared with the live source now, which may have changed since the backup");
  return { passed: problems.length === 0, baseline, problems, notes, tables, missingObjects, extraObjects };
}

/** The details of a drill with nothing to compare with: the restore itself is the whole check. */
export function noBaseline(actual: TableStats, why: string): DrillComparison {
  return {
    passed: true,
    baseline: "NONE",
    problems: [],
    notes: [`nothing to compare with: ${why}; the drill checks only that the backup restores`],
    tables: actual.tables.map((t) => ({ name: t.name, expectedRows: null, actualRows: t.rows, status: "OK" as const })),
    missingObjects: [],
    extraObjects: [],
  };
}
