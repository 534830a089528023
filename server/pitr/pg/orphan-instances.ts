import { existsSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Logger } from "../../observability/logger.ts";

/** The prefix of every temporary instance's directory (restore-database.ts `startAtTime`). */
export const INSTANCE_DIR_PREFIX = "sqlguard-pitr-";
/** Who built a temporary instance's directory: written first, so a sweep can tell whether its builder still lives. */
export const OWNER_FILE = "owner.json";
/** A directory without an owner file (its builder died at once, or an older release made it) is swept once it is this old. */
const UNOWNED_AFTER_MS = 3_600_000;

/** Where temporary instances are built: SQLGUARD_PITR_RESTORE_DIR, else the system temporary directory (the postgres user must reach it when SQLGuard runs as root). */
export function pitrRestoreRoot(): string {
  return process.env.SQLGUARD_PITR_RESTORE_DIR || os.tmpdir();
}

type Owner = { pid: number; host: string; startedAt: string };

/** Records this process as the builder of `dir`. */
export async function writeOwner(dir: string): Promise<void> {
  const owner: Owner = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() };
  await fs.writeFile(path.join(dir, OWNER_FILE), `${JSON.stringify(owner)}\n`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The postmaster running `dataDir`, from its pid file, when that process is alive and still is that postmaster (not a reused pid). */
function postmasterOf(dataDir: string): number | null {
  const pidFile = path.join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return null;
  const cmdline = (() => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      return [];
    }
  })();
  return cmdline.some((arg) => path.resolve(arg) === path.resolve(dataDir)) ? pid : null;
}

async function stopPostmaster(pid: number): Promise<void> {
  // SIGQUIT is PostgreSQL's immediate shutdown: the children go with the postmaster, nothing is flushed (the copy is thrown away).
  process.kill(pid, "SIGQUIT");
  const deadline = Date.now() + 10_000;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid, "SIGKILL");
  for (const until = Date.now() + 10_000; alive(pid); await new Promise((r) => setTimeout(r, 50)))
    if (Date.now() > until) throw new Error(`postmaster ${pid} is still running after SIGKILL`);
}

/**
 * Settles the temporary instances (point-in-time restores on PostgreSQL) that a process which died
 * left under `workRoot`: a directory whose builder no longer runs on this host has its postmaster
 * stopped and is removed with the WAL and dump it holds. Directories of live builders, and of
 * builders on another host (their pid says nothing here), stay. Returns the directories removed.
 * Never throws.
 */
export async function sweepOrphanedInstances(workRoot: string, log?: Logger): Promise<string[]> {
  const swept: string[] = [];
  const entries = await fs.readdir(workRoot, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory() || !entry.name.startsWith(INSTANCE_DIR_PREFIX)) continue;
    const dir = path.join(workRoot, entry.name);
    try {
      const owner = await fs
        .readFile(path.join(dir, OWNER_FILE), "utf8")
        .then((text) => JSON.parse(text) as Owner)
        .catch(() => null);
      if (owner) {
        if (owner.host !== os.hostname() || alive(owner.pid)) continue;
      } else if ((await fs.stat(dir)).mtimeMs > Date.now() - UNOWNED_AFTER_MS) continue;
      const pid = postmasterOf(path.join(dir, "data"));
      if (pid !== null) await stopPostmaster(pid);
      await fs.rm(dir, { recursive: true, force: true });
      swept.push(dir);
      log?.warn({ dir, builderPid: owner?.pid ?? null, postmasterPid: pid }, "removed a temporary PostgreSQL instance left by a process that died");
    } catch (error) {
      log?.warn({ err: error, dir }, "could not remove a temporary PostgreSQL instance left by a process that died");
    }
  }
  return swept;
}
