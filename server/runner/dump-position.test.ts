import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { DumpPositionReader, parseDumpPosition } from "./dump-position.ts";

const MARIADB_HEAD = `-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB
-- CHANGE MASTER TO MASTER_USE_GTID=slave_pos;

-- CHANGE MASTER TO MASTER_LOG_FILE='binlog-bin.000007', MASTER_LOG_POS=866;

CREATE TABLE t (id int);
`;
const MARIADB_TAIL = `UNLOCK TABLES;

-- Preferably use GTID to start replication from GTID position:

-- SET GLOBAL gtid_slave_pos='0-7-3,1-7-9';
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;
`;

describe("dump positions from the dump's own comments", () => {
  it.each([
    [
      "MariaDB --master-data=2 with the deferred GTID",
      MARIADB_HEAD,
      MARIADB_TAIL,
      { binlogFile: "binlog-bin.000007", binlogPosition: 866, gtidSet: "0-7-3,1-7-9" },
    ],
    [
      "MySQL 8.4 --source-data=2",
      "-- CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='mysql-bin.000002', SOURCE_LOG_POS=157;\n",
      "",
      { binlogFile: "mysql-bin.000002", binlogPosition: 157 },
    ],
    ["no position comment", "CREATE TABLE t (id int);\n", "", null],
  ])("%s", (_case, head, tail, expected) => {
    expect(parseDumpPosition(head, tail)).toEqual(expected);
  });

  it("reads them while passing every byte through, with the GTID at the end after megabytes of rows", async () => {
    const rows = Buffer.alloc(3 * 1024 * 1024, "x");
    const reader = new DumpPositionReader();
    let bytes = 0;
    await pipeline(
      Readable.from([Buffer.from(MARIADB_HEAD), rows.subarray(0, 1_000_000), rows.subarray(1_000_000), Buffer.from(MARIADB_TAIL)]),
      reader,
      new Writable({ write: (c: Buffer, _e, done) => ((bytes += c.length), done()) }),
    );
    expect(bytes).toBe(MARIADB_HEAD.length + rows.length + MARIADB_TAIL.length);
    expect(reader.position()).toEqual({ binlogFile: "binlog-bin.000007", binlogPosition: 866, gtidSet: "0-7-3,1-7-9" });
  });

  it("a CHANGE MASTER line in the rows (past the head) is not taken for the position", () => {
    expect(parseDumpPosition("CREATE TABLE t (id int);\n", "-- CHANGE MASTER TO MASTER_LOG_FILE='x.000001', MASTER_LOG_POS=4;\n")).toBeNull();
  });
});
