import { findProgram, firstMysqlProgram, newestPgProgram } from "../process/programs.ts";

/** The client programs a restore feeds: found once per process, null when missing. */
export type RestoreTools = {
  /** `mariadb` (preferred: it understands MariaDB dumps' sandbox line) or `mysql`. */
  mysql: { path: string; flavor: "mariadb" | "mysql"; version: string } | null;
  psql: { path: string; version: string } | null;
  /** Turns a custom-format archive into SQL for psql; must be at least as new as the pg_dump that wrote it. */
  pgRestore: { path: string; version: string } | null;
  /** Loads a mydumper directory (PARALLEL artifacts of MySQL/MariaDB); absent or null when not installed. */
  myloader?: { path: string; version: string } | null;
};

let cached: Promise<RestoreTools> | undefined;

/** The restore clients on this machine (PATH, and /usr/lib/postgresql/<major>/bin for the newest PostgreSQL ones). Never throws. */
export function detectRestoreTools(): Promise<RestoreTools> {
  cached ??= findRestoreTools(process.env.PATH ?? "");
  return cached;
}

/** Uncached lookup over an explicit search path (tests). */
export async function findRestoreTools(searchPath: string): Promise<RestoreTools> {
  const [mysql, psql, pgRestore, myloader] = await Promise.all([
    firstMysqlProgram(["mariadb", "mysql"], searchPath),
    newestPgProgram("psql", searchPath),
    newestPgProgram("pg_restore", searchPath),
    findProgram("myloader", searchPath),
  ]);
  return { mysql, psql, pgRestore, myloader };
}
