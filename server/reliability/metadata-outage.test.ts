import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../db/connection.ts";
import { type BackupView, createServer, createTarget, dataOf, getBackup, listFiles, runBackup, sha256File, waitForBackup } from "../testing/backup-helpers.ts";
import { startPrivateMariadb, type PrivateMariadb } from "../testing/private-mariadb.ts";
import { createMariadbSample, dropMariadbDatabase, MARIADB, uniqueName } from "../testing/sample-databases.ts";
import { freePort, httpClient, startServerProcess, type ServerProcess } from "../testing/server-process.ts";

type Client = Awaited<ReturnType<typeof httpClient>>;

/** How long the metadata database stays down: longer than a heartbeat, a pool timeout and a retry backoff. */
const OUTAGE_MS = 20_000;
const PASSWORD = "outage-test-admin";
const SECRET_KEY = crypto.randomBytes(24).toString("hex");

/**
 * The metadata database (a private mariadbd) goes away in the middle of real backups of real
 * databases on the shared MariaDB, run by real SQLGuard processes. Each dump waits on a table lock
 * the test holds, so the outage overlaps the backups deterministically: the test releases a lock
 * only once the metadata database is down.
 */
describe("a metadata database outage in the middle of a backup", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-outage-"));
  const targetDir = path.join(dataDir, "target");
  const samples = { done: uniqueName("out_done"), cancel: uniqueName("out_cancel"), killed: uniqueName("out_killed"), lost: uniqueName("out_lost") };
  const processes: ServerProcess[] = [];
  let meta: PrivateMariadb;
  let first: ServerProcess;
  let client: Client;
  let serverId: number;
  let targetId: number;
  let envOf: (instanceId: string) => Promise<Record<string, string>>;

  beforeAll(async () => {
    meta = await startPrivateMariadb();
    await Promise.all(Object.values(samples).map((db) => createMariadbSample(db, { rows: 30 })));
    envOf = async (instanceId) => ({
      DATABASE_URL: meta.url("sqlguard"),
      SQLGUARD_PORT: String(await freePort()),
      SQLGUARD_DATA_DIR: path.join(dataDir, instanceId),
      SQLGUARD_SECRET_KEY: SECRET_KEY,
      SQLGUARD_ADMIN_PASSWORD: PASSWORD,
      SQLGUARD_INSTANCE_ID: instanceId,
      SQLGUARD_SCHEDULER_ENABLED: "false",
      SQLGUARD_LOG_LEVEL: "info",
      // Each instance claims what it queues, at once (its enqueue); with the default 1 s poll the
      // other instance sometimes won the claim, and a backup meant to die with the second process
      // ran in the first one instead. The test needs to know which instance runs what.
      SQLGUARD_QUEUE_POLL_SECONDS: "60",
    });
    first = await startServerProcess(await envOf("outage-1"));
    processes.push(first);
    client = await httpClient(first.url, "admin", PASSWORD);
    serverId = await createServer(client, {
      name: "maria-outage",
      engine: "MARIADB",
      host: MARIADB.host,
      port: MARIADB.port,
      username: "root",
      maxConcurrent: 4,
    });
    targetId = await createTarget(client, { name: "outage-local", kind: "LOCAL", path: targetDir });
  });

  afterAll(async () => {
    for (const p of processes) await p.stop();
    await meta?.start().catch(() => {});
    await meta?.close();
    await Promise.all(Object.values(samples).map((db) => dropMariadbDatabase(db)));
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("fails a backup whose server password no longer decrypts, with a clear message", async () => {
    const secretServer = await createServer(client, {
      name: "maria-bad-secret",
      engine: "MARIADB",
      host: MARIADB.host,
      port: MARIADB.port,
      username: "root",
      password: "some-password",
    });
    // As if the secret key had changed since the password was stored.
    const db = await connect({ host: "127.0.0.1", port: meta.port, user: "root", database: "sqlguard" });
    try {
      await db.query("UPDATE Server SET passwordEnc = ? WHERE id = ?", [`v1:${crypto.randomBytes(48).toString("base64")}`, secretServer]);
    } finally {
      await db.end();
    }
    const [started] = await runBackup(client, { serverId: secretServer, databases: [samples.done], storageTargetIds: [targetId] });
    const done = await waitForBackup(client, started!.id, undefined, 15_000);
    expect(done.status).toBe("FAILED");
    expect(done.error).toMatch(/cannot decrypt the stored password of server maria-bad-secret/);
    expect(done.error).not.toContain("some-password");
    expect(done.artifacts.map((a) => a.status)).toEqual(["FAILED"]);
  });

  it("ends every backup it overlaps: SUCCEEDED with its artifact, CANCELLED on request, settled after a restart", { timeout: 90_000 }, async () => {
    const locks = Object.fromEntries(
      await Promise.all(
        Object.entries(samples).map(async ([name, db]) => {
          const conn = await connect({ ...MARIADB, database: db });
          await conn.query("LOCK TABLES files WRITE");
          return [name, conn] as const;
        }),
      ),
    );
    const unlock = async (name: keyof typeof samples) => {
      const conn = locks[name]!;
      if (conn.isValid()) await conn.end();
    };
    try {
      // `done` and `cancel` run in the first process; `killed` and `lost` in a second one, which dies during the outage.
      const second = await startServerProcess(await envOf("outage-2"));
      processes.push(second);
      const secondClient = await httpClient(second.url, "admin", PASSWORD);
      const backup = async (c: Client, db: string) => (await runBackup(c, { serverId, databases: [db], storageTargetIds: [targetId] }))[0]!;
      const ids = {
        done: (await backup(client, samples.done)).id,
        cancel: (await backup(client, samples.cancel)).id,
        killed: (await backup(secondClient, samples.killed)).id,
        lost: (await backup(secondClient, samples.lost)).id,
      };
      const fileOf = (name: keyof typeof samples, suffix: string) => listFiles(targetDir).find((f) => f.includes(`/${samples[name]}/`) && f.endsWith(suffix));
      // Every dump has started writing (its partial file exists) and now waits on its lock.
      for (const name of Object.keys(ids) as Array<keyof typeof samples>)
        await until(() => fileOf(name, ".partial") !== undefined, `the ${name} dump to start`);

      await meta.kill();
      const outageEnds = Date.now() + OUTAGE_MS;
      await unlock("done");
      await unlock("killed");
      // Artifacts and manifests committed while nothing can be recorded.
      await until(() => fileOf("done", ".manifest.json") !== undefined && fileOf("killed", ".manifest.json") !== undefined, "both manifests");
      second.child.kill("SIGKILL");
      await second.exited;
      await new Promise((r) => setTimeout(r, Math.max(0, outageEnds - Date.now())));
      await meta.start();

      const done = await waitForBackup(client, ids.done, undefined, 45_000);
      await expectStored(done, targetDir);
      expect(first.child.exitCode).toBeNull();

      const running = await getBackup(client, ids.cancel);
      expect(running.status).toBe("RUNNING");
      dataOf(await client(`mutation($id: ID!) { cancelBackup(id: $id) { id } }`, { id: ids.cancel }));
      const cancelled = await waitForBackup(client, ids.cancel, undefined, 15_000);
      expect(cancelled.status).toBe("CANCELLED");
      expect(fileOf("cancel", "")).toBeUndefined();

      // The second process restarts: its committed backup is settled SUCCEEDED, the other FAILED.
      const restarted = await startServerProcess(await envOf("outage-2"));
      processes.push(restarted);
      // At its start, or at its first lease sweep for a row it renewed a moment before it died: generous under a loaded CI machine.
      const settled = await waitForBackup(client, ids.killed, undefined, 45_000);
      await expectStored(settled, targetDir);
      const lost = await waitForBackup(client, ids.lost, undefined, 45_000).catch((error: Error) => {
        throw new Error(`${error.message}; the restarted instance said:\n${restarted.output().slice(-4000)}`);
      });
      expect(lost.status).toBe("FAILED");
      expect(lost.error).toMatch(/interrupted/);
      expect(fileOf("lost", "")).toBeUndefined();
      expect(restarted.output()).toMatch(/settled|interrupted/);
    } finally {
      for (const name of Object.keys(samples) as Array<keyof typeof samples>) await unlock(name);
    }
  });
});

/** The backup SUCCEEDED and its one artifact is on the target with the recorded size and SHA-256. */
async function expectStored(b: BackupView, targetDir: string): Promise<void> {
  expect({ status: b.status, error: b.error }).toEqual({ status: "SUCCEEDED", error: null });
  const [artifact] = b.artifacts;
  expect(artifact!.status).toBe("STORED");
  const file = path.join(targetDir, artifact!.key);
  expect(fs.statSync(file).size).toBe(Number(b.storedBytes));
  expect(artifact!.sizeBytes).toBe(b.storedBytes);
  expect(await sha256File(file)).toBe(b.sha256);
}

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
