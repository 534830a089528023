import { describe, expect, it } from "vitest";
import { compareDrill, type Baseline } from "./drill-compare.ts";
import { TABLE_STATS_FORMAT, type CountedStats, type TableStats } from "../runner/table-stats.ts";

function counted(tables: Record<string, number>, objects: string[] = []): CountedStats {
  return {
    format: TABLE_STATS_FORMAT,
    capturedAt: "2026-11-23T02:00:00.000Z",
    tables: Object.entries(tables).map(([name, rows]) => ({ name, rows })),
    objects,
  };
}

/** What the runner captures at dump time: names, no counts. */
function names(tables: string[], objects: string[] = []): TableStats {
  return { format: TABLE_STATS_FORMAT, capturedAt: "2026-11-23T02:00:00.000Z", tables: tables.map((name) => ({ name, rows: null })), objects };
}

describe("compareDrill", () => {
  const schema = names(["a", "b", "c"], ["VIEW v", "TRIGGER t ON a"]);
  // The dump held 10 rows of a and 3 of c; b is empty (MySQL writes no INSERT for it).
  const dumpRows = new Map([
    ["a", 10],
    ["c", 3],
  ]);

  it.each([
    ["identical", counted({ a: 10, b: 0, c: 3 }, ["TRIGGER t ON a", "VIEW v"]), "CAPTURED", true, 0, 1],
    ["a missing table", counted({ a: 10, c: 3 }, ["VIEW v", "TRIGGER t ON a"]), "CAPTURED", false, 1, 1],
    ["a missing table (live source)", counted({ a: 10, c: 3 }, ["VIEW v", "TRIGGER t ON a"]), "LIVE_SOURCE", false, 1, 2],
    ["a row lost on the way", counted({ a: 9, b: 0, c: 3 }, ["VIEW v", "TRIGGER t ON a"]), "CAPTURED", false, 1, 1],
    // Unlike the old live-source comparison, the rows never depend on the source: they come from the dump.
    ["a row lost on the way (live source)", counted({ a: 9, b: 0, c: 3 }, ["VIEW v", "TRIGGER t ON a"]), "LIVE_SOURCE", false, 1, 2],
    ["rows in a table the dump holds none of", counted({ a: 10, b: 2, c: 3 }, ["VIEW v", "TRIGGER t ON a"]), "CAPTURED", false, 1, 1],
    ["an extra table", counted({ a: 10, b: 0, c: 3, d: 0 }, ["VIEW v", "TRIGGER t ON a"]), "CAPTURED", false, 1, 1],
    ["an extra table (live source)", counted({ a: 10, b: 0, c: 3, d: 0 }, ["VIEW v", "TRIGGER t ON a"]), "LIVE_SOURCE", true, 0, 3],
    ["a missing trigger", counted({ a: 10, b: 0, c: 3 }, ["VIEW v"]), "LIVE_SOURCE", false, 1, 2],
    ["an extra view", counted({ a: 10, b: 0, c: 3 }, ["VIEW v", "VIEW w", "TRIGGER t ON a"]), "CAPTURED", false, 1, 1],
  ] as const)("%s", (_label, actual, baseline: Baseline, passed, problems, notes) => {
    const result = compareDrill({ dumpRows, schema, baseline, actual });
    expect(result.passed).toBe(passed);
    expect(result.problems).toHaveLength(problems);
    expect(result.notes).toHaveLength(notes);
    expect(result.baseline).toBe(baseline);
  });

  it("reports each table with the dump's rows and the restored ones", () => {
    const result = compareDrill({ dumpRows, schema, baseline: "CAPTURED", actual: counted({ a: 9, c: 3, z: 2 }, schema.objects) });
    expect(result.tables).toEqual([
      { name: "a", expectedRows: 10, actualRows: 9, status: "ROWS_DIFFER" },
      { name: "b", expectedRows: null, actualRows: null, status: "MISSING" },
      { name: "c", expectedRows: 3, actualRows: 3, status: "OK" },
      { name: "z", expectedRows: 0, actualRows: 2, status: "ROWS_DIFFER" },
    ]);
    expect(result.problems).toContain("table a has 9 rows, the dump holds 10");
  });

  it("ignores row counts in the schema (old captures took them in another snapshot than the dump's)", () => {
    const old = { ...counted({ a: 7, b: 0, c: 1 }, schema.objects), format: "sqlguard-table-stats/1" };
    expect(compareDrill({ dumpRows, schema: old, baseline: "CAPTURED", actual: counted({ a: 10, b: 0, c: 3 }, schema.objects) }).passed).toBe(true);
  });

  it("still checks the rows without any schema, saying why", () => {
    const result = compareDrill({ dumpRows, schema: null, baseline: "NONE", why: "the source server was deleted", actual: counted({ a: 10, c: 2 }) });
    expect(result).toMatchObject({ passed: false, baseline: "NONE", problems: ["table c has 2 rows, the dump holds 3"] });
    expect(result.notes[0]).toMatch(/the source server was deleted; only the rows of the dump are checked/);
  });
});
