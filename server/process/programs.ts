import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";

const VERSION_TIMEOUT_MS = 5000;
/** Where Debian and Ubuntu install every PostgreSQL major version side by side. */
const PG_VERSIONED_DIRS = "/usr/lib/postgresql";

/** A client program found on this machine, with the first line of its `--version`. */
export type Program = { path: string; version: string };

/**
 * The first of `names` found on the search path that runs, with its flavour: "mariadb" when its
 * version line says MariaDB (mariadb-dump, mariadb), "mysql" otherwise. Null when none runs.
 */
export async function firstMysqlProgram(names: string[], searchPath: string): Promise<(Program & { flavor: "mariadb" | "mysql" }) | null> {
  for (const name of names) {
    const found = await which(name, searchPath);
    const version = found ? await versionLine(found) : null;
    if (found && version) return { path: found, flavor: version.includes("MariaDB") ? "mariadb" : "mysql", version };
  }
  return null;
}

/** `name` on the search path, if it runs, with its version line (mydumper, myloader). */
export async function findProgram(name: string, searchPath: string): Promise<Program | null> {
  const found = await which(name, searchPath);
  const version = found ? await versionLine(found) : null;
  return found && version ? { path: found, version } : null;
}

/**
 * The newest PostgreSQL client program `name` (pg_dump, psql, pg_restore) on the search path or in
 * /usr/lib/postgresql/<major>/bin (`versionedDirs`, for tests): a pg_dump cannot dump a server
 * newer than itself, and a pg_restore cannot read an archive newer than itself.
 */
export async function newestPgProgram(name: string, searchPath: string, versionedDirs = PG_VERSIONED_DIRS): Promise<Program | null> {
  const candidates = new Set<string>();
  const onPath = await which(name, searchPath);
  if (onPath) candidates.add(onPath);
  for (const major of await fs.readdir(versionedDirs).catch(() => [] as string[])) {
    const file = path.join(versionedDirs, major, "bin", name);
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

/** The absolute path of `name` in the first PATH directory that holds an executable file of that name. */
async function which(name: string, searchPath: string): Promise<string | null> {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!path.isAbsolute(dir)) continue; // a relative PATH entry would depend on the working directory
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

/**
 * First line of `<program> --version`, or null when it does not run. One that does not answer in
 * time is killed with SIGKILL: a program that ignores SIGTERM would keep the check (and the backup
 * waiting for it) forever.
 */
function versionLine(file: string): Promise<string | null> {
  return new Promise((resolve) => {
    const options = { timeout: VERSION_TIMEOUT_MS, killSignal: "SIGKILL" as const, env: { PATH: process.env.PATH ?? "", LC_ALL: "C" } };
    execFile(file, ["--version"], options, (error, stdout) => {
      const line = String(stdout).trim().split("\n")[0]?.trim() ?? "";
      resolve(error || !line ? null : line);
    });
  });
}

/**
 * The numbers of the program's own version: "pg_dump (PostgreSQL) 15.20 (Debian …)" → [15, 20];
 * "mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB" → [10, 11, 19] (the distribution, not the
 * client protocol); "mysqldump  Ver 8.0.36 for Linux" → [8, 0, 36].
 */
export function versionNumbers(line: string): number[] {
  const match = /Distrib\s+(\d+(?:\.\d+)*)/.exec(line) ?? /(\d+(?:\.\d+)+)/.exec(line) ?? /(\d+)/.exec(line);
  return match ? match[1]!.split(".").map(Number) : [];
}

export function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
