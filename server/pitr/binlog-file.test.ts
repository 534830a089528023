import { describe, expect, it } from "vitest";
import { planReplay, PitrRefusedError } from "./replay.ts";
import { binlogSequence, gtidStateAfter, sameGtidState, summarizeBinlog } from "./binlog-file.ts";
import { nextFile } from "./pitr-supervisor.ts";

describe("GTID states compared as sets", () => {
  it.each([
    ["same domains in another order", "0-1-5,1-1-9", "1-1-9,0-1-5", true],
    ["a sequence number differs", "0-1-5", "0-1-6", false],
    ["a domain is missing", "0-1-5,1-1-9", "0-1-5", false],
    ["both empty", "", null, true],
  ])("%s", (_case, a, b, same) => expect(sameGtidState(a, b)).toBe(same));

  it("a file's end state is its start state with its last GTID applied", () => {
    expect(gtidStateAfter("0-1-5,1-1-9", "0-1-8")).toBe("0-1-8,1-1-9");
  });
});

describe("binlog names", () => {
  it("numbers and successors keep the width", () => {
    expect(binlogSequence("binlog-bin.000042")).toBe(42);
    expect(nextFile("binlog-bin.000099")).toBe("binlog-bin.000100");
    expect(binlogSequence("binlog-bin.index")).toBeNull();
  });

  it("refuses what is not a binlog", () => {
    expect(() => summarizeBinlog(Buffer.from("hello"))).toThrow(/not a binlog/);
  });
});

describe("planReplay", () => {
  const at = (s: string) => new Date(`2026-12-02T${s}Z`);
  const file = (n: number, lastEvent: string, breakReason: string | null = null, partial = false) => ({
    file: `b.${String(n).padStart(6, "0")}`,
    key: `pitr/s/b.${n}.zst`,
    partial,
    sha256: "0".repeat(64),
    storageTargetIds: [1],
    breakReason,
    lastEventAt: at(lastEvent),
  });
  const position = { binlogFile: "b.000001", binlogPosition: 800 };

  it("takes the files from the dump's up to the first reaching the time", () => {
    const plan = planReplay([file(3, "18:00:00"), file(1, "16:00:00"), file(2, "17:30:00")], position, at("17:00:00"));
    expect(plan.files.map((f) => f.file)).toEqual(["b.000001", "b.000002"]);
    expect(plan).toMatchObject({ startFile: "b.000001", startPosition: 800 });
  });

  it.each([
    ["a break between", [file(1, "16:00:00"), file(2, "17:30:00", "binlog b.000002 was purged")], /broken at b.000002 \(binlog b.000002 was purged\)/],
    ["a missing file", [file(1, "16:00:00"), file(3, "17:30:00")], /between b.000001 and b.000003 are not archived/],
    ["an archive short of the time", [file(1, "16:00:00")], /reaches only 2026-12-02T16:00:00.000Z/],
    ["the dump's own file never archived", [file(2, "17:30:00")], /b.000001, where the dump's position is, was never archived/],
  ])("refuses %s, saying why", (_case, archives, message) => {
    expect(() => planReplay(archives, position, at("17:00:00"))).toThrow(PitrRefusedError);
    expect(() => planReplay(archives, position, at("17:00:00"))).toThrow(message);
  });

  it("crosses a break when forced", () => {
    const plan = planReplay([file(1, "16:00:00"), file(2, "17:30:00", "purged")], position, at("17:00:00"), { force: true });
    expect(plan.files).toHaveLength(2);
  });

  it("refuses a dump without a position", () => {
    expect(() => planReplay([file(1, "16:00:00")], null, at("17:00:00"))).toThrow(/no exact binlog position/);
  });
});
