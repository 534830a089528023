import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** `st` 01 in /proc/net/tcp: a connected socket. */
const ESTABLISHED = "01";

/**
 * The local ports of the connected TCP sockets a process holds (Linux /proc; empty elsewhere, or
 * once it has exited). A database server sees them as the client port of the process's session
 * (processlist HOST `ip:port`, pg_stat_activity.client_port), which is how that session can be
 * found and ended after the process was killed.
 */
export function tcpClientPorts(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const target = safe(() => readlinkSync(`/proc/${pid}/fd/${fd}`));
      const inode = target && /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode) inodes.add(inode);
    }
  } catch {
    return [];
  }
  if (inodes.size === 0) return [];
  const ports = new Set<number>();
  for (const table of ["tcp", "tcp6"]) {
    const text = safe(() => readFileSync(`/proc/${pid}/net/${table}`, "utf8")) ?? "";
    for (const line of text.split("\n").slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== ESTABLISHED || !inodes.has(f[9]!)) continue;
      ports.add(Number.parseInt(f[1]!.split(":")[1]!, 16));
    }
  }
  return [...ports];
}

function safe<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
