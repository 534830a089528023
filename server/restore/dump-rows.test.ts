import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../db/connection.ts";
import { mysqlConnectionArgs, pgClientEnv } from "../process/client-args.ts";
import { captureTableStats } from "../runner/table-stats.ts";
import type { ServerConnection } from "../runner/dumpers/types.ts";
import { dropMariadbDatabase, dropPgDatabase, MARIADB, mariadbExec, pgExec, POSTGRES, uniqueName } from "../testing/sample-databases.ts";
import { DumpRowCounter, type DumpDialect } from "./dump-rows.ts";

const MARIA: ServerConnection = { engine: "MARIADB", host: MARIADB.host, port: MARIADB.port, username: MARIADB.user, password: null, tls: false };
const PG: ServerConnection = { engine: "POSTGRESQL", host: POSTGRES.host, port: POSTGRES.port, username: POSTGRES.user, password: null, tls: false };

/** Feeds `dump` in chunks of random sizes (some of one byte), so every boundary falls somewhere. */
function count(dialect: DumpDialect, dump: Buffer, seed: number): Record<string, number> {
  const counter = new DumpRowCounter(dialect);
  let random = seed;
  for (let i = 0; i < dump.length; ) {
    random = (random * 1103515245 + 12345) % 2 ** 31;
    const size = random % 5 === 0 ? 1 : 1 + (random % 9000);
    counter.write(dump.subarray(i, i + size));
    i += size;
  }
  return Object.fromEntries(counter.rows);
}

/** The exact row counts of the database's tables, as a drill reads them from the restored copy. */
async function actualRows(conn: ServerConnection, database: string): Promise<Record<string, number>> {
  const stats = await captureTableStats(conn, database);
  return Object.fromEntries(stats.tables.filter((t) => t.rows > 0).map((t) => [t.name, t.rows]));
}

const nonEmpty = (rows: Record<string, number>) => Object.fromEntries(Object.entries(rows).filter(([, n]) => n > 0));

/** Text that looks like SQL structure to a naive reader: quotes, escapes, tuples, statement ends, newlines. */
const NASTY = [
  "plain",
  "it's",
  "\\",
  "back\\slash'quote",
  "),(2,'x'),(",
  "a;b",
  "line\nbreak",
  "tab\there",
  "\\.",
  "$$ dollar $$",
  "-- not a comment",
  "INSERT INTO `t` VALUES (1);",
  "COPY public.t FROM stdin;",
  "Zoë 日本 🎉",
  "",
];

describe("DumpRowCounter on real mariadb-dump output", () => {
  const db = uniqueName("rows");
  const weird = "we`ird tä(ble); x";

  beforeAll(async () => {
    await mariadbExec([`CREATE DATABASE ${db} CHARACTER SET utf8mb4`]);
    await mariadbExec(
      [
        "CREATE TABLE texts (id INT PRIMARY KEY, s TEXT, b BLOB)",
        `CREATE TABLE \`${weird.replace(/`/g, "``")}\` (id INT PRIMARY KEY, \`values\` VARCHAR(20))`,
        "CREATE TABLE empty_one (id INT PRIMARY KEY)",
        "CREATE TABLE gen (id INT PRIMARY KEY, d INT AS (id * 2) VIRTUAL)",
        // A body with data-like lines at column 0: they run at CALL time, they are not rows of the dump.
        "CREATE PROCEDURE fill()\nBEGIN\nINSERT INTO `texts` VALUES (999,'x',NULL);\nINSERT INTO `empty_one` VALUES (1),(2);\nEND",
        "CREATE TRIGGER texts_ai AFTER INSERT ON texts FOR EACH ROW\nINSERT INTO `empty_one` VALUES (NEW.id + 100000)",
      ],
      db,
    );
    const conn = await connect({ ...MARIADB, database: db });
    try {
      const rows = [];
      for (let i = 1; i <= 600; i++) rows.push([i, NASTY[i % NASTY.length]!.repeat(1 + (i % 3)), i % 4 === 0 ? null : crypto.randomBytes(i % 97)]);
      await conn.batch("INSERT INTO texts (id, s, b) VALUES (?, ?, ?)", rows);
      await conn.batch(
        `INSERT INTO \`${weird.replace(/`/g, "``")}\` (id, \`values\`) VALUES (?, ?)`,
        Array.from({ length: 7 }, (_, i) => [i, NASTY[i]!.slice(0, 20)]),
      );
      await conn.batch("INSERT INTO gen (id) VALUES (?)", [[1], [2], [3]]);
      await conn.query("DELETE FROM empty_one"); // the trigger filled it
    } finally {
      await conn.end();
    }
  });
  afterAll(() => dropMariadbDatabase(db));

  const BASE = ["--single-transaction", "--routines", "--events", "--default-character-set=utf8mb4", "--no-tablespaces"];
  it.each([
    ["the runner's flags", ["--hex-blob"]],
    ["binary strings escaped (no --hex-blob)", []],
    ["one INSERT per row", ["--hex-blob", "--skip-extended-insert"]],
    ["column lists", ["--complete-insert"]],
    ["INSERT IGNORE", ["--insert-ignore"]],
    ["REPLACE", ["--replace"]],
    ["--compact", ["--compact"]],
    ["many small INSERTs", ["--net-buffer-length=4096"]],
  ])("counts every row: %s", async (_label, flags) => {
    const dump = execFileSync("mariadb-dump", [...mysqlConnectionArgs(MARIA, "mariadb"), ...BASE, ...flags, "--", db], { maxBuffer: 1 << 28 });
    const expected = await actualRows(MARIA, db);
    expect(expected).toEqual({ texts: 600, [weird]: 7, gen: 3 });
    for (const seed of [1, 2, 3]) expect(nonEmpty(count("mysql", dump, seed))).toEqual(expected);
  });
});

describe("DumpRowCounter on real pg_dump output", () => {
  const db = uniqueName("rows_pg");
  const env = { ...process.env, ...pgClientEnv(PG, db, "sqlguard-test") };

  beforeAll(async () => {
    await pgExec([`CREATE DATABASE ${db}`]);
    const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
    await pgExec(
      [
        'CREATE SCHEMA "Odd Schema"',
        "CREATE TABLE texts (id int PRIMARY KEY, s text, b bytea, a text[])",
        'CREATE TABLE "Odd Schema"."We""ird (tab)" (id int PRIMARY KEY, "values" text)',
        "CREATE TABLE empty_one (id int)",
        "CREATE TABLE log (id int)",
        // A body with data-like lines at column 0, and a comment whose text holds $$ and a quote.
        "CREATE FUNCTION fill() RETURNS void LANGUAGE plpgsql AS $body$\nBEGIN\nINSERT INTO public.log VALUES (1);\nCOPY public.log FROM stdin;\nEND\n$body$",
        "COMMENT ON TABLE texts IS 'costs $$ and it''s\nmultiline;\nINSERT INTO public.log VALUES (2);'",
        `INSERT INTO texts SELECT g, (ARRAY[${NASTY.map(literal).join(",")}])[1 + g % ${NASTY.length}], decode(md5(g::text), 'hex'), ARRAY['x,y', '{z}'] FROM generate_series(1, 500) g`,
        `INSERT INTO "Odd Schema"."We""ird (tab)" SELECT g, 'v' || g FROM generate_series(1, 9) g`,
      ],
      db,
    );
  });
  afterAll(() => dropPgDatabase(db));

  const pgDump = (flags: string[]) => execFileSync("pg_dump", ["--no-password", "--no-owner", ...flags], { env, maxBuffer: 1 << 28 });
  it.each([
    ["COPY (the default)", []],
    ["--inserts", ["--inserts"]],
    ["--column-inserts", ["--column-inserts"]],
    ["--rows-per-insert=7", ["--rows-per-insert=7"]],
    ["--quote-all-identifiers", ["--quote-all-identifiers"]],
  ])("counts every row: %s", async (_label, flags) => {
    const dump = pgDump(["--format=plain", ...flags]);
    const expected = await actualRows(PG, db);
    expect(expected).toEqual({ "public.texts": 500, 'Odd Schema.We"ird (tab)': 9 });
    for (const seed of [1, 2, 3]) expect(nonEmpty(count("pg", dump, seed))).toEqual(expected);
  });

  it("counts the SQL pg_restore makes of a custom archive, empty tables listed with 0", async () => {
    const archive = pgDump(["--format=custom", "--compress=0"]);
    const sql = execFileSync("pg_restore", ["--no-owner", "--file=-"], { input: archive, maxBuffer: 1 << 28 });
    expect(count("pg", sql, 7)).toEqual({ "public.texts": 500, 'Odd Schema.We"ird (tab)': 9, "public.empty_one": 0, "public.log": 0 });
  });
});
