import path from "node:path";
import { extraFlagProblem, MYSQL_EXTRA_FLAGS } from "../../catalog/dump-flags.ts";
import { compareVersions, versionNumbers } from "./tools.ts";
import { mysqlConnectionArgs } from "../../process/client-args.ts";
import type { BuildOptions, DumpCommand, DumpProfile, DumpTools, ServerConnection } from "./types.ts";

type MysqlTool = NonNullable<DumpTools["mysqlDump"]>;

/** The tool and record columns hold at most this much. */
const DESCRIPTION_MAX = 1024;

/**
 * The `mariadb-dump` / `mysqldump` command for one database: a plain dump of its tables, views
 * and (per profile) routines, triggers and events, without CREATE DATABASE or USE, so it restores
 * into a database of any name. The password travels only in `MYSQL_PWD`. Throws an Error when
 * the database name cannot be passed or an extra flag is not on the allow-list.
 */
export function buildMysqlDump(
  conn: ServerConnection,
  profile: DumpProfile | null,
  database: string,
  tools: DumpTools,
  serverVersion: string,
  build: BuildOptions = {},
): DumpCommand {
  const tool = tools.mysqlDump;
  if (!tool) throw new Error("neither mariadb-dump nor mysqldump is installed on this machine");
  checkDatabaseName(database);

  const extra = checkedExtraFlags(profile?.mysqlExtraFlags ?? []).map((f) => forTool(f, tool));
  // Point-in-time recovery replays the binlog from the snapshot's own position: the dump writes it
  // as a comment (=2), read from the stream. A profile's own --master-data/--source-data wins.
  const positionFlag = build.exactPosition && !extra.some((f) => /^--(master|source)-data/.test(f)) ? [forTool("--master-data=2", tool)] : [];
  const options = [...profileFlags(profile, tool, conn, serverVersion), ...positionFlag, ...extra];
  const args = [
    ...mysqlConnectionArgs(conn, tool.flavor),
    ...options,
    // Both tools stop reading options at "--" (my_getopt), and read options even after a
    // positional argument, so without it a database named "--host=x" would be an option.
    "--",
    database,
  ];
  const env: Record<string, string> = conn.password ? { MYSQL_PWD: conn.password } : {};
  const description = `${path.basename(tool.path)} ${shortVersion(tool)} ${options.join(" ")}`.trim();
  return {
    command: tool.path,
    args,
    env,
    description: description.length > DESCRIPTION_MAX ? `${description.slice(0, DESCRIPTION_MAX - 1)}…` : description,
    format: "sql",
    positionInStream: options.some((f) => /^--(master|source)-data=[12]$/.test(f)),
    cleanup: async () => {},
  };
}

/** Dump behaviour from the profile; a null profile means the schema defaults (all on). */
function profileFlags(profile: DumpProfile | null, tool: MysqlTool, conn: ServerConnection, serverVersion: string): string[] {
  const flags: string[] = [];
  // The tool defaults (--opt) already include --quick and --triggers; the others are off.
  if (profile?.singleTransaction ?? true) flags.push("--single-transaction");
  if (!(profile?.quick ?? true)) flags.push("--skip-quick");
  if (profile?.routines ?? true) flags.push("--routines");
  if (!(profile?.triggers ?? true)) flags.push("--skip-triggers");
  if (profile?.events ?? true) flags.push("--events");
  if (profile?.hexBlob ?? true) flags.push("--hex-blob");
  flags.push("--default-character-set=utf8mb4", "--max-allowed-packet=1G");
  // CREATE TABLESPACE statements only matter for NDB, and MySQL 8.0.21+ wants PROCESS to read them.
  flags.push("--no-tablespaces");

  const serverIsMariadb = serverVersion ? /mariadb/i.test(serverVersion) : conn.engine === "MARIADB";
  const serverMajor = versionNumbers(serverVersion)[0] ?? 0;
  const toolVersion = versionNumbers(tool.version);
  // On a GTID server Oracle's mysqldump writes SET @@GLOBAL.GTID_PURGED and SQL_LOG_BIN=0 by default
  // (AUTO). A dump of one database with them cannot be restored into the server it came from (its
  // GTIDs are executed there already: error 3546), and its restore is not replicated. OFF leaves
  // both out; the GTID set is in the manifest. MariaDB servers have no gtid_mode: always OFF there.
  if (tool.flavor === "mysql" && compareVersions(toolVersion, [5, 6, 9]) >= 0) {
    flags.push(`--set-gtid-purged=${serverIsMariadb ? "OFF" : (profile?.setGtidPurged ?? "OFF")}`);
  }
  // MySQL 8's mysqldump reads information_schema.COLUMN_STATISTICS by default, which MariaDB and
  // MySQL before 8.0 do not have: the dump would fail at once.
  const toolHasColumnStatistics = tool.flavor === "mysql" && (toolVersion[0] ?? 0) >= 8;
  const serverHasColumnStatistics = !serverIsMariadb && serverMajor >= 8;
  if (toolHasColumnStatistics && (!serverHasColumnStatistics || profile?.columnStatistics === false)) flags.push("--column-statistics=0");
  return flags;
}

/** A database name that argv can carry, after "--"; anything else is refused. */
function checkDatabaseName(database: string): void {
  if (database.length === 0) throw new Error("the database name is empty");
  if (database.includes("\0")) throw new Error("the database name contains a NUL character");
}

/**
 * The profile's extra flags, each re-checked against the allow-list (the profile was validated
 * when saved, but the list may have shrunk since). Throws naming the first refused flag.
 */
function checkedExtraFlags(value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((f): f is string => typeof f === "string")) {
    throw new Error("the profile's extra mysqldump flags are not a list of strings");
  }
  for (const flag of value) {
    // hasOwn first: the allow-list is a plain object, where `in` also finds "constructor"…
    const known = Object.hasOwn(MYSQL_EXTRA_FLAGS, flag.split("=", 1)[0]!);
    const problem = known ? extraFlagProblem(flag, "mysql") : "it is not an allowed mysqldump flag";
    if (problem) throw new Error(`extra flag ${JSON.stringify(flag)} refused: ${problem}`);
  }
  return value;
}

/**
 * One allowed extra flag as this tool spells it: Oracle's mysqldump calls --master-data
 * --source-data from 8.0.26 on (the old name is deprecated), MariaDB's mariadb-dump and older
 * mysqldumps know only --master-data.
 */
function forTool(flag: string, tool: MysqlTool): string {
  const [name, ...value] = flag.split("=");
  if (name !== "--master-data" && name !== "--source-data") return flag;
  const sourceData = tool.flavor === "mysql" && compareVersions(versionNumbers(tool.version), [8, 0, 26]) >= 0;
  return [sourceData ? "--source-data" : "--master-data", ...value].join("=");
}

/** "10.11.19-MariaDB" / "8.0.36": the distribution version from the --version line. */
function shortVersion(tool: MysqlTool): string {
  const distrib = /Distrib\s+([^\s,]+)/.exec(tool.version)?.[1];
  return distrib ?? /Ver\s+([^\s,]+)/.exec(tool.version)?.[1] ?? "";
}
