import type { PrismaClient } from "../db/client.ts";
import { quoteIdent } from "../db/connection.ts";
import { pgIdent, withMysql, withPg } from "./dumpers/server-session.ts";
import type { ServerConnection } from "./dumpers/types.ts";

/**
 * Marks the JSON of TableStats, so a format can be told apart. /1 (older backups) held row counts
 * taken before the dump, in another snapshot than the dump's; /2 holds none at dump time.
 */
export const TABLE_STATS_FORMAT = "sqlguard-table-stats/2";
const FORMATS = new Set(["sqlguard-table-stats/1", TABLE_STATS_FORMAT]);

/**
 * What a database held at one moment: every table (with its exact row count when counted), and
 * the names of its views, routines, triggers and events. Captured right before a dump whose
 * schedule runs restore drills, without counts: a drill takes the rows from the dump itself
 * (restore/dump-rows.ts), which are the rows of the dump's own snapshot; counts taken here, in
 * another snapshot, would differ on a busy database. The drill counts the restored copy.
 */
export type TableStats = {
  format: string;
  capturedAt: string;
  /** MySQL/MariaDB: the table name; PostgreSQL: `schema.table`. In name order. Rows null: not counted. */
  tables: Array<{ name: string; rows: number | null }>;
  /** `VIEW v`, `PROCEDURE p`, `FUNCTION public.f(integer)`, `TRIGGER t ON public.x`…, sorted. */
  objects: string[];
};

/** TableStats whose tables were counted. */
export type CountedStats = Omit<TableStats, "tables"> & { tables: Array<{ name: string; rows: number }> };

/**
 * Captures the table list and object names of a database and, with `countRows` (the default),
 * the exact row count of every table, all in one read-only snapshot transaction (InnoDB /
 * REPEATABLE READ), so the counts agree with each other; a COUNT(*) per table, so counting is for
 * a drill's scratch copy, not for a production source. Throws a ServerConnectionError.
 */
export async function captureTableStats(conn: ServerConnection, database: string): Promise<CountedStats>;
export async function captureTableStats(conn: ServerConnection, database: string, options: { countRows: false }): Promise<TableStats>;
export async function captureTableStats(conn: ServerConnection, database: string, options: { countRows?: boolean } = {}): Promise<TableStats> {
  const capturedAt = new Date().toISOString();
  const count = options.countRows ?? true;
  const { tables, objects } = conn.engine === "POSTGRESQL" ? await capturePg(conn, database, count) : await captureMysql(conn, database, count);
  return { format: TABLE_STATS_FORMAT, capturedAt, tables: tables.sort((a, b) => cmp(a.name, b.name)), objects: objects.sort(cmp) };
}

/** Stores stats on the backup record (Backup.tableStats). */
export async function saveTableStats(prisma: PrismaClient, backupId: number, stats: TableStats): Promise<void> {
  await prisma.backup.update({ where: { id: backupId }, data: { tableStats: stats } });
}

/** The stats in a JSON column or a manifest, or null when absent or not in this format. */
export function parseTableStats(value: unknown): TableStats | null {
  const v = value as Partial<TableStats> | null;
  if (!v || !FORMATS.has(v.format ?? "") || !Array.isArray(v.tables) || !Array.isArray(v.objects)) return null;
  if (!v.tables.every((t) => typeof t?.name === "string" && (t.rows === null || Number.isInteger(t.rows)))) return null;
  return v as TableStats;
}

type Captured = { tables: TableStats["tables"]; objects: string[] };

async function captureMysql(conn: ServerConnection, database: string, countRows: boolean): Promise<Captured> {
  return withMysql(conn, async (c) => {
    await c.query("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    await c.query("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
    try {
      const rows = (await c.query("SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", [database])) as Array<{
        name: string;
        type: string;
      }>;
      const tables: Captured["tables"] = [];
      for (const { name } of rows.filter((r) => r.type === "BASE TABLE" || r.type === "SYSTEM VERSIONED")) {
        if (!countRows) {
          tables.push({ name, rows: null });
          continue;
        }
        const [count] = (await c.query(`SELECT COUNT(*) AS n FROM ${quoteIdent(database)}.${quoteIdent(name)}`)) as Array<{ n: number }>;
        tables.push({ name, rows: Number(count?.n ?? 0) });
      }
      const names = async (sql: string) => ((await c.query(sql, [database])) as Array<{ o: string }>).map((r) => r.o);
      const objects = [
        ...rows.filter((r) => r.type === "VIEW" || r.type === "SEQUENCE").map((r) => `${r.type} ${r.name}`),
        ...(await names("SELECT CONCAT(ROUTINE_TYPE, ' ', ROUTINE_NAME) AS o FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?")),
        ...(await names("SELECT CONCAT('TRIGGER ', TRIGGER_NAME, ' ON ', EVENT_OBJECT_TABLE) AS o FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?")),
        ...(await names("SELECT CONCAT('EVENT ', EVENT_NAME) AS o FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?")),
      ];
      return { tables, objects };
    } finally {
      await c.query("COMMIT").catch(() => {});
    }
  });
}

const PG_USER_OBJECTS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;
/** Objects that belong to an extension come with CREATE EXTENSION, not with the dump. */
const NOT_EXTENSION = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

type PgClient = Parameters<Parameters<typeof withPg>[2]>[0];

/** The user relations of the database `c` is connected to (tables, partitioned tables, views, materialized views). */
async function pgRelations(c: PgClient) {
  const { rows } = await c.query<{ schema: string; name: string; kind: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm') AND ${PG_USER_OBJECTS} AND ${NOT_EXTENSION("pg_class", "c.oid")}`,
  );
  return rows;
}

/** `count(*)` of every user table (`schema.table`) in the snapshot of `c`'s transaction (the caller opens it). */
export async function pgTableCounts(c: PgClient): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of (await pgRelations(c)).filter((x) => x.kind === "r")) {
    const count = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${pgIdent(r.schema)}.${pgIdent(r.name)}`);
    out[`${r.schema}.${r.name}`] = Number(count.rows[0]?.n ?? 0);
  }
  return out;
}

async function capturePg(conn: ServerConnection, database: string, countRows: boolean): Promise<Captured> {
  return withPg(conn, database, async (c) => {
    await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      const rows = await pgRelations(c);
      const tables: Captured["tables"] = [];
      if (countRows) for (const [name, n] of Object.entries(await pgTableCounts(c))) tables.push({ name, rows: n });
      else for (const r of rows.filter((x) => x.kind === "r")) tables.push({ name: `${r.schema}.${r.name}`, rows: null });
      const kinds: Record<string, string> = { p: "PARTITIONED TABLE", v: "VIEW", m: "MATERIALIZED VIEW" };
      const functions = await c.query<{ o: string }>(
        `SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS o
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${PG_USER_OBJECTS} AND ${NOT_EXTENSION("pg_proc", "p.oid")}`,
      );
      const triggers = await c.query<{ o: string }>(
        `SELECT 'TRIGGER ' || t.tgname || ' ON ' || n.nspname || '.' || c.relname AS o FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND ${PG_USER_OBJECTS}`,
      );
      const objects = [
        ...rows.filter((r) => kinds[r.kind]).map((r) => `${kinds[r.kind]} ${r.schema}.${r.name}`),
        ...functions.rows.map((r) => r.o),
        ...triggers.rows.map((r) => r.o),
      ];
      return { tables, objects };
    } finally {
      await c.query("COMMIT").catch(() => {});
    }
  });
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
