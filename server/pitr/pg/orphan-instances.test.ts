import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { chownPostgres, PG_BIN, pgCtlStart, pgCtlStop, psqlAt } from "../../testing/private-postgres.ts";
import { freePort } from "../../testing/server-process.ts";
import { OWNER_FILE, sweepOrphanedInstances } from "./orphan-instances.ts";

const run = promisify(execFile);
const asPostgres = (command: string, args: string[]): [string, string[]] =>
  process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A pid no process has now: a child that ran and exited. */
async function deadPid(): Promise<number> {
  const child = spawn("true");
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid!;
}

/** A temporary instance's directory as startAtTime builds it, its postmaster running, owned by `pid`. */
async function instanceDir(root: string, label: string, pid: number): Promise<{ dir: string; dataDir: string; port: number; postmaster: number }> {
  const dir = fs.mkdtempSync(path.join(root, `sqlguard-pitr-${label}-`));
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, OWNER_FILE), JSON.stringify({ pid, host: os.hostname(), startedAt: new Date().toISOString() }));
  fs.mkdirSync(path.join(dir, "socket"));
  fs.writeFileSync(path.join(dir, "restored.sql"), "-- the dump taken from the instance\n");
  await chownPostgres(dir);
  const dataDir = path.join(dir, "data");
  const [cmd, args] = asPostgres(path.join(PG_BIN, "initdb"), ["-D", dataDir, "-A", "trust", "-U", "postgres", "--no-sync"]);
  await run(cmd, args);
  const port = await freePort();
  await pgCtlStart(dataDir, port, path.join(dir, "socket"), path.join(dir, "server.log"));
  const postmaster = Number(fs.readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  return { dir, dataDir, port, postmaster };
}

describe("temporary PostgreSQL instances of a process that died", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-orphans-"));
  fs.chmodSync(root, 0o755);
  const started: string[] = [];

  afterAll(async () => {
    for (const dataDir of started) if (fs.existsSync(dataDir)) await pgCtlStop(dataDir);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("stops the postmaster and removes the directory of a builder that is gone; a live builder's instance, another host's and other directories stay", async () => {
    const orphan = await instanceDir(root, "restore-7", await deadPid());
    const live = await instanceDir(root, "restore-8", process.pid);
    started.push(orphan.dataDir, live.dataDir);
    const elsewhere = fs.mkdtempSync(path.join(root, "sqlguard-pitr-restore-9-"));
    fs.writeFileSync(path.join(elsewhere, OWNER_FILE), JSON.stringify({ pid: await deadPid(), host: `not-${os.hostname()}`, startedAt: "" }));
    const unrelated = fs.mkdtempSync(path.join(root, "sqlguard-spool-"));
    expect(await psqlAt(orphan.port, "SELECT 1")).toBe("1");

    const swept = await sweepOrphanedInstances(root);

    expect(swept).toEqual([orphan.dir]);
    expect(alive(orphan.postmaster)).toBe(false);
    await expect(psqlAt(orphan.port, "SELECT 1")).rejects.toThrow();
    expect(fs.existsSync(orphan.dir)).toBe(false);
    expect(alive(live.postmaster)).toBe(true);
    expect(await psqlAt(live.port, "SELECT 1")).toBe("1");
    for (const dir of [live.dir, elsewhere, unrelated]) expect(fs.existsSync(dir)).toBe(true);
    // Nothing left to do: a second sweep removes nothing.
    expect(await sweepOrphanedInstances(root)).toEqual([]);
    expect(await sweepOrphanedInstances(path.join(root, "no-such-dir"))).toEqual([]);
  });
});
