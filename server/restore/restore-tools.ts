import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { compareVersions, versionNumbers } from "../runner/dumpers/tools.ts";

/** The client programs a restore feeds: found once per process, null when missing. */
export type RestoreTools = {
  /** `mariadb` (preferred: it understands MariaDB dumps' sandbox line) or `mysql`. */
  mysql: { path: string; flavor: "mariadb" | "mysql"; version: string } | null;
  psql: { path: string; version: string } | null;
  /** Turns a custom-format archive into SQL for psql; must be at least as new as the pg_dump that wrote it. */
  pgRestore: { path: string; version: string } | null;
};

const PG_VERSIONED_DIRS = "/usr/lib/postgresql";
const VERSION_TIMEOUT_MS = 5000;
let cached: Promise<RestoreTools> | undefined;

/** The restore clients on this machine (PATH, and /usr/lib/postgresql/<major>/bin for the newest PostgreSQL ones). Never throws. */
export function detectRestoreTools(): Promise<RestoreTools> {
  cached ??= findRestoreTools(process.env.PATH ?? "");
  return cached;
}

/** Uncached lookup over an explicit search path (tests). */
export async function findRestoreTools(searchPath: string): Promise<RestoreTools> {
  const [mysql, psql, pgRestore] = await Promise.all([findMysql(searchPath), newestPg("psql", searchPath), newestPg("pg_restore", searchPath)]);
  return { mysql, psql, pgRestore };
}

async function findMysql(searchPath: string): Promise<RestoreTools["mysql"]> {
  for (const name of ["mariadb", "mysql"]) {
    const found = await which(name, searchPath);
    const version = found ? await versionLine(found) : null;
    if (found && version) return { path: found, flavor: version.includes("MariaDB") ? "mariadb" : "mysql", version };
  }
  return null;
}

async function newestPg(name: string, searchPath: string): Promise<{ path: string; version: string } | null> {
  const candidates = new Set<string>();
  const onPath = await which(name, searchPath);
  if (onPath) candidates.add(onPath);
  for (const major of await fs.readdir(PG_VERSIONED_DIRS).catch(() => [] as string[])) {
    const file = path.join(PG_VERSIONED_DIRS, major, "bin", name);
    if (await isExecutable(file)) candidates.add(file);
  }
  let best: { path: string; version: string; rank: number[] } | null = null;
  for (const file of candidates) {
    const version = await versionLine(file);
    if (!version) continue;
    const rank = versionNumbers(version);
    if (!best || compareVersions(rank, best.rank) > 0) best = { path: file, version, rank };
  }
  return best && { path: best.path, version: best.version };
}

async function which(name: string, searchPath: string): Promise<string | null> {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!path.isAbsolute(dir)) continue; // a relative entry would depend on the working directory
    const file = path.join(dir, name);
    if (await isExecutable(file)) return file;
  }
  return null;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await fs.access(file, fs.constants.X_OK);
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

function versionLine(file: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(file, ["--version"], { timeout: VERSION_TIMEOUT_MS, env: { PATH: process.env.PATH ?? "", LC_ALL: "C" } }, (error, stdout) => {
      const line = String(stdout).trim().split("\n")[0]?.trim() ?? "";
      resolve(error || !line ? null : line);
    });
  });
}
