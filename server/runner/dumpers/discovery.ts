import type { Connection as MysqlConn } from "mariadb";
import type pg from "pg";
import { withMysql, withPg } from "./server-session.ts";
export { classify, ServerConnectionError, type ConnectionErrorKind } from "./connection-errors.ts";
import type { DumpProfile, ReplicationPosition, ServerConnection, ServerInspection } from "./types.ts";

/** Inspection queries are quick; a server that does not answer in 30 s is treated as down. */
const QUERY = { queryTimeoutMs: 30_000 };
/** MySQL / MariaDB schemas that hold the server's own data, never backed up as databases. */
const MYSQL_SYSTEM = new Set(["information_schema", "performance_schema", "mysql", "sys"]);

/**
 * Connects to the server, reads its version, lists its non-system databases in name order and
 * warns about missing privileges that would make a dump fail. On PostgreSQL every database that
 * accepts connections and is not a template is listed, `postgres` included: it is an ordinary
 * database that many installations keep their data in, and an exclude pattern drops it.
 * Throws a ServerConnectionError.
 */
export async function inspectServer(conn: ServerConnection): Promise<ServerInspection> {
  return conn.engine === "POSTGRESQL" ? withPg(conn, null, inspectPg, QUERY) : withMysql(conn, inspectMysql, QUERY);
}

/**
 * The binlog file and position and the GTID set (MySQL / MariaDB) or the WAL position
 * (PostgreSQL) now, for the manifest. Null when the server reports none (binary log off, a
 * standby, missing privilege) or cannot be reached; never throws.
 */
export async function replicationPosition(conn: ServerConnection): Promise<ReplicationPosition | null> {
  try {
    return await (conn.engine === "POSTGRESQL" ? withPg(conn, null, pgPosition, QUERY) : withMysql(conn, mysqlPosition, QUERY));
  } catch {
    return null;
  }
}

/**
 * What a dump of `database` with `profile` will leave out or not take consistently, found
 * before it starts: privileges it lacks (routines defined by other users are silently left out,
 * triggers and events cannot be read) and, under the single-transaction option, tables of an
 * engine without transactions (MyISAM, Aria…), which are read as they are at that moment. The
 * backup still runs; these become its warnings. Throws a ServerConnectionError.
 */
export async function dumpWarnings(conn: ServerConnection, database: string, profile: DumpProfile | null): Promise<string[]> {
  if (conn.engine === "POSTGRESQL") return []; // pg_dump fails instead of leaving something out
  return withMysql(conn, (c) => mysqlDumpWarnings(c, database, profile), QUERY);
}

// ---- MySQL / MariaDB ---------------------------------------------------------------------------

/** Engines whose tables a consistent snapshot covers (START TRANSACTION WITH CONSISTENT SNAPSHOT). */
const SNAPSHOT_ENGINES = new Set(["INNODB", "ROCKSDB"]);

async function mysqlDumpWarnings(c: MysqlConn, database: string, profile: DumpProfile | null): Promise<string[]> {
  const grants = (await column(c, "SHOW GRANTS")).map(String);
  const binlogOn = Number((await column(c, "SELECT @@log_bin"))[0]) === 1;
  const warnings = privilegeWarnings(grants, [database], binlogOn, profile);
  if (profile?.singleTransaction ?? true) {
    const rows = (await c.query(
      "SELECT TABLE_NAME AS name, ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
      [database],
    )) as Array<{ name: string; engine: string | null }>;
    const byEngine = new Map<string, string[]>();
    for (const { name, engine } of rows) {
      if (engine && SNAPSHOT_ENGINES.has(engine.toUpperCase())) continue;
      byEngine.set(engine ?? "unknown", [...(byEngine.get(engine ?? "unknown") ?? []), name]);
    }
    for (const [engine, tables] of byEngine) {
      warnings.push(
        `${engine} tables have no transactions, so the single-transaction snapshot does not cover ${nameList(tables)}: each is dumped as it is when the dump reaches it`,
      );
    }
  }
  return warnings;
}

async function column(c: MysqlConn, sql: string): Promise<unknown[]> {
  const rows = (await c.query({ sql, rowsAsArray: true })) as unknown[][];
  return rows.map((r) => r[0]);
}

async function inspectMysql(c: MysqlConn): Promise<ServerInspection> {
  const version = String((await column(c, "SELECT VERSION()"))[0] ?? "");
  const databases = (await column(c, "SHOW DATABASES"))
    .map(String)
    // "#mysql50#…" are stray directories in the data directory (lost+found), not databases.
    .filter((name) => !MYSQL_SYSTEM.has(name) && !name.startsWith("#mysql50#"))
    .sort();
  const grants = (await column(c, "SHOW GRANTS")).map(String);
  const binlogOn = Number((await column(c, "SELECT @@log_bin"))[0]) === 1;
  return { version, databases, warnings: privilegeWarnings(grants, databases, binlogOn) };
}

async function mysqlPosition(c: MysqlConn): Promise<ReplicationPosition | null> {
  const position: ReplicationPosition = {};
  // MySQL 8.4 renamed SHOW MASTER STATUS; MariaDB and older MySQL only know the old name.
  const status = await c
    .query("SHOW MASTER STATUS")
    .catch(() => c.query("SHOW BINARY LOG STATUS"))
    .catch(() => []);
  const row = (status as Record<string, unknown>[])[0];
  if (row?.File) {
    position.binlogFile = String(row.File);
    position.binlogPosition = Number(row.Position);
  }
  if (typeof row?.Executed_Gtid_Set === "string" && row.Executed_Gtid_Set.trim()) position.gtidSet = row.Executed_Gtid_Set.replace(/\s+/g, "");
  const mariadbGtid = await column(c, "SELECT @@gtid_current_pos").catch(() => []); // MariaDB only
  if (typeof mariadbGtid[0] === "string" && mariadbGtid[0]) position.gtidSet = mariadbGtid[0];
  return Object.keys(position).length ? position : null;
}

/**
 * Database-level privileges a dump of each database needs, with what fails without them, and
 * whether a profile needs it at all (a profile without triggers does not need TRIGGER).
 */
const NEEDED: [privilege: string, consequence: string, needed: (p: DumpProfile | null) => boolean][] = [
  ["SELECT", "its tables cannot be dumped", () => true],
  ["SHOW VIEW", "its views cannot be dumped", () => true],
  ["TRIGGER", "its triggers cannot be dumped (or turn triggers off in the dump options)", (p) => p?.triggers ?? true],
  ["EVENT", "its events cannot be dumped (or turn events off in the dump options)", (p) => p?.events ?? true],
  ["LOCK TABLES", "dumps without the single-transaction option will fail", (p) => !(p?.singleTransaction ?? true)],
];
const POSITION_PRIVILEGES = ["REPLICATION CLIENT", "BINLOG MONITOR", "SUPER"];
const ROUTINE_PRIVILEGES = ["SELECT", "SHOW_ROUTINE", "SHOW CREATE ROUTINE"];

/**
 * A heuristic over SHOW GRANTS: global and database-level (wildcards included) grants are
 * matched against each database; table and column grants and roles are not followed, so an
 * account that works through roles gets no warning rather than a wrong one. With a `profile`,
 * only what a dump with that profile needs (no TRIGGER warning when triggers are off).
 */
export function privilegeWarnings(grants: string[], databases: string[], binlogOn: boolean, profile?: DumpProfile | null): string[] {
  if (grants.some((g) => !/ ON /.test(g))) return []; // roles granted: privileges we cannot see
  const global = new Set<string>();
  const perDatabase: { pattern: RegExp; privileges: Set<string> }[] = [];
  for (const grant of grants) {
    const m = /^GRANT (.+?) ON (\*|`(?:[^`]|``)+`)\.\* TO /.exec(grant);
    if (!m) continue; // table, column and routine grants
    const privileges = new Set(
      m[1]!
        .replace(/\([^)]*\)/g, "")
        .split(",")
        .map((p) => p.trim().toUpperCase()),
    );
    if (privileges.has("ALL PRIVILEGES") || privileges.has("ALL")) privileges.add("*");
    if (m[2] === "*") for (const p of privileges) global.add(p);
    else perDatabase.push({ pattern: grantPattern(m[2]!.slice(1, -1).replace(/``/g, "`")), privileges });
  }
  if (global.has("*")) return [];

  const warnings: string[] = [];
  for (const [privilege, consequence, needed] of NEEDED) {
    if (global.has(privilege) || (profile !== undefined && !needed(profile))) continue;
    const lacking = databases.filter((db) => !perDatabase.some((g) => g.pattern.test(db) && (g.privileges.has(privilege) || g.privileges.has("*"))));
    if (lacking.length) warnings.push(`the user lacks ${privilege} on ${nameList(lacking)}: ${consequence}`);
  }
  // Routines the user did not define are left out of the dump without an error unless it can read
  // every routine's body: global SELECT, SELECT on mysql.proc, or SHOW_ROUTINE / SHOW CREATE ROUTINE.
  const readsRoutines = ROUTINE_PRIVILEGES.some((p) => global.has(p)) || grants.some((g) => /^GRANT (?:[^`]*, )?SELECT\b.* ON `mysql`\.`proc` TO /.test(g));
  if (databases.length && !readsRoutines && (profile?.routines ?? true)) {
    warnings.push(
      "the user lacks global SELECT (or SELECT on mysql.proc, or SHOW_ROUTINE on MySQL 8): routines defined by other users are silently left out (or turn routines off in the dump options)",
    );
  }
  if (binlogOn && !POSITION_PRIVILEGES.some((p) => global.has(p))) {
    warnings.push("the user lacks REPLICATION CLIENT (BINLOG MONITOR on MariaDB): the binlog position will not be recorded");
  }
  return warnings;
}

/** A grant's database name as a RegExp: `%` and `_` are wildcards unless escaped with `\`. */
function grantPattern(name: string): RegExp {
  let out = "";
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (c === "\\" && i + 1 < name.length) out += escapeRegExp(name[++i]!);
    else if (c === "%") out += ".*";
    else if (c === "_") out += ".";
    else out += escapeRegExp(c);
  }
  return new RegExp(`^${out}$`, "su");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function nameList(names: string[]): string {
  const shown = names.slice(0, 5).map((n) => JSON.stringify(n));
  return names.length > 5 ? `${shown.join(", ")} and ${names.length - 5} more` : shown.join(", ");
}

// ---- PostgreSQL --------------------------------------------------------------------------------

async function inspectPg(c: pg.Client): Promise<ServerInspection> {
  const version = String((await c.query<{ server_version: string }>("SHOW server_version")).rows[0]?.server_version ?? "");
  const { rows } = await c.query<{ datname: string; can_connect: boolean }>(
    "SELECT datname, has_database_privilege(oid, 'CONNECT') AS can_connect FROM pg_database WHERE datallowconn AND NOT datistemplate",
  );
  const databases = rows.map((r) => r.datname).sort();
  const closed = rows
    .filter((r) => !r.can_connect)
    .map((r) => r.datname)
    .sort();
  const warnings = closed.length ? [`the user lacks CONNECT on ${nameList(closed)}: they cannot be dumped`] : [];
  return { version, databases, warnings };
}

async function pgPosition(c: pg.Client): Promise<ReplicationPosition | null> {
  // A standby has no current WAL insert position of its own.
  const { rows } = await c.query<{ lsn: string | null }>("SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS lsn");
  const lsn = rows[0]?.lsn;
  return lsn ? { lsn } : null;
}
