import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "./server-process.ts";

const run = promisify(execFile);
export const PG_BIN = "/usr/lib/postgresql/15/bin";

/**
 * A PostgreSQL 15 server of a test's own (never the shared one on 5432): initdb in a temporary
 * directory (trust auth, wal_level=replica, the default), a free port, run as the postgres user
 * when this process is root (PostgreSQL refuses to run as root).
 */
export type PrivatePostgres = { port: number; datadir: string; dir: string; psql(sql: string, database?: string): Promise<string>; close(): Promise<void> };

function asPostgres(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
}

/** Runs psql against 127.0.0.1:`port` as postgres; returns unaligned, tuples-only output. */
export async function psqlAt(port: number, sql: string, database = "postgres"): Promise<string> {
  const { stdout } = await run("psql", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-Atqc", sql]);
  return stdout.trim();
}

/** Starts a PostgreSQL data directory (prepared by initdb or a restore) on `port`, waiting until it accepts connections. */
export async function pgCtlStart(datadir: string, port: number, socketDir: string, logFile: string): Promise<void> {
  const [cmd, args] = asPostgres(path.join(PG_BIN, "pg_ctl"), [
    "-D",
    datadir,
    "-l",
    logFile,
    "-w",
    "-t",
    "60",
    "-o",
    `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1`,
    "start",
  ]);
  await run(cmd, args);
}

export async function pgCtlStop(datadir: string): Promise<void> {
  const [cmd, args] = asPostgres(path.join(PG_BIN, "pg_ctl"), ["-D", datadir, "-m", "fast", "-w", "stop"]);
  await run(cmd, args).catch(() => {});
}

/** Hands a directory to the postgres user when running as root (for initdb and restored data directories). */
export function chownPostgres(dir: string): Promise<unknown> {
  return process.getuid?.() === 0 ? run("chown", ["-R", "postgres:postgres", dir]) : Promise.resolve();
}

export async function startPrivatePostgres(label = "pg", options: { walLevel?: "replica" | "logical" } = {}): Promise<PrivatePostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sqlguard-${label}-`));
  fs.chmodSync(dir, 0o755);
  const datadir = path.join(dir, "data");
  await chownPostgres(dir);
  const [cmd, args] = asPostgres(path.join(PG_BIN, "initdb"), ["-D", datadir, "-A", "trust", "-U", "postgres", "--no-sync"]);
  await run(cmd, args);
  if (options.walLevel) fs.appendFileSync(path.join(datadir, "postgresql.conf"), `\nwal_level = ${options.walLevel}\n`);
  const port = await freePort();
  await pgCtlStart(datadir, port, dir, path.join(dir, "server.log"));
  return {
    port,
    datadir,
    dir,
    psql: (sql, database) => psqlAt(port, sql, database),
    async close() {
      await pgCtlStop(datadir);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
