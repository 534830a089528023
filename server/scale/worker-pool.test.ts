import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../db/connection.ts";
import { createServer, createTarget, dataOf, runBackup } from "../testing/backup-helpers.ts";
import { addBulkTable, createMariadbSample, dropMariadbDatabase, MARIADB, uniqueName } from "../testing/sample-databases.ts";
import { freePort, httpClient, startServerProcess, type ServerProcess } from "../testing/server-process.ts";
import { dropDatabase, freshDatabaseUrl } from "../testing/test-db.ts";

type Row = { id: number; database: string; status: string; instanceId: string | null; attempt: number; error: string | null };
type Client = Awaited<ReturnType<typeof httpClient>>;

const FORBID = fileURLToPath(new URL("../testing/forbid-ui-modules.mjs", import.meta.url));
const DATABASES = 40;
const LEASE_SECONDS = 3;

async function backupsOf(client: Client, serverId: number): Promise<Row[]> {
  const r = await client(`query($id: ID!) { backups(filter: { serverId: $id }, first: 500) { nodes { id database status instanceId attempt error } } }`, {
    id: serverId,
  });
  return (dataOf(r) as { backups: { nodes: Row[] } }).backups.nodes;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("a worker pool: one api and two worker processes on one metadata database", () => {
  const databaseUrl = freshDatabaseUrl("pool");
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-pool-"));
  const prefix = uniqueName("wp");
  const names = Array.from({ length: DATABASES }, (_, i) => `${prefix}_${String(i).padStart(2, "0")}`);
  const processes = new Map<string, ServerProcess>();

  afterAll(async () => {
    await Promise.all([...processes.values()].map((p) => p.stop()));
    await dropDatabase(databaseUrl);
    for (const name of names) await dropMariadbDatabase(name);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("runs each of 40 backups exactly once, on both workers, never more than 2 dumps at once against the server; a killed worker's dump fails within the lease", {
    timeout: 300_000,
  }, async () => {
    for (const name of names) {
      await createMariadbSample(name, { rows: 50 });
      await addBulkTable(name, 2);
    }
    const start = async (instanceId: string, role: "api" | "worker") => {
      const env: Record<string, string> = {
        DATABASE_URL: databaseUrl,
        SQLGUARD_PORT: String(await freePort()),
        SQLGUARD_DATA_DIR: path.join(work, instanceId),
        SQLGUARD_SECRET_KEY: "pool-test-secret-key-of-at-least-32-chars",
        SQLGUARD_ADMIN_PASSWORD: "pool-test-admin",
        SQLGUARD_INSTANCE_ID: instanceId,
        SQLGUARD_ROLE: role,
        SQLGUARD_LEASE_SECONDS: String(LEASE_SECONDS),
        // Frequent polls: a worker whose slot frees claims again at once, the other only at its next poll.
        SQLGUARD_QUEUE_POLL_SECONDS: "0.05",
        SQLGUARD_MAX_CONCURRENT_BACKUPS: "4",
        SQLGUARD_BACKUP_MAX_ATTEMPTS: "1",
      };
      // A worker that resolved GraphQL, yoga, Pothos, Next.js or React would exit at once (see the hook).
      if (role === "worker") env.NODE_OPTIONS = `--import=${FORBID}`;
      processes.set(instanceId, await startServerProcess(env));
    };
    // The api first: it migrates and seeds the fresh metadata database.
    await start("pool-api", "api");
    await Promise.all([start("pool-w1", "worker"), start("pool-w2", "worker")]);
    const client = await httpClient(processes.get("pool-api")!.url, "admin", "pool-test-admin");

    // A worker answers the probes and /metrics, and nothing of the API or the console.
    const w1 = processes.get("pool-w1")!.url;
    expect((await fetch(`${w1}/healthz`)).status).toBe(200);
    expect((await fetch(`${w1}/graphql`, { method: "POST", body: "{}" })).status).toBe(404);
    expect((await fetch(`${w1}/`)).status).toBe(404);
    const workerMetrics = await waitFor(async () => {
      const r = await fetch(`${w1}/metrics`);
      return r.status === 200 ? r.text() : undefined;
    }, "the worker's /metrics");
    expect(workerMetrics).toMatch(/sqlguard_worker_slots\{instance="pool-w1",state="free"\} 4/);

    const targetDir = path.join(work, "shared-target");
    const targetId = await createTarget(client, { name: "pool-local", kind: "LOCAL", path: targetDir });
    const serverId = await createServer(client, {
      name: "maria-pool",
      engine: "MARIADB",
      host: "127.0.0.1",
      username: "root",
      maxConcurrent: 2,
      includeDatabases: [`${prefix}_*`],
    });

    // Dump sessions against the server, sampled from the server itself every 50 ms.
    const sampler = await connect({ ...MARIADB, database: "information_schema" });
    let sampling = true;
    const samples: number[] = [];
    const sample = (async () => {
      while (sampling) {
        const rows = (await sampler.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB LIKE ?", [`${prefix}\\_%`])) as Array<{
          n: bigint | number;
        }>;
        samples.push(Number(rows[0]!.n));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    let rows: Row[];
    try {
      const queued = await runBackup(client, { serverId, storageTargetIds: [targetId] });
      expect(queued).toHaveLength(DATABASES);
      rows = await waitFor(async () => {
        const all = await backupsOf(client, serverId);
        return all.length >= DATABASES && all.every((r) => !["PENDING", "RUNNING"].includes(r.status)) ? all : undefined;
      }, "every backup to finish");
    } finally {
      sampling = false;
      await sample;
      await sampler.end();
    }
    const peak = Math.max(...samples);
    const byInstance = Object.fromEntries(["pool-w1", "pool-w2"].map((i) => [i, rows.filter((r) => r.instanceId === i).length]));
    console.log(`[worker-pool] ${samples.length} processlist samples, peak ${peak} dumps at once; backups by worker:`, byInstance);
    expect(rows).toHaveLength(DATABASES);
    expect(rows.map((r) => r.status)).toEqual(Array(DATABASES).fill("SUCCEEDED"));
    expect(new Set(rows.map((r) => r.database))).toEqual(new Set(names));
    expect(rows.every((r) => r.attempt === 1)).toBe(true);
    expect(byInstance["pool-w1"]).toBeGreaterThan(0);
    expect(byInstance["pool-w2"]).toBeGreaterThan(0);
    expect(byInstance["pool-w1"]! + byInstance["pool-w2"]!).toBe(DATABASES);
    expect(peak).toBeGreaterThanOrEqual(1);
    expect(peak).toBeLessThanOrEqual(2);
    // Each backup wrote one artifact; the queue never ran one twice.
    expect(fs.readdirSync(targetDir, { recursive: true }).filter((f) => String(f).endsWith(".sql.zst")).length).toBe(DATABASES);

    // A dump blocked by a lock stays RUNNING on whichever worker claimed it: kill that worker.
    const blocked = names[0]!;
    const lock = await connect({ ...MARIADB, database: blocked });
    await lock.query("LOCK TABLES files WRITE");
    try {
      const [mine] = await runBackup(client, { serverId, databases: [blocked], storageTargetIds: [targetId] });
      const running = await waitFor(async () => {
        const row = (await backupsOf(client, serverId)).find((r) => Number(r.id) === Number(mine!.id));
        return row?.status === "RUNNING" && row.instanceId ? row : undefined;
      }, "the blocked backup to run");
      const victim = processes.get(running.instanceId!)!;
      const killedAt = Date.now();
      victim.child.kill("SIGKILL");
      await victim.exited;
      processes.delete(running.instanceId!);
      const settled = await waitFor(
        async () => {
          const row = (await backupsOf(client, serverId)).find((r) => Number(r.id) === Number(mine!.id));
          return row && row.status !== "RUNNING" ? row : undefined;
        },
        "the surviving worker to settle the killed worker's backup",
        60_000,
      );
      const tookMs = Date.now() - killedAt;
      console.log(`[worker-pool] killed ${running.instanceId}; its backup was ${settled.status} after ${tookMs} ms: ${settled.error}`);
      expect(settled.status).toBe("FAILED");
      expect(settled.error).toMatch(new RegExp(`^interrupted: instance ${running.instanceId} stopped renewing this backup's lease`));
      // Not before the lease expired, and within it plus the sweep's period (half a lease) and some slack.
      expect(tookMs).toBeGreaterThanOrEqual((LEASE_SECONDS - 0.5) * 1000);
      expect(tookMs).toBeLessThan(LEASE_SECONDS * 1000 * 3 + 5_000);
    } finally {
      await lock.end();
    }
  });
});
