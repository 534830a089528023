import type pg from "pg";
import { quoteIdent } from "../db/connection.ts";
import { pgIdent, withMysql, withPg as withPgSession } from "../runner/dumpers/server-session.ts";
import type { ServerConnection } from "../runner/dumpers/types.ts";

/** Server sessions for restores: no query timeout (DDL and restores take as long as they take). */
export { withMysql };

/** A PostgreSQL session for restores, named sqlguard-restore in pg_stat_activity. */
export function withPg<T>(conn: ServerConnection, database: string | null, use: (c: pg.Client) => Promise<T>): Promise<T> {
  return withPgSession(conn, database, use, { applicationName: "sqlguard-restore" });
}

/** Whether the database exists on the server. */
export async function databaseExists(conn: ServerConnection, database: string): Promise<boolean> {
  if (conn.engine === "POSTGRESQL") {
    return withPg(conn, null, async (c) => (await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [database])).rowCount === 1);
  }
  return withMysql(
    conn,
    async (c) => ((await c.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", [database])) as unknown[]).length === 1,
  );
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
 * Ends the sessions named `applicationName` on `database` and waits (up to about 10 s) until they
 * are gone. A killed psql leaves its server session behind until the server next reads from it,
 * which a session waiting for a lock does not: it would keep its open transaction and its place in
 * the lock queue, blocking everyone else on those tables.
 */
export async function endSessions(conn: ServerConnection, database: string, applicationName: string): Promise<void> {
  await withPg(conn, null, async (c) => {
    const sql = "FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid()";
    for (let attempt = 0; attempt < 100; attempt++) {
      const { rowCount } = await c.query(`SELECT pg_terminate_backend(pid) ${sql}`, [database, applicationName]);
      if (!rowCount) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
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
    const create = ownerRole
      ? "CREATE SCHEMA public AUTHORIZATION pg_database_owner;\nGRANT USAGE ON SCHEMA public TO PUBLIC;\n"
      : "CREATE SCHEMA public;\nGRANT ALL ON SCHEMA public TO PUBLIC;\n";
    // The NOTICEs of every cascaded drop are noise in the restore's log.
    return `SET client_min_messages = warning;\n${drops}${create}`;
  });
}
