import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createServer, createTarget, dataOf, runBackup, type BackupView } from "../testing/backup-helpers.ts";
import { createMariadbSample, dropMariadbDatabase, mariadbExec, uniqueName } from "../testing/sample-databases.ts";
import { freePort, httpClient, startServerProcess, type ServerProcess } from "../testing/server-process.ts";
import { dropDatabase, freshDatabaseUrl } from "../testing/test-db.ts";

type Client = Awaited<ReturnType<typeof httpClient>>;
type RestoreRow = { id: number; status: string; instanceId: string | null; error: string | null; database: string; createdDatabase: boolean };

const LEASE_SECONDS = 3;
const RESTORE_FIELDS = "id status instanceId error database createdDatabase";

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function restoreOf(client: Client, id: number): Promise<RestoreRow> {
  return (dataOf(await client(`query($id: ID!) { restore(id: $id) { ${RESTORE_FIELDS} } }`, { id })) as { restore: RestoreRow }).restore;
}

async function databaseExists(name: string): Promise<boolean> {
  const [rows] = (await mariadbExec([`SHOW DATABASES LIKE '${name}'`])) as [unknown[]];
  return rows.length > 0;
}

describe("queued restores: an api instance records them, a worker claims and runs them", () => {
  const databaseUrl = freshDatabaseUrl("jobq");
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-jobq-"));
  const source = uniqueName("jq_src");
  const restored = uniqueName("jq_dst");
  const killed = uniqueName("jq_kill");
  const processes = new Map<string, ServerProcess>();
  // The worker's `mariadb` client: the real one, after a pause while the marker file exists (a restore to kill mid-way).
  const bin = path.join(work, "bin");
  const slow = path.join(work, "slow-restores");

  afterAll(async () => {
    await Promise.all([...processes.values()].map((p) => p.stop()));
    await dropDatabase(databaseUrl);
    for (const name of [source, restored, killed]) await dropMariadbDatabase(name);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("runs a restore, a drill and a verification requested on the api instance on the worker (instanceId), refuses credentials there, and a killed worker's restore ends FAILED with its database dropped", {
    timeout: 600_000,
  }, async () => {
    await createMariadbSample(source, { rows: 40 });
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, "mariadb"), `#!/bin/sh\nif [ "$1" != "--version" ] && [ -f '${slow}' ]; then sleep 120; fi\nexec /usr/bin/mariadb "$@"\n`, {
      mode: 0o755,
    });
    const start = async (instanceId: string, role: "api" | "worker") => {
      const env: Record<string, string> = {
        DATABASE_URL: databaseUrl,
        SQLGUARD_PORT: String(await freePort()),
        SQLGUARD_DATA_DIR: path.join(work, instanceId),
        SQLGUARD_SECRET_KEY: "jobq-test-secret-key-of-at-least-32-chars",
        SQLGUARD_ADMIN_PASSWORD: "jobq-test-admin",
        SQLGUARD_INSTANCE_ID: instanceId,
        SQLGUARD_ROLE: role,
        SQLGUARD_LEASE_SECONDS: String(LEASE_SECONDS),
        SQLGUARD_QUEUE_POLL_SECONDS: "0.2",
        SQLGUARD_BACKUP_MAX_ATTEMPTS: "1",
      };
      if (role === "worker") env.PATH = `${bin}:${process.env.PATH ?? ""}`;
      processes.set(instanceId, await startServerProcess(env, { readyTimeoutMs: 240_000 }));
    };
    await start("jq-api", "api");
    await start("jq-w1", "worker");
    const client = await httpClient(processes.get("jq-api")!.url, "admin", "jobq-test-admin");
    const targetId = await createTarget(client, { name: "jq-local", kind: "LOCAL", path: path.join(work, "target") });
    const serverId = await createServer(client, { name: "maria-jq", engine: "MARIADB", host: "127.0.0.1", username: "root", includeDatabases: [source] });
    const [queued] = await runBackup(client, { serverId, databases: [source], storageTargetIds: [targetId] });
    const backup = await waitFor(async () => {
      const r = dataOf(await client(`query($id: ID!) { backup(id: $id) { id status } }`, { id: queued!.id })) as { backup: BackupView };
      return ["PENDING", "RUNNING"].includes(r.backup.status) ? undefined : r.backup;
    }, "the backup");
    expect(backup.status).toBe("SUCCEEDED");

    // Requested on the api instance: recorded PENDING at once, run by the worker.
    const requested = dataOf(
      await client(`mutation($input: RestoreBackupInput!) { restoreBackup(input: $input) { ${RESTORE_FIELDS} } }`, {
        input: { backupId: backup.id, database: restored },
      }),
    ) as { restoreBackup: RestoreRow };
    expect(requested.restoreBackup).toMatchObject({ status: "PENDING", instanceId: null });
    const done = await waitFor(async () => {
      const r = await restoreOf(client, requested.restoreBackup.id);
      return ["PENDING", "RUNNING"].includes(r.status) ? undefined : r;
    }, "the queued restore");
    expect(done).toMatchObject({ status: "SUCCEEDED", instanceId: "jq-w1", error: null });
    const [count] = (await mariadbExec([`SELECT COUNT(*) AS n FROM customers`], restored)) as [Array<{ n: bigint }>];
    expect(Number(count[0]!.n)).toBe(40);

    // A drill requested on the api instance: queued PENDING, run (and passed) by the worker.
    const drill = dataOf(
      await client(`mutation($b: ID!, $s: ID!) { runRestoreDrill(backupId: $b, serverId: $s) { id status instanceId } }`, { b: backup.id, s: serverId }),
    ) as { runRestoreDrill: { id: string; status: string; instanceId: string | null } };
    expect(drill.runRestoreDrill).toMatchObject({ status: "PENDING", instanceId: null });
    const drilled = await waitFor(async () => {
      const r = dataOf(await client(`query($b: ID!) { restoreDrills(backupId: $b) { nodes { id status instanceId error } } }`, { b: backup.id })) as {
        restoreDrills: { nodes: Array<{ id: string; status: string; instanceId: string | null; error: string | null }> };
      };
      const row = r.restoreDrills.nodes.find((d) => d.id === drill.runRestoreDrill.id);
      return row && !["PENDING", "RUNNING"].includes(row.status) ? row : undefined;
    }, "the queued drill");
    expect(drilled).toMatchObject({ status: "PASSED", instanceId: "jq-w1", error: null });

    // A verification requested on the api instance: queued on each copy, read by the worker, answered with the result.
    const verified = dataOf(
      await client(`mutation($id: ID!) { verifyBackup(id: $id) { artifacts { verifyResult verifyRequestedAt verifiedAt } } }`, { id: backup.id }),
    ) as { verifyBackup: { artifacts: Array<{ verifyResult: string | null; verifyRequestedAt: string | null; verifiedAt: string | null }> } };
    expect(verified.verifyBackup.artifacts).toEqual([{ verifyResult: "OK", verifyRequestedAt: null, verifiedAt: expect.any(String) }]);
    const verifyAudit = dataOf(
      await client(`query($id: String!) { auditLog(entityType: "backup", entityId: $id) { nodes { action after } } }`, { id: String(backup.id) }),
    ) as { auditLog: { nodes: Array<{ action: string; after: string | null }> } };
    expect(JSON.parse(verifyAudit.auditLog.nodes.find((n) => n.action === "backup.verify")!.after!)).toEqual({ queued: [expect.any(Number)] });

    // A password held only by the api process could never reach the worker: refused, naming credentials.
    const refused = await client(`mutation($input: RestoreBackupInput!) { restoreBackup(input: $input) { id } }`, {
      input: { backupId: backup.id, database: `${restored}_c`, credentials: { username: "root", password: "x" } },
    });
    expect(refused.errors?.[0]?.message).toMatch(/credentials/);
    expect(refused.errors?.[0]?.message).toMatch(/SQLGUARD_ROLE=api/);

    // A restore the worker runs when it is SIGKILLed: the api instance's lease sweep fails it and drops its database.
    fs.writeFileSync(slow, "");
    const victim = dataOf(
      await client(`mutation($input: RestoreBackupInput!) { restoreBackup(input: $input) { ${RESTORE_FIELDS} } }`, {
        input: { backupId: backup.id, database: killed },
      }),
    ) as { restoreBackup: RestoreRow };
    const running = await waitFor(async () => {
      const r = await restoreOf(client, victim.restoreBackup.id);
      return r.status === "RUNNING" && r.createdDatabase && (await databaseExists(killed)) ? r : undefined;
    }, "the restore to create its database");
    expect(running.instanceId).toBe("jq-w1");
    const worker = processes.get("jq-w1")!;
    worker.child.kill("SIGKILL");
    await worker.exited;
    processes.delete("jq-w1");
    const settled = await waitFor(
      async () => {
        const r = await restoreOf(client, victim.restoreBackup.id);
        return r.status === "RUNNING" ? undefined : r;
      },
      "the api instance to settle the killed worker's restore",
      60_000,
    );
    expect(settled.status).toBe("FAILED");
    expect(settled.error).toMatch(/^interrupted: instance jq-w1 stopped renewing this restore's lease/);
    expect(await databaseExists(killed)).toBe(false);
  });
});
