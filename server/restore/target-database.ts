import mariadb, { type Connection as MysqlConn } from "mariadb";
import pg from "pg";
import { quoteIdent } from "../db/connection.ts";
import { classify } from "../runner/dumpers/discovery.ts";
import type { ServerConnection } from "../runner/dumpers/types.ts";

const CONNECT_TIMEOUT_MS = 10_000;

/** Runs `use` on a MySQL/MariaDB connection (no database selected). Throws a ServerConnectionError. */
export async function withMysql<T>(conn: ServerConnection, use: (c: MysqlConn) => Promise<T>): Promise<T> {
  let c: MysqlConn;
  try {
    c = await mariadb.createConnection({
      host: conn.host,
      port: conn.port,
      user: conn.username,
      password: conn.password ?? undefined,
      ssl: conn.tls ? { rejectUnauthorized: false } : undefined,
      connectTimeout: CONNECT_TIMEOUT_MS,
      bigIntAsNumber: true,
    });
  } catch (error) {
    throw classify(error, conn);
  }
  try {
    return await use(c);
  } catch (error) {
    throw classify(error, conn);
  } finally {
    await c.end().catch(() => c.destroy());
  }
}

/**
 * Runs `use` on a PostgreSQL connection to `database`, or to the maintenance database (postgres,
 * else template1) when it is null. Throws a ServerConnectionError.
 */
export async function withPg<T>(conn: ServerConnection, database: string | null, use: (c: pg.Client) => Promise<T>): Promise<T> {
  const candidates = database === null ? ["postgres", "template1"] : [database];
  for (const [i, name] of candidates.entries()) {
    const client = new pg.Client({
      host: conn.host,
      port: conn.port,
      user: conn.username,
      password: conn.password ?? undefined,
      database: name,
      ssl: conn.tls ? { rejectUnauthorized: false } : false,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      application_name: "sqlguard-restore",
    });
    client.on("error", () => {}); // a dropped idle connection must not crash the process
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      if (i < candidates.length - 1 && ["3D000", "42501"].includes((error as { code?: string }).code ?? "")) continue;
      throw classify(error, conn);
    }
    try {
      return await use(client);
    } catch (error) {
      throw classify(error, conn);
    } finally {
      await client.end().catch(() => {});
    }
  }
  throw new Error("unreachable");
}

/** Quotes a PostgreSQL identifier. */
export function pgIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Whether the database exists on the server. */
export async function databaseExists(conn: ServerConnection, database: string): Promise<boolean> {
  if (conn.engine === "POSTGRESQL") {
    return withPg(conn, null, async (c) => (await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [database])).rowCount === 1);
  }
  return withMysql(conn, async (c) => ((await c.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", [database])) as unknown[]).length === 1);
}

/** Creates an empty database (PostgreSQL: from template0, so nothing of template1 gets in the way). */
export async function createDatabase(conn: ServerConnection, database: string): Promise<void> {
  if (conn.engine === "POSTGRESQL") {
    await withPg(conn, null, (c) => c.query(`CREATE DATABASE ${pgIdent(database)} TEMPLATE template0`));
    return;
  }
  await withMysql(conn, (c) => c.query(`CREATE DATABASE ${quoteIdent(database)} CHARACTER SET utf8mb4`));
}

/** Drops a database if it exists (PostgreSQL 13+: closing other sessions on it first). */
export async function dropDatabase(conn: ServerConnection, database: string): Promise<void> {
  if (conn.engine === "POSTGRESQL") {
    await withPg(conn, null, async (c) => {
      const version = Number((await c.query<{ v: string }>("SHOW server_version_num")).rows[0]?.v ?? 0);
      await c.query(`DROP DATABASE IF EXISTS ${pgIdent(database)}${version >= 130000 ? " WITH (FORCE)" : ""}`);
    });
    return;
  }
  await withMysql(conn, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)}`));
}

/**
 * MySQL/MariaDB overwrite: drops the database and creates it again empty, with its former default
 * character set and collation (a dump without CREATE DATABASE does not carry them).
 */
export async function recreateMysqlDatabase(conn: ServerConnection, database: string): Promise<void> {
  await withMysql(conn, async (c) => {
    const rows = (await c.query("SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", [database])) as Array<{ cs: string; co: string }>;
    const charset = rows[0] ? ` CHARACTER SET ${rows[0].cs} COLLATE ${rows[0].co}` : " CHARACTER SET utf8mb4";
    await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)}`);
    await c.query(`CREATE DATABASE ${quoteIdent(database)}${charset}`);
  });
}

/**
 * PostgreSQL overwrite: SQL that empties the database inside the restore's own transaction (every
 * user schema dropped, an empty `public` created again), so a failed or unverified restore leaves
 * the old contents untouched.
 */
export async function pgOverwritePrelude(conn: ServerConnection, database: string): Promise<string> {
  return withPg(conn, database, async (c) => {
    const { rows } = await c.query<{ nspname: string }>(
      "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY nspname",
    );
    const ownerRole = (await c.query("SELECT 1 FROM pg_roles WHERE rolname = 'pg_database_owner'")).rowCount === 1;
    const drops = rows.map((r) => `DROP SCHEMA ${pgIdent(r.nspname)} CASCADE;\n`).join("");
    // As in a fresh database: owned by the database owner (PostgreSQL 14+), usable by everyone.
    const create = ownerRole ? "CREATE SCHEMA public AUTHORIZATION pg_database_owner;\nGRANT USAGE ON SCHEMA public TO PUBLIC;\n" : "CREATE SCHEMA public;\nGRANT ALL ON SCHEMA public TO PUBLIC;\n";
    // The NOTICEs of every cascaded drop are noise in the restore's log.
    return `SET client_min_messages = warning;\n${drops}${create}`;
  });
}
