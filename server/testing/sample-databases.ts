import crypto from "node:crypto";
import { spawn } from "node:child_process";
import fs from "node:fs";
import pg from "pg";
import { connect, quoteIdent } from "../db/connection.ts";

/** The MariaDB and PostgreSQL servers on this machine (trust / empty root password). */
export const MARIADB = { host: "127.0.0.1", port: 3306, user: "root" };
export const POSTGRES = { host: "127.0.0.1", port: 5432, user: process.env.TEST_PG_USER ?? "postgres" };

export function uniqueName(label: string): string {
  return `sqlg_${label}_${crypto.randomBytes(4).toString("hex")}`;
}

/** Runs statements on the local MariaDB as root, optionally inside a database. */
export async function mariadbExec(statements: string[], database?: string): Promise<unknown[]> {
  const conn = await connect({ ...MARIADB, database: database ?? "" }, { withDatabase: database !== undefined });
  try {
    const results: unknown[] = [];
    for (const sql of statements) results.push(await conn.query(sql));
    return results;
  } finally {
    await conn.end();
  }
}

/**
 * A MariaDB database with what a dump must carry: InnoDB tables, a BLOB, Unicode text, a view,
 * a trigger, a procedure and a function, and an empty table.
 */
export async function createMariadbSample(name: string, options: { rows?: number } = {}): Promise<void> {
  const rows = options.rows ?? 200;
  await mariadbExec([`CREATE DATABASE ${quoteIdent(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`]);
  await mariadbExec(
    [
      "CREATE TABLE customers (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(200) NOT NULL, note TEXT, created DATETIME(3)) ENGINE=InnoDB",
      "CREATE TABLE files (id INT PRIMARY KEY, customer_id INT NOT NULL, data LONGBLOB, FOREIGN KEY (customer_id) REFERENCES customers(id)) ENGINE=InnoDB",
      "CREATE TABLE empty_table (id BIGINT PRIMARY KEY, v DECIMAL(12,4)) ENGINE=InnoDB",
      "CREATE TABLE audit (id INT PRIMARY KEY AUTO_INCREMENT, customer_id INT, at VARCHAR(40)) ENGINE=InnoDB",
      "CREATE VIEW customer_files AS SELECT c.name, COUNT(f.id) AS n FROM customers c LEFT JOIN files f ON f.customer_id = c.id GROUP BY c.name",
      "CREATE TRIGGER customers_ai AFTER INSERT ON customers FOR EACH ROW INSERT INTO audit (customer_id, at) VALUES (NEW.id, 'insert')",
      "CREATE PROCEDURE count_customers(OUT n INT) BEGIN SELECT COUNT(*) INTO n FROM customers; END",
      "CREATE FUNCTION shout(s VARCHAR(100)) RETURNS VARCHAR(110) DETERMINISTIC RETURN CONCAT(UPPER(s), '!')",
    ],
    name,
  );
  const conn = await connect({ ...MARIADB, database: name });
  try {
    const texts = ["Zoë Ångström", "日本語のテキスト", "emoji 🎉🔥", "quote ' and \" and \\ backslash", "Ελληνικά", "line\nbreak\ttab"];
    const batch = [];
    for (let i = 1; i <= rows; i++)
      batch.push([`${texts[i % texts.length]} #${i}`, i % 7 === 0 ? null : "x".repeat(i % 300), new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i))]);
    await conn.batch("INSERT INTO customers (name, note, created) VALUES (?, ?, ?)", batch);
    const blobs = [];
    for (let i = 1; i <= Math.min(rows, 50); i++) blobs.push([i, i, crypto.randomBytes(1000 + i * 37)]);
    await conn.batch("INSERT INTO files (id, customer_id, data) VALUES (?, ?, ?)", blobs);
  } finally {
    await conn.end();
  }
}

/** Adds a table of `megabytes` of incompressible-ish rows (for long-running dumps). */
export async function addBulkTable(database: string, megabytes: number): Promise<void> {
  const conn = await connect({ ...MARIADB, database });
  try {
    await conn.query("CREATE TABLE bulk (id INT PRIMARY KEY, payload MEDIUMBLOB) ENGINE=InnoDB");
    const chunk = 256 * 1024;
    const count = Math.ceil((megabytes * 1024 * 1024) / chunk);
    for (let i = 0; i < count; i += 8) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + 8); j++) batch.push([j, crypto.randomBytes(chunk)]);
      await conn.batch("INSERT INTO bulk (id, payload) VALUES (?, ?)", batch);
    }
  } finally {
    await conn.end();
  }
}

/** CHECKSUM TABLE of every base table, by name; plus the views, routines and triggers present. */
export async function mariadbFingerprint(database: string): Promise<{ checksums: Record<string, string>; objects: string[] }> {
  const conn = await connect({ ...MARIADB, database });
  try {
    const tables = (await conn.query("SELECT TABLE_NAME AS t, TABLE_TYPE AS k FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", [
      database,
    ])) as Array<{ t: string; k: string }>;
    const checksums: Record<string, string> = {};
    for (const { t } of tables.filter((r) => r.k === "BASE TABLE")) {
      const [row] = (await conn.query(`CHECKSUM TABLE ${quoteIdent(t)} EXTENDED`)) as Array<{ Checksum: unknown }>;
      checksums[t] = String(row!.Checksum);
    }
    const routines = (await conn.query("SELECT CONCAT(ROUTINE_TYPE, ' ', ROUTINE_NAME) AS o FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?", [
      database,
    ])) as Array<{ o: string }>;
    const triggers = (await conn.query("SELECT CONCAT('TRIGGER ', TRIGGER_NAME) AS o FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?", [
      database,
    ])) as Array<{ o: string }>;
    const views = tables.filter((r) => r.k === "VIEW").map((r) => `VIEW ${r.t}`);
    return { checksums, objects: [...routines.map((r) => r.o), ...triggers.map((r) => r.o), ...views].sort() };
  } finally {
    await conn.end();
  }
}

/** Runs `decompress < file | client args`, as a user restoring by hand would. */
export function restoreWith(file: string, decompress: string[] | null, client: string[], env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const clientChild = spawn(client[0]!, client.slice(1), { stdio: ["pipe", "ignore", "pipe"], env: { ...process.env, ...env } });
    let stderr = "";
    clientChild.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    if (decompress) {
      const d = spawn(decompress[0]!, decompress.slice(1), { stdio: [fs.openSync(file, "r"), "pipe", "inherit"] });
      d.stdout!.pipe(clientChild.stdin);
    } else {
      fs.createReadStream(file).pipe(clientChild.stdin);
    }
    clientChild.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${client[0]} exited ${code}: ${stderr}`))));
  });
}

/** Runs statements on the local PostgreSQL, in `database` (default postgres). */
export async function pgExec(statements: string[], database = "postgres"): Promise<unknown[]> {
  const client = new pg.Client({ ...POSTGRES, database });
  await client.connect();
  try {
    const out: unknown[] = [];
    for (const sql of statements) out.push((await client.query(sql)).rows);
    return out;
  } finally {
    await client.end();
  }
}

/** A PostgreSQL database with several types, a view, a function, a trigger and an empty table. */
export async function createPgSample(name: string): Promise<void> {
  await pgExec([`CREATE DATABASE "${name.replace(/"/g, '""')}" ENCODING 'UTF8' TEMPLATE template0`]);
  await pgExec(
    [
      "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2), data bytea, tags text[], meta jsonb, at timestamptz)",
      "CREATE TABLE empty_table (id bigint PRIMARY KEY)",
      "CREATE TABLE log (id serial PRIMARY KEY, item_id int, what text)",
      "CREATE VIEW expensive AS SELECT id, name FROM items WHERE price > 50",
      "CREATE FUNCTION log_item() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO log (item_id, what) VALUES (NEW.id, 'insert'); RETURN NEW; END $$",
      "CREATE TRIGGER items_ai AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION log_item()",
      `INSERT INTO items (name, price, data, tags, meta, at)
         SELECT 'item ' || g || ' Zoë 日本 🎉', (g * 1.37)::numeric(10,2), decode(md5(g::text), 'hex'), ARRAY['a' || g, 'b'], jsonb_build_object('g', g, 's', 'ü'), '2026-01-01'::timestamptz + g * interval '1 minute'
         FROM generate_series(1, 300) g`,
    ],
    name,
  );
}

/** A digest of every row of every user table (and the view and function presence), to compare two databases. */
export async function pgFingerprint(database: string): Promise<Record<string, string>> {
  const tables = (
    (await pgExec(["SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"], database))[0] as Array<{ tablename: string }>
  ).map((r) => r.tablename);
  const out: Record<string, string> = {};
  for (const t of tables) {
    const [rows] = (await pgExec(
      [`SELECT count(*)::text AS n, coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') AS h FROM "${t}" x`],
      database,
    )) as Array<Array<{ n: string; h: string }>>;
    out[t] = `${rows![0]!.n}:${rows![0]!.h}`;
  }
  const [objects] = (await pgExec(
    [
      "SELECT string_agg(name, ',' ORDER BY name) AS o FROM (SELECT viewname AS name FROM pg_views WHERE schemaname='public' UNION ALL SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname='public' UNION ALL SELECT tgname FROM pg_trigger WHERE NOT tgisinternal) s",
    ],
    database,
  )) as Array<Array<{ o: string }>>;
  out["(objects)"] = objects![0]!.o;
  return out;
}

export async function dropPgDatabase(name: string): Promise<void> {
  await pgExec([`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`]).catch(() => {});
}

export async function dropMariadbDatabase(name: string): Promise<void> {
  await mariadbExec([`DROP DATABASE IF EXISTS ${quoteIdent(name)}`]).catch(() => {});
}
