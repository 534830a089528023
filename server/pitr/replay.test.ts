import { describe, expect, it } from "vitest";
import { parseBinlogPosition, parseGtid, planReplay, PitrRefusedError, type ReplayPlan } from "./replay.ts";

const file = (n: number, extra: Partial<ReplayPlan["files"][number]> = {}): ReplayPlan["files"][number] => ({
  file: `mysql-bin.00000${n}`,
  key: `pitr/s/mysql-bin.00000${n}.zst`,
  partial: false,
  sha256: "0".repeat(64),
  storageTargetIds: [1],
  breakReason: null,
  lastEventAt: new Date(`2026-12-01T0${n}:00:00Z`),
  endPosition: 5000n,
  gtidListAtStart: `0-1-${(n - 1) * 10}`,
  gtidStateAtEnd: `0-1-${n * 10}`,
  ...extra,
});
const dump = { binlogFile: "mysql-bin.000001", binlogPosition: 400, gtidSet: "0-1-3" };
const archives = [file(1), file(2), file(3, { partial: true, endPosition: 2000n })];

describe("planReplay to a GTID or a position", () => {
  it("stops at the file holding the GTID, or the position's file", () => {
    expect(planReplay(archives, dump, { gtid: "0-1-15" }).files.map((f) => f.file)).toEqual(["mysql-bin.000001", "mysql-bin.000002"]);
    expect(planReplay(archives, dump, { gtid: "0-1-4" }).files).toHaveLength(1);
    expect(planReplay(archives, dump, { file: "mysql-bin.000003", position: 2000 }).files).toHaveLength(3);
    // The dump is exactly at that GTID: nothing to replay.
    expect(planReplay(archives, dump, { gtid: "0-1-3" }).files).toEqual([]);
  });

  it.each([
    [{ gtid: "0-1-31" }, /does not hold GTID 0-1-31: it reaches mysql-bin.000003:2000, so it is not recoverable yet/],
    [{ gtid: "0-1-2" }, /the dump already holds GTID 0-1-2/],
    [{ file: "mysql-bin.000003", position: 2001 }, /does not hold mysql-bin.000003:2001/],
    [{ file: "mysql-bin.000001", position: 100 }, /before the dump's position mysql-bin.000001:400/],
    [{ file: "mysql-bin.000009", position: 4 }, /does not hold mysql-bin.000009:4/],
  ])("refuses %j saying why", (stop, why) => {
    expect(() => planReplay(archives, dump, stop)).toThrow(PitrRefusedError);
    expect(() => planReplay(archives, dump, stop)).toThrow(why);
  });

  it("refuses a GTID or a position past a break", () => {
    const broken = [file(1), file(2, { breakReason: "purged on the source before it was archived" }), file(3)];
    expect(() => planReplay(broken, dump, { gtid: "0-1-25" })).toThrow(/broken at mysql-bin.000002 \(purged .*\): GTID 0-1-25 is past the break/);
    expect(() => planReplay(broken, dump, { file: "mysql-bin.000003", position: 100 })).toThrow(/broken at mysql-bin.000002/);
    expect(planReplay(broken, dump, { gtid: "0-1-25" }, { force: true }).files).toHaveLength(3);
  });

  it("parses positions and GTIDs strictly", () => {
    expect(parseBinlogPosition("mysql-bin.000007:1234")).toEqual({ file: "mysql-bin.000007", position: 1234 });
    expect(parseBinlogPosition("mysql-bin.000007")).toBeNull();
    expect(parseBinlogPosition("mysql-bin:12")).toBeNull();
    expect(parseGtid("0-1-42")).toEqual({ domain: 0, serverId: 1, seq: 42n });
    expect(parseGtid("0-1")).toBeNull();
    expect(parseGtid("3E11FA47-71CA-11E1-9E33-C80AA9429562:23")).toBeNull();
  });
});
