import { findProgram, firstMysqlProgram, newestPgProgram } from "../../process/programs.ts";
import type { DumpTools } from "./types.ts";

export { compareVersions, versionNumbers } from "../../process/programs.ts";

let cached: Promise<DumpTools> | undefined;

/**
 * The dump programs on this machine, looked up once per process: `mariadb-dump` before
 * `mysqldump`, and the newest `pg_dump` (PATH and /usr/lib/postgresql/<major>/bin), since a
 * pg_dump cannot dump a server newer than itself. Never throws; a missing program is null.
 */
export function detectTools(): Promise<DumpTools> {
  cached ??= findTools(process.env.PATH ?? "");
  return cached;
}

/** Uncached lookup over an explicit search path and, for tests, another versioned PostgreSQL directory. */
export async function findTools(searchPath: string, pgVersionedDirs?: string): Promise<DumpTools> {
  const [mysqlDump, pgDump, mydumper] = await Promise.all([
    firstMysqlProgram(["mariadb-dump", "mysqldump"], searchPath),
    newestPgProgram("pg_dump", searchPath, pgVersionedDirs),
    findProgram("mydumper", searchPath),
  ]);
  return { mysqlDump, pgDump, mydumper };
}
