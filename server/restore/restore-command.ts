import path from "node:path";
import { mysqlConnectionArgs, pgClientEnv } from "../process/client-args.ts";
import type { ServerConnection } from "../runner/dumpers/types.ts";
import type { RestoreTools } from "./restore-tools.ts";
import { understandsSandboxLine } from "./sandbox-line.ts";

/** A ready-to-spawn program: argv without a shell, credentials only in `env`. */
export type ClientCommand = { command: string; args: string[]; env: Record<string, string>; description: string };

/** How one artifact is fed to a server. */
export type RestoreCommands = {
  /** `mariadb`/`mysql` or `psql`, reading SQL on stdin. */
  client: ClientCommand;
  /** `pg_restore --file=-` for custom-format archives: archive on stdin, SQL for psql on stdout. */
  converter: ClientCommand | null;
  /**
   * PostgreSQL: the stream is wrapped in BEGIN … COMMIT, and COMMIT is written only once the
   * checksum matched; psql that reaches the end of its input without it rolls everything back.
   */
  transactional: boolean;
  /**
   * Drop a MariaDB dump's sandbox first line before the client sees it: Oracle's mysql client
   * (and MariaDB clients older than May 2024) refuse it (see sandbox-line.ts).
   */
  stripSandboxLine: boolean;
};

/** MySQL and MariaDB identifiers hold at most 64 characters; PostgreSQL names 63 bytes. */
const MYSQL_NAME_CHARS = 64;
const PG_NAME_BYTES = 63;
const MYSQL_SYSTEM = new Set(["mysql", "information_schema", "performance_schema", "sys"]);
const PG_SYSTEM = new Set(["template0", "template1"]);

/** Why a database name cannot be restored into on this engine, or null when it can. */
export function databaseNameProblem(engine: ServerConnection["engine"], name: string): string | null {
  if (name.length === 0) return "must not be empty";
  if (name.includes("\0")) return "must not contain a NUL character";
  if (engine === "POSTGRESQL") {
    if (Buffer.byteLength(name) > PG_NAME_BYTES) return `must be at most ${PG_NAME_BYTES} bytes on PostgreSQL (longer names are silently cut)`;
    if (PG_SYSTEM.has(name)) return `${name} is a template database`;
    return null;
  }
  if ([...name].length > MYSQL_NAME_CHARS) return `must be at most ${MYSQL_NAME_CHARS} characters`;
  if (name.endsWith(" ")) return "must not end with a space";
  if (MYSQL_SYSTEM.has(name.toLowerCase())) return `${name} is a system database`;
  return null;
}

/** `<database>_restored_<UTC YYYYMMDD_HHMMSS>`, the source name shortened to fit the engine's limit. */
export function defaultRestoreName(engine: ServerConnection["engine"], source: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/\.\d{3}Z$/, "")
    .replace(/-|:/g, "")
    .replace("T", "_");
  const suffix = `_restored_${stamp}`;
  let base = [...source];
  const fits = (s: string) => (engine === "POSTGRESQL" ? Buffer.byteLength(s) <= PG_NAME_BYTES : [...s].length <= MYSQL_NAME_CHARS);
  while (base.length && !fits(base.join("") + suffix)) base = base.slice(0, -1);
  return base.join("").replace(/ +$/, "") + suffix;
}

/**
 * The client commands that restore into `database`. The database name is an argv element after
 * "--" for mariadb/mysql (so "--host=x" stays a name) and PGDATABASE for psql (never parsed as a
 * connection string); passwords travel only in MYSQL_PWD / PGPASSWORD. psql's session is named
 * `applicationName` in pg_stat_activity (default sqlguard-restore). Throws an Error naming the
 * missing program.
 */
export function buildRestoreCommands(
  conn: ServerConnection,
  database: string,
  format: "sql" | "pg-custom",
  tools: RestoreTools,
  options: { applicationName?: string } = {},
): RestoreCommands {
  if (conn.engine === "POSTGRESQL") {
    const psql = tools.psql;
    if (!psql) throw new Error("psql is not installed on this machine");
    const env = pgClientEnv(conn, database, options.applicationName ?? "sqlguard-restore");
    const args = ["--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=1", "--file=-"];
    const client = { command: psql.path, args, env, description: `${path.basename(psql.path)} ${args.join(" ")}` };
    if (format === "sql") return { client, converter: null, transactional: true, stripSandboxLine: false };
    const pgRestore = tools.pgRestore;
    if (!pgRestore) throw new Error("pg_restore is not installed on this machine");
    const convertArgs = ["--no-owner", "--file=-"];
    const converter = { command: pgRestore.path, args: convertArgs, env: {}, description: `${path.basename(pgRestore.path)} ${convertArgs.join(" ")}` };
    return { client, converter, transactional: true, stripSandboxLine: false };
  }
  const mysql = tools.mysql;
  if (!mysql) throw new Error("neither mariadb nor mysql (the client) is installed on this machine");
  if (format !== "sql") throw new Error("a pg_dump custom archive cannot be restored into MySQL or MariaDB");
  const args = [
    ...mysqlConnectionArgs(conn, mysql.flavor),
    // Client commands such as \! (a shell) in a dump are never run; data passes unchanged.
    "--binary-mode",
    "--default-character-set=utf8mb4",
    "--max-allowed-packet=1G",
    "--",
    database,
  ];
  const env: Record<string, string> = conn.password ? { MYSQL_PWD: conn.password } : {};
  const description = `${path.basename(mysql.path)} ${args.slice(4, -2).join(" ")}`;
  return { client: { command: mysql.path, args, env, description }, converter: null, transactional: false, stripSandboxLine: !understandsSandboxLine(mysql) };
}
