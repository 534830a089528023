import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pgClientEnv } from "../../process/client-args.ts";
import { extraFlagProblem, PG_EXTRA_FLAGS } from "../../catalog/dump-flags.ts";
import { versionNumbers } from "./tools.ts";
import type { DumpCommand, DumpProfile, DumpTools, ServerConnection } from "./types.ts";

/** At most this many threads by default: past it a 2-8 core SQLGuard host gains nothing and the server loses more. */
const DEFAULT_MAX_THREADS = 8;

/** The profile's thread count, or this host's cores (at most 8). */
export function parallelThreads(profile: Pick<DumpProfile, "threads"> | null): number {
  return profile?.threads ?? Math.max(1, Math.min(DEFAULT_MAX_THREADS, os.availableParallelism()));
}

/**
 * A MySQL option file holding the connection and the password, for mydumper / myloader (which
 * read `--defaults-file`; a password in argv would show in `ps`). Values are double-quoted with
 * `\` and `"` escaped, so any password round-trips.
 */
export function mysqlDefaultsFile(conn: ServerConnection): string {
  const quote = (v: string) => `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
  const lines = ["[client]", `host=${quote(conn.host)}`, `port=${conn.port}`, `user=${quote(conn.username)}`, "protocol=TCP"];
  if (conn.password) lines.push(`password=${quote(conn.password)}`);
  return `${lines.join("\n")}\n`;
}

/** Writes the option file with mode 0600 (created exclusively: never an existing file); returns its path. */
export async function writeDefaultsFile(dir: string, conn: ServerConnection): Promise<string> {
  const file = path.join(dir, "client.cnf");
  await fs.writeFile(file, mysqlDefaultsFile(conn), { mode: 0o600, flag: "wx" });
  return file;
}

/**
 * The PARALLEL dump of one database into `<spool>/dump`: mydumper for MySQL/MariaDB (credentials
 * in a 0600 option file in the spool, removed by `cleanup`), `pg_dump --format=directory --jobs=N`
 * for PostgreSQL (password in libpq's environment). The spool directory must exist and be empty.
 * Throws an Error when the program is missing or a flag is refused.
 *
 * mydumper runs in its default consistency mode: FLUSH TABLES WITH READ LOCK while every thread
 * opens its consistent snapshot (and while non-InnoDB tables are dumped), then UNLOCK TABLES; not
 * `--trx-consistency-only`, whose snapshots are consistent only when nothing writes meanwhile.
 */
export async function buildParallelDump(
  conn: ServerConnection,
  profile: DumpProfile | null,
  database: string,
  tools: DumpTools,
  serverVersion: string,
  spool: string,
): Promise<DumpCommand> {
  if (database.length === 0) throw new Error("the database name is empty");
  if (database.includes("\0")) throw new Error("the database name contains a NUL character");
  const outputDir = path.join(spool, "dump");
  const threads = parallelThreads(profile);
  if (conn.engine === "POSTGRESQL") return pgDirectoryDump(conn, profile, database, tools, serverVersion, outputDir, threads);
  const tool = tools.mydumper;
  if (!tool) throw new Error("mydumper is not installed on this machine (the PARALLEL engine for MySQL/MariaDB needs it: apt-get install mydumper)");
  const options = [
    `--threads=${threads}`,
    ...(profile?.chunkRows ? [`--rows=${profile.chunkRows}`] : []),
    ...((profile?.routines ?? true) ? ["--routines"] : []),
    ...((profile?.triggers ?? true) ? ["--triggers"] : []),
    ...((profile?.events ?? true) ? ["--events"] : []),
    ...(conn.tls ? ["--ssl"] : []),
    "--verbose=2",
  ];
  const defaultsFile = await writeDefaultsFile(spool, conn);
  return {
    // --defaults-file first, as the MySQL option parser wants it.
    command: tool.path,
    args: [`--defaults-file=${defaultsFile}`, `--database=${database}`, `--outputdir=${outputDir}`, ...options],
    env: {},
    description: `mydumper ${versionNumbers(tool.version).join(".")} ${options.join(" ")}`,
    format: "tar",
    outputDir,
    cleanup: () => fs.rm(defaultsFile, { force: true }),
  };
}

function pgDirectoryDump(
  conn: ServerConnection,
  profile: DumpProfile | null,
  database: string,
  tools: DumpTools,
  serverVersion: string,
  outputDir: string,
  threads: number,
): DumpCommand {
  const tool = tools.pgDump;
  if (!tool) throw new Error("pg_dump is not installed on this machine");
  const toolMajor = versionNumbers(tool.version)[0] ?? 0;
  const serverMajor = versionNumbers(serverVersion)[0] ?? 0;
  if (toolMajor < serverMajor)
    throw new Error(`pg_dump ${toolMajor} (${tool.path}) cannot dump a PostgreSQL ${serverMajor} server: install pg_dump ${serverMajor} or newer`);
  const flags = profile?.pgExtraFlags ?? [];
  if (!Array.isArray(flags) || !flags.every((f): f is string => typeof f === "string"))
    throw new Error("the profile's extra pg_dump flags are not a list of strings");
  for (const flag of flags) {
    const known = Object.hasOwn(PG_EXTRA_FLAGS, flag.split("=", 1)[0]!);
    const problem = known ? extraFlagProblem(flag, "pg") : "it is not an allowed pg_dump flag";
    if (problem) throw new Error(`extra flag ${JSON.stringify(flag)} refused: ${problem}`);
  }
  const options = [
    "--format=directory",
    `--jobs=${threads}`,
    // Uncompressed files: the pipeline compresses the whole tar once.
    "--compress=0",
    "--no-password",
    ...((profile?.noOwner ?? true) ? ["--no-owner"] : []),
    ...((profile?.noPrivileges ?? false) ? ["--no-privileges"] : []),
    ...flags,
  ];
  return {
    command: tool.path,
    args: [...options, `--file=${outputDir}`],
    env: pgClientEnv(conn, database, "sqlguard"),
    description: `${path.basename(tool.path)} ${versionNumbers(tool.version).join(".")} ${options.join(" ")}`,
    format: "tar",
    outputDir,
    cleanup: async () => {},
  };
}
