import type { PrismaClient } from "../db/client.ts";
import { quoteIdent } from "../db/connection.ts";
import { pgIdent, withMysql, withPg } from "./dumpers/server-session.ts";
import type { ServerConnection } from "./dumpers/types.ts";

/** Marks the JSON of TableStats, so a future format can be told apart. */
export const TABLE_STATS_FORMAT = "sqlguard-table-stats/1";

/**
 * What a database held at one moment: every table with its exact row count (one consistent
 * snapshot), and the names of its views, routines, triggers and events. Restore drills compare a
 * restored database with the stats captured right before its dump.
 */
export type TableStats = {
  format: typeof TABLE_STATS_FORMAT;
  capturedAt: string;
  /** MySQL/MariaDB: the table name; PostgreSQL: `schema.table`. In name order. */
  tables: Array<{ name: string; rows: number }>;
  /** `VIEW v`, `PROCEDURE p`, `FUNCTION public.f(integer)`, `TRIGGER t ON public.x`…, sorted. */
  objects: string[];
};

/**
 * Captures the table list, exact row counts and object names of a database, all in one read-only
 * snapshot transaction (InnoDB / REPEATABLE READ), so the counts agree with each other. Costs one
 * COUNT(*) per table. Call it right before the dump starts. Throws a ServerConnectionError.
 */
export async function captureTableStats(conn: ServerConnection, database: string): Promise<TableStats> {
  const capturedAt = new Date().toISOString();
  const { tables, objects } = conn.engine === "POSTGRESQL" ? await capturePg(conn, database) : await captureMysql(conn, database);
  return { format: TABLE_STATS_FORMAT, capturedAt, tables: tables.sort((a, b) => cmp(a.name, b.name)), objects: objects.sort(cmp) };
}

/** Stores stats on the backup record (Backup.tableStats). */
export async function saveTableStats(prisma: PrismaClient, backupId: number, stats: TableStats): Promise<void> {
  await prisma.backup.update({ where: { id: backupId }, data: { tableStats: stats } });
}

/** The stats in a JSON column or a manifest, or null when absent or not in this format. */
export function parseTableStats(value: unknown): TableStats | null {
  const v = value as Partial<TableStats> | null;
  if (!v || v.format !== TABLE_STATS_FORMAT || !Array.isArray(v.tables) || !Array.isArray(v.objects)) return null;
  if (!v.tables.every((t) => typeof t?.name === "string" && Number.isInteger(t.rows))) return null;
  return v as TableStats;
}

type Captured = { tables: TableStats["tables"]; objects: string[] };

async function captureMysql(conn: ServerConnection, database: string): Promise<Captured> {
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

async function capturePg(conn: ServerConnection, database: string): Promise<Captured> {
  return withPg(conn, database, async (c) => {
    await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      const { rows } = await c.query<{ schema: string; name: string; kind: string }>(
        `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm') AND ${PG_USER_OBJECTS} AND ${NOT_EXTENSION("pg_class", "c.oid")}`,
      );
      const tables: Captured["tables"] = [];
      for (const r of rows.filter((x) => x.kind === "r")) {
        const count = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${pgIdent(r.schema)}.${pgIdent(r.name)}`);
        tables.push({ name: `${r.schema}.${r.name}`, rows: Number(count.rows[0]?.n ?? 0) });
      }
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
