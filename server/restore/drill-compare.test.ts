import { describe, expect, it } from "vitest";
import { compareStats, noBaseline } from "./drill-compare.ts";
import { TABLE_STATS_FORMAT, type TableStats } from "../runner/table-stats.ts";

function stats(tables: Record<string, number>, objects: string[] = []): TableStats {
  return {
    format: TABLE_STATS_FORMAT,
    capturedAt: "2026-11-23T02:00:00.000Z",
    tables: Object.entries(tables).map(([name, rows]) => ({ name, rows })),
    objects,
  };
}

describe("compareStats", () => {
  const expected = stats({ a: 10, b: 0, c: 3 }, ["VIEW v", "TRIGGER t ON a"]);

  it.each([
    ["identical", stats({ a: 10, b: 0, c: 3 }, ["TRIGGER t ON a", "VIEW v"]), "CAPTURED", true, 0, 0],
    ["a missing table", stats({ a: 10, c: 3 }, ["VIEW v", "TRIGGER t ON a"]), "CAPTURED", false, 1, 0],
    ["a missing table (live source)", stats({ a: 10, c: 3 }, ["VIEW v", "TRIGGER t ON a"]), "LIVE_SOURCE", false, 1, 1],
    ["a row count differing", stats({ a: 11, b: 0, c: 3 }, ["VIEW v", "TRIGGER t ON a"]), "CAPTURED", false, 1, 0],
    ["a row count differing (live source)", stats({ a: 11, b: 0, c: 3 }, ["VIEW v", "TRIGGER t ON a"]), "LIVE_SOURCE", true, 0, 2],
    ["an extra table", stats({ a: 10, b: 0, c: 3, d: 1 }, ["VIEW v", "TRIGGER t ON a"]), "CAPTURED", false, 1, 0],
    ["an extra table (live source)", stats({ a: 10, b: 0, c: 3, d: 1 }, ["VIEW v", "TRIGGER t ON a"]), "LIVE_SOURCE", true, 0, 2],
    ["a missing trigger", stats({ a: 10, b: 0, c: 3 }, ["VIEW v"]), "LIVE_SOURCE", false, 1, 1],
    ["an extra view", stats({ a: 10, b: 0, c: 3 }, ["VIEW v", "VIEW w", "TRIGGER t ON a"]), "CAPTURED", false, 1, 0],
  ] as const)("%s", (_label, actual, baseline, passed, problems, notes) => {
    const result = compareStats(expected, actual, baseline);
    expect(result.passed).toBe(passed);
    expect(result.problems).toHaveLength(problems);
    expect(result.notes).toHaveLength(notes);
    expect(result.baseline).toBe(baseline);
  });

  it("reports each table with both counts", () => {
    const result = compareStats(expected, stats({ a: 9, c: 3, z: 2 }, expected.objects), "CAPTURED");
    expect(result.tables).toEqual([
      { name: "a", expectedRows: 10, actualRows: 9, status: "ROWS_DIFFER" },
      { name: "b", expectedRows: 0, actualRows: null, status: "MISSING" },
      { name: "c", expectedRows: 3, actualRows: 3, status: "OK" },
      { name: "z", expectedRows: null, actualRows: 2, status: "EXTRA" },
    ]);
    expect(result.problems.join(" ")).toMatch(/table a has 9 rows, captured at dump time: 10/);
  });

  it("passes without a baseline, saying why", () => {
    const result = noBaseline(stats({ a: 1 }), "the source server was deleted");
    expect(result).toMatchObject({ passed: true, baseline: "NONE" });
    expect(result.notes[0]).toMatch(/source server was deleted/);
  });
});
