// The MySQL/MariaDB swap on the real MariaDB, step by step: a complete scratch copy swapped in
// (views, triggers, routines and events recreated, a view of the target named like an incoming
// table), a rename that cannot get the target's tables (nothing changes), and a failure after the
// rename (said exactly, the former tables kept).
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../db/connection.ts";
import { dropMariadbDatabase, MARIADB, mariadbExec, mariadbFingerprint, uniqueName } from "../testing/sample-databases.ts";
import { prepareScratch, swapIn } from "./mysql-swap.ts";

const CONN = { engine: "MARIADB" as const, host: MARIADB.host, port: MARIADB.port, username: MARIADB.user, password: null, tls: false };

describe("swapping a scratch copy in", () => {
  const made: string[] = [];
  afterAll(async () => {
    for (const db of made) await dropMariadbDatabase(db);
  });

  /** A target with rows, objects of its own and a view named like one of the incoming tables. */
  async function pair(): Promise<{ target: string; scratch: string }> {
    const target = uniqueName("swp_t");
    const scratch = uniqueName("swp_s");
    made.push(target, scratch);
    await mariadbExec([`CREATE DATABASE ${target}`, `CREATE DATABASE ${scratch}`]);
    await mariadbExec(
      [
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))",
        "INSERT INTO t VALUES (1, 'old')",
        "CREATE TABLE log (id INT)",
        "CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO log VALUES (NEW.id)",
        "CREATE VIEW incoming AS SELECT id FROM t",
        "CREATE FUNCTION old_f() RETURNS INT DETERMINISTIC RETURN 1",
        "CREATE EVENT old_e ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM log",
      ],
      target,
    );
    await mariadbExec(
      [
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10), w INT)",
        "INSERT INTO t VALUES (1, 'new', 1), (2, 'new', 2)",
        "CREATE TABLE incoming (id INT PRIMARY KEY, t_id INT, FOREIGN KEY (t_id) REFERENCES t(id))",
        "INSERT INTO incoming VALUES (10, 1)",
        "CREATE TABLE hits (n INT)",
        "CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW SET NEW.v = UPPER(NEW.v)",
        "CREATE TRIGGER t_bi2 BEFORE INSERT ON t FOR EACH ROW FOLLOWS t_bi SET NEW.v = CONCAT(NEW.v, '!')",
        "CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2",
        "CREATE VIEW doubled AS SELECT id, twice(id) AS d FROM t",
        "CREATE VIEW doubled_again AS SELECT id, d FROM doubled",
        "CREATE PROCEDURE count_t(OUT n INT) SELECT COUNT(*) INTO n FROM t",
        "CREATE EVENT new_e ON SCHEDULE EVERY 1 HOUR DISABLE DO INSERT INTO hits VALUES (1)",
      ],
      scratch,
    );
    return { target, scratch };
  }

  async function events(database: string): Promise<string[]> {
    const [rows] = (await mariadbExec([`SELECT EVENT_NAME AS e FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '${database}' ORDER BY 1`])) as Array<
      Array<{ e: string }>
    >;
    return rows!.map((r) => r.e);
  }

  it("replaces the target with the scratch copy: its tables, then its views, triggers (in order), routines and events", async () => {
    const { target, scratch } = await pair();
    const expected = await mariadbFingerprint(scratch);
    const defs = await prepareScratch(CONN, scratch);
    expect(defs.map((d) => `${d.kind} ${d.name}`)).toEqual([
      "FUNCTION twice",
      "PROCEDURE count_t",
      "VIEW doubled",
      "VIEW doubled_again",
      "TRIGGER t_bi",
      "TRIGGER t_bi2",
      "EVENT new_e",
    ]);
    const report = await swapIn(CONN, target, scratch, defs);
    expect(report).toEqual({ state: "REPLACED", detail: `"${target}" now holds the backup; its former contents were dropped` });
    expect(await mariadbFingerprint(target)).toEqual(expected);
    expect(await events(target)).toEqual(["new_e"]);
    expect(await mariadbExec([`SHOW DATABASES LIKE '${scratch}'`])).toEqual([[]]);
    // Triggers fire in their order, the view answers through the function, the foreign key followed its table.
    const [, rows, view] = (await mariadbExec(
      ["INSERT INTO t (id, v) VALUES (3, 'x')", "SELECT v FROM t WHERE id = 3", "SELECT d FROM doubled_again WHERE id = 2"],
      target,
    )) as Array<Array<Record<string, unknown>>>;
    expect(rows).toEqual([{ v: "X!" }]);
    expect(view).toEqual([{ d: 4 }]);
    await expect(mariadbExec(["INSERT INTO incoming VALUES (11, 99)"], target)).rejects.toThrow(/foreign key constraint fails/);
  });

  it("changes nothing when the rename cannot get the target's tables, and drops the scratch copy", async () => {
    const { target, scratch } = await pair();
    const before = await mariadbFingerprint(target);
    const defs = await prepareScratch(CONN, scratch);
    const holder = await connect({ ...MARIADB, database: target });
    try {
      await holder.query("LOCK TABLES t READ");
      const report = await swapIn(CONN, target, scratch, defs, { lockWaitSeconds: 1 });
      expect(report.state).toBe("UNTOUCHED");
      expect(report.detail).toBe(`"${target}" was not changed (swapping the tables (RENAME TABLE) failed); the scratch database "${scratch}" was dropped`);
      expect(report.error).toMatch(/Lock wait timeout/);
    } finally {
      await holder.query("UNLOCK TABLES");
      await holder.end();
    }
    expect(await mariadbFingerprint(target)).toEqual(before);
    expect(await events(target)).toEqual(["old_e"]);
    expect(await mariadbExec([`SHOW DATABASES LIKE '${scratch}'`])).toEqual([[]]);
  });

  it("says exactly what the target holds when a step after the rename fails, and keeps its former tables", async () => {
    const { target, scratch } = await pair();
    const defs = await prepareScratch(CONN, scratch);
    const broken = [
      ...defs,
      {
        kind: "VIEW" as const,
        name: "broken",
        sql: "CREATE VIEW broken AS SELECT * FROM no_such_table",
        sqlMode: null,
        charset: null,
        collation: null,
        timeZone: null,
      },
    ];
    const report = await swapIn(CONN, target, scratch, broken);
    expect(report.state).toBe("INCOMPLETE");
    expect(report.detail).toMatch(
      new RegExp(
        `^the tables of "${target}" were replaced with the backup's, but creating the backup's routines, views, triggers and events failed \\(creating view \`broken\` failed: .*no_such_table.*\\): its former tables and views are kept in it as sqlguard_old_[0-9a-f]{6}_\\* `,
      ),
    );
    const [tables] = (await mariadbExec([`SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${target}' ORDER BY 1`])) as Array<
      Array<{ n: string }>
    >;
    const names = tables!.map((r) => r.n);
    // The backup's tables, and the views created before the broken one.
    expect(names.filter((n) => !n.startsWith("sqlguard_old_"))).toEqual(["doubled", "doubled_again", "hits", "incoming", "t"]);
    expect(names.filter((n) => n.startsWith("sqlguard_old_"))).toHaveLength(3);
    // Renamed in name order, tables first: log, t, then the view incoming.
    const oldT = names.find((n) => n.startsWith("sqlguard_old_") && n.endsWith("_2"))!;
    expect(await mariadbExec([`SELECT v FROM \`${oldT}\``], target)).toEqual([[{ v: "old" }]]);
  });
});
