import { withMysql, withPg } from "./server-session.ts";
import type { ServerConnection } from "./types.ts";

/** An estimate is only worth a short wait. */
const QUERY = { queryTimeoutMs: 10_000 };

/**
 * The size of a database on its server, as an upper-bound guess of its artifact's size (a dump,
 * compressed, is rarely larger than the tables and indexes it comes from): MySQL / MariaDB sum
 * information_schema's data and index lengths (InnoDB's statistics, which may lag recent writes),
 * PostgreSQL answers pg_database_size. Null when the server cannot tell (privileges, a timeout);
 * never throws. A low guess costs nothing but larger parts later: S3 parts grow as the upload goes.
 */
export async function estimateDatabaseBytes(conn: ServerConnection, database: string): Promise<number | null> {
  try {
    const bytes =
      conn.engine === "POSTGRESQL"
        ? await withPg(conn, null, async (c) => (await c.query("SELECT pg_database_size($1)::text AS n", [database])).rows[0]?.n, QUERY)
        : await withMysql(
            conn,
            async (c) =>
              (
                (await c.query("SELECT CAST(COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) AS CHAR) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", [
                  database,
                ])) as Array<{ n: string }>
              )[0]?.n,
            QUERY,
          );
    const n = Number(bytes);
    return Number.isFinite(n) && n >= 0 ? n : null;
  } catch {
    return null;
  }
}
