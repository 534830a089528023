import type { Connection as MysqlConn } from "mariadb";
import { quoteIdent } from "../db/connection.ts";

/** Objects that belong to a MySQL/MariaDB database rather than to one of its tables' data. */
export type ObjectKind = "PROCEDURE" | "FUNCTION" | "PACKAGE" | "PACKAGE BODY" | "VIEW" | "TRIGGER" | "EVENT";

/** One object's definition as SHOW CREATE gives it, with the session settings it was created under. */
export type MysqlDefinition = {
  kind: ObjectKind;
  name: string;
  sql: string;
  sqlMode: string | null;
  charset: string | null;
  collation: string | null;
  timeZone: string | null;
};

/** What a database holds, by name. */
export type DatabaseObjects = {
  /** Base tables, sequences and system-versioned tables: what RENAME TABLE can move between databases. */
  tables: string[];
  views: string[];
  triggers: string[];
  routines: Array<{ kind: ObjectKind; name: string }>;
  events: string[];
};

type Row = Record<string, unknown>;
const ROUTINE_KINDS = new Set<string>(["PROCEDURE", "FUNCTION", "PACKAGE", "PACKAGE BODY"]);

/** Lists a database's tables, views, triggers, routines and events. */
export async function listObjects(c: MysqlConn, database: string): Promise<DatabaseObjects> {
  const tables = (await c.query("SELECT TABLE_NAME AS n, TABLE_TYPE AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", [
    database,
  ])) as Array<{ n: string; t: string }>;
  const triggers = (await c.query("SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME", [
    database,
  ])) as Array<{ n: string }>;
  const routines = (await c.query(
    "SELECT ROUTINE_TYPE AS k, ROUTINE_NAME AS n FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_TYPE, ROUTINE_NAME",
    [database],
  )) as Array<{ k: string; n: string }>;
  const events = (await c.query("SELECT EVENT_NAME AS n FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME", [database])) as Array<{
    n: string;
  }>;
  return {
    tables: tables.filter((r) => r.t !== "VIEW").map((r) => r.n),
    views: tables.filter((r) => r.t === "VIEW").map((r) => r.n),
    triggers: triggers.map((r) => r.n),
    routines: routines.filter((r) => ROUTINE_KINDS.has(r.k)).map((r) => ({ kind: r.k as ObjectKind, name: r.n })),
    events: events.map((r) => r.n),
  };
}

/**
 * The definitions of a database's routines, views, triggers and events, in the order they can be
 * created again (routines first: views may call functions; triggers per table in their action
 * order). Reads them with the database selected, so names inside it stay unqualified and the
 * definitions fit any database. Throws when one cannot be read (e.g. a missing privilege).
 */
export async function readDefinitions(c: MysqlConn, database: string): Promise<MysqlDefinition[]> {
  await c.query(`USE ${quoteIdent(database)}`);
  const objects = await listObjects(c, database);
  const ordered = (await c.query(
    "SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER",
    [database],
  )) as Array<{ n: string }>;
  const defs: MysqlDefinition[] = [];
  // A package body needs its package.
  const routines = [...objects.routines].sort((a, b) => Number(a.kind === "PACKAGE BODY") - Number(b.kind === "PACKAGE BODY"));
  for (const r of routines) defs.push(await showCreate(c, r.kind, r.name));
  for (const v of objects.views) defs.push(await showCreate(c, "VIEW", v));
  for (const t of ordered) defs.push(await showCreate(c, "TRIGGER", t.n));
  for (const e of objects.events) defs.push(await showCreate(c, "EVENT", e));
  return defs;
}

async function showCreate(c: MysqlConn, kind: ObjectKind, name: string): Promise<MysqlDefinition> {
  const [row] = (await c.query(`SHOW CREATE ${kind} ${quoteIdent(name)}`)) as Row[];
  const key = row ? Object.keys(row).find((k) => k.startsWith("Create ") || k === "SQL Original Statement") : undefined;
  const sql = key ? row![key] : null;
  if (typeof sql !== "string" || sql === "")
    throw new Error(`cannot read the definition of ${kind.toLowerCase()} ${quoteIdent(name)} (the user may lack a privilege to see it)`);
  const text = (k: string) => (typeof row![k] === "string" ? (row![k] as string) : null);
  return {
    kind,
    name,
    sql,
    sqlMode: text("sql_mode"),
    charset: text("character_set_client"),
    collation: text("collation_connection"),
    timeZone: text("time_zone"),
  };
}

/**
 * Creates the definitions in the session's current database, each under the settings it was
 * created with. Views that use views not created yet are tried again after the others. Throws
 * naming the object that could not be created.
 */
export async function createDefinitions(c: MysqlConn, defs: MysqlDefinition[]): Promise<void> {
  const [saved] = (await c.query(
    "SELECT @@SESSION.sql_mode AS mode, @@SESSION.time_zone AS tz, @@SESSION.character_set_client AS cs, @@SESSION.collation_connection AS co",
  )) as Array<{ mode: string; tz: string; cs: string; co: string }>;
  const restore = () =>
    c.query("SET SESSION sql_mode = ?, time_zone = ?, character_set_client = ?, collation_connection = ?", [saved!.mode, saved!.tz, saved!.cs, saved!.co]);
  const create = async (def: MysqlDefinition) => {
    try {
      await c.query("SET SESSION sql_mode = ?, time_zone = ?", [def.sqlMode ?? saved!.mode, def.timeZone ?? saved!.tz]);
      // The connector sends UTF-8: another client character set is safe only for an ASCII definition.
      if (def.charset && def.collation && (/^utf8/i.test(def.charset) || isAscii(def.sql)))
        await c.query("SET SESSION character_set_client = ?, collation_connection = ?", [def.charset, def.collation]);
      await c.query(def.sql);
    } finally {
      await restore();
    }
  };
  const views = defs.filter((d) => d.kind === "VIEW");
  for (const def of defs.filter((d) => ROUTINE_KINDS.has(d.kind))) await createNamed(def, create);
  let pending = views;
  while (pending.length) {
    const failed: Array<{ def: MysqlDefinition; error: unknown }> = [];
    for (const def of pending) await create(def).catch((error: unknown) => failed.push({ def, error }));
    if (failed.length === pending.length) throw objectError(failed[0]!.def, failed[0]!.error);
    pending = failed.map((f) => f.def);
  }
  for (const def of defs.filter((d) => d.kind === "TRIGGER" || d.kind === "EVENT")) await createNamed(def, create);
}

async function createNamed(def: MysqlDefinition, create: (def: MysqlDefinition) => Promise<void>): Promise<void> {
  await create(def).catch((error: unknown) => {
    throw objectError(def, error);
  });
}

function objectError(def: MysqlDefinition, error: unknown): Error {
  const message = (error as { text?: string }).text ?? (error as Error).message;
  return new Error(`creating ${def.kind.toLowerCase()} ${quoteIdent(def.name)} failed: ${message}`, { cause: error });
}

/** DROP statements for a database's triggers, routines and events (not its tables or views). */
export function dropStatements(database: string, objects: Pick<DatabaseObjects, "triggers" | "routines" | "events">): string[] {
  const db = quoteIdent(database);
  // A package goes after its body.
  const routines = [...objects.routines].sort((a, b) => Number(a.kind === "PACKAGE") - Number(b.kind === "PACKAGE"));
  return [
    ...objects.triggers.map((t) => `DROP TRIGGER IF EXISTS ${db}.${quoteIdent(t)}`),
    ...routines.map((r) => `DROP ${r.kind} IF EXISTS ${db}.${quoteIdent(r.name)}`),
    ...objects.events.map((e) => `DROP EVENT IF EXISTS ${db}.${quoteIdent(e)}`),
  ];
}

function isAscii(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text);
}
