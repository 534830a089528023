import mariadb, { type Connection as MysqlConn } from "mariadb";
import type pg from "pg";
import { classify } from "./connection-errors.ts";
import { retrievesPublicKey } from "../../process/server-connection.ts";
import type { ServerConnection } from "./types.ts";

const CONNECT_TIMEOUT_MS = 10_000;

/** `queryTimeoutMs`: how long one query may take (none by default: DDL and row counts can be slow). */
export type SessionOptions = { queryTimeoutMs?: number; applicationName?: string };

/**
 * Runs `use` on a MySQL/MariaDB connection with no database selected, then closes it. TLS is
 * encrypted but not verified, as the dump tools do with --ssl / --ssl-mode=REQUIRED; without TLS
 * the server's public key may be fetched as the dump tools do (see retrievesPublicKey). Every error
 * becomes a ServerConnectionError (never carrying the password).
 */
export async function withMysql<T>(conn: ServerConnection, use: (c: MysqlConn) => Promise<T>, options: SessionOptions = {}): Promise<T> {
  let c: MysqlConn;
  try {
    c = await mariadb.createConnection({
      host: conn.host,
      port: conn.port,
      user: conn.username,
      password: conn.password ?? undefined,
      ssl: conn.tls ? { rejectUnauthorized: false } : undefined,
      // MySQL 8 (caching_sha2_password) without TLS, when the server has no cached login for the
      // user (after a restart): encrypt the password with the key the server sends.
      allowPublicKeyRetrieval: retrievesPublicKey(conn),
      connectTimeout: CONNECT_TIMEOUT_MS,
      ...(options.queryTimeoutMs ? { socketTimeout: options.queryTimeoutMs } : {}),
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
 * else template1) when it is null, then closes it. Errors become ServerConnectionErrors.
 */
export async function withPg<T>(conn: ServerConnection, database: string | null, use: (c: pg.Client) => Promise<T>, options: SessionOptions = {}): Promise<T> {
  const candidates = database === null ? ["postgres", "template1"] : [database];
  // Loaded on first use: an instance that backs up no PostgreSQL server never loads the driver.
  const { default: driver } = await import("pg");
  for (const [i, name] of candidates.entries()) {
    const client = new driver.Client({
      host: conn.host,
      port: conn.port,
      user: conn.username,
      password: conn.password ?? undefined,
      database: name,
      ssl: conn.tls ? { rejectUnauthorized: false } : false,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      ...(options.queryTimeoutMs ? { query_timeout: options.queryTimeoutMs } : {}),
      application_name: options.applicationName ?? "sqlguard",
    });
    client.on("error", () => {}); // a dropped idle connection must not crash the process
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      // No such maintenance database, or no right to connect to it: try the next one.
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
  throw new Error("unreachable: the candidate list is never empty");
}

/** Quotes a PostgreSQL identifier for SQL sent over these sessions. */
export function pgIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Ends the server sessions of this account whose client port is one of `ports` (a killed dump's
 * TCP connections, see process/sockets.ts): a dump killed while its session waits for a lock
 * leaves that session waiting on the server, with its snapshot open, until the lock is granted.
 * An account may always end its own sessions (MySQL/MariaDB `KILL CONNECTION`, PostgreSQL
 * `pg_terminate_backend`). Returns how many were ended. Throws a ServerConnectionError.
 */
export async function endSessionsByClientPort(conn: ServerConnection, ports: number[]): Promise<number> {
  if (ports.length === 0) return 0;
  const options = { queryTimeoutMs: 10_000 };
  if (conn.engine === "POSTGRESQL") {
    return withPg(
      conn,
      null,
      async (c) => {
        const { rows } = await c.query<{ ended: boolean }>(
          `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
           WHERE client_port = ANY($1::int[]) AND usename = current_user AND pid <> pg_backend_pid()`,
          [ports],
        );
        return rows.filter((r) => r.ended).length;
      },
      options,
    );
  }
  return withMysql(
    conn,
    async (c) => {
      const rows = (await c.query("SELECT ID AS id, HOST AS host FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()", [
        conn.username,
      ])) as Array<{ id: number; host: string }>;
      let ended = 0;
      for (const row of rows.filter((r) => ports.includes(Number(/:(\d+)$/.exec(r.host ?? "")?.[1])))) {
        // Gone meanwhile (it noticed its client was killed) is as good as ended.
        await c.query(`KILL CONNECTION ${Number(row.id)}`).catch(() => {});
        ended++;
      }
      return ended;
    },
    options,
  );
}
