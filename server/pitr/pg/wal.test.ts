import { describe, expect, it } from "vitest";
import { parseBackupLabel } from "./base-backup.ts";
import { receivewalCommand } from "./receiver.ts";
import { walGap } from "./wal-archiver.ts";
import { formatLsn, parseLsn, parseSegment, segmentName, segnoOf } from "./wal.ts";

describe("PostgreSQL WAL names and continuity", () => {
  it("parses segment names and LSNs both ways", () => {
    const s = parseSegment("0000000200000001000000FF.lz4.partial")!;
    expect(s).toEqual({ timeline: 2, segno: 0x1ffn, name: "0000000200000001000000FF" });
    expect(segmentName(2, 0x200n)).toBe("000000020000000200000000");
    expect(formatLsn(parseLsn("1/2000028"))).toBe("1/2000028");
    expect(segmentName(1, segnoOf(parseLsn("0/3000028")))).toBe("000000010000000000000003");
    expect(parseSegment("00000002.history")).toBeNull();
  });

  it("a gap, a re-created cluster, and an unexplained timeline switch break the chain", () => {
    const a = parseSegment("000000010000000000000003")!;
    expect(walGap(a, parseSegment("000000010000000000000004")!, new Set())).toBeNull();
    expect(walGap(a, parseSegment("000000010000000000000006")!, new Set())).toMatch(
      /between 000000010000000000000003 and 000000010000000000000006 are missing/,
    );
    expect(walGap(a, parseSegment("000000010000000000000002")!, new Set())).toMatch(/re-created/);
    expect(walGap(a, parseSegment("000000020000000000000004")!, new Set())).toMatch(/timeline switch from 1 to 2 .* not explained by a history file/);
    expect(walGap(a, parseSegment("000000020000000000000004")!, new Set(["00000002.history"]))).toBeNull();
  });

  it("reads backup_label, and keeps the password out of pg_receivewal's argv", () => {
    const label = parseBackupLabel(
      "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-12-03 13:40:12 UTC\nLABEL: pg_basebackup base backup\nSTART TIMELINE: 1\n",
    );
    expect(label).toEqual({ startLsn: "0/2000028", startSegment: "000000010000000000000002", startTime: new Date("2026-12-03T13:40:12Z"), timeline: 1 });
    expect(() => parseBackupLabel("nonsense")).toThrow(/backup_label not understood/);
    const cmd = receivewalCommand({ engine: "POSTGRESQL", host: "h", port: 5432, username: "u", password: "s3cret", tls: false }, "/spool", "sqlguard_1");
    expect(cmd.args).toEqual(expect.arrayContaining(["--slot", "sqlguard_1", "--synchronous", "-Z", "lz4"]));
    expect(cmd.args.join(" ")).not.toContain("s3cret");
    expect(cmd.env.PGPASSWORD).toBe("s3cret");
  });
});

describe("WAL retention", () => {
  it("trims the segments before the oldest kept base backup's start, never history files, nothing without a base backup", async () => {
    const { walToTrim } = await import("./wal-trim.ts");
    const files = ["000000010000000000000001", "000000010000000000000002", "000000010000000000000003", "00000002.history", "000000020000000000000004"].map(
      (file) => ({ file }),
    );
    expect(walToTrim(files, ["000000010000000000000003", "000000020000000000000004"]).map((f) => f.file)).toEqual([
      "000000010000000000000001",
      "000000010000000000000002",
    ]);
    expect(walToTrim(files, ["000000020000000000000004"]).map((f) => f.file)).toEqual([
      "000000010000000000000001",
      "000000010000000000000002",
      "000000010000000000000003",
    ]);
    expect(walToTrim(files, [])).toEqual([]);
  });
});
