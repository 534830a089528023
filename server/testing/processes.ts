import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** A live process as /proc shows it. */
export type ProcessInfo = { pid: number; ppid: number; comm: string; state: string };

/** Every process on this machine (Linux /proc), zombies included (state "Z"). */
export function processes(): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split at the last ')'.
      const close = stat.lastIndexOf(")");
      const [state, ppid] = stat.slice(close + 2).split(" ");
      out.push({ pid: Number(entry), ppid: Number(ppid), comm: stat.slice(stat.indexOf("(") + 1, close), state: state! });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Descendants of `pid` (children, grandchildren…) that have not exited, optionally by program name. */
export function descendants(pid = process.pid, comm?: string): ProcessInfo[] {
  const all = processes().filter((p) => p.state !== "Z");
  const found: ProcessInfo[] = [];
  let parents = new Set([pid]);
  while (parents.size) {
    const next = all.filter((p) => parents.has(p.ppid));
    found.push(...next);
    parents = new Set(next.map((p) => p.pid));
  }
  return comm ? found.filter((p) => p.comm === comm) : found;
}

/** Whether a process runs (and is not a zombie). */
export function isRunning(pid: number): boolean {
  try {
    return !fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

/**
 * A directory with a fake program `name` (a shell script) to put first on PATH, e.g. a `zstd`
 * that fails on start. Returns the directory; remove it with fs.rmSync.
 */
export function fakeProgram(name: string, script: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-fake-"));
  fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return dir;
}

/** Runs `use` with `dir` first on PATH (children spawned meanwhile see it), then restores PATH. */
export async function withPathFirst<T>(dir: string, use: () => Promise<T>): Promise<T> {
  const before = process.env.PATH;
  process.env.PATH = `${dir}${path.delimiter}${before ?? ""}`;
  try {
    return await use();
  } finally {
    process.env.PATH = before;
  }
}
