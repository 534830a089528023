// End to end on a real server process with real MariaDB dumps: a schedule every 2 s, its server
// then breaks so every run fails, and ten days pass (the successful records are backdated, the
// one simulated step): the preview shows what the sweep then deletes, and the minimum-keep guard
// holds while the failures go on.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, parseDatabaseUrl } from "../db/connection.ts";
import { createServer, createTarget, dataOf, listFiles } from "../testing/backup-helpers.ts";
import { createMariadbSample, dropMariadbDatabase, uniqueName } from "../testing/sample-databases.ts";
import { freePort, httpClient, startServerProcess, type ServerProcess } from "../testing/server-process.ts";
import { dropDatabase, freshDatabaseUrl } from "../testing/test-db.ts";

type Row = { id: number; status: string; error: string | null; artifacts: Array<{ key: string; status: string }> };
type Client = Awaited<ReturnType<typeof httpClient>>;

async function rowsOf(client: Client, scheduleId: number): Promise<Row[]> {
  const r = await client(`query($id: ID!) { backups(filter: { scheduleId: $id }, first: 500) { nodes { id status error artifacts { key status } } } }`, {
    id: scheduleId,
  });
  return (dataOf(r) as { backups: { nodes: Row[] } }).backups.nodes.sort((a, b) => a.id - b.id);
}

async function until(client: Client, scheduleId: number, done: (rows: Row[]) => boolean, what: string, timeoutMs = 30_000): Promise<Row[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await rowsOf(client, scheduleId);
    if (done(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${rows.map((r) => r.status).join(" ")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const count = (rows: Row[], status: string) => rows.filter((r) => r.status === status).length;

describe("retention end to end, while backups fail", () => {
  const databaseUrl = freshDatabaseUrl("ret");
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-ret-"));
  const db = uniqueName("ret");
  let server: ServerProcess | undefined;

  afterAll(async () => {
    await server?.stop();
    await dropDatabase(databaseUrl);
    await dropMariadbDatabase(db);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("keeps the newest minKeep successes, and deletes exactly what retentionPreview showed", { timeout: 120_000 }, async () => {
    await createMariadbSample(db, { rows: 30 });
    server = await startServerProcess({
      DATABASE_URL: databaseUrl,
      SQLGUARD_PORT: String(await freePort()),
      SQLGUARD_CRON_SECONDS: "true", // per-second schedules keep the test short
      SQLGUARD_DATA_DIR: path.join(work, "data"),
      SQLGUARD_ADMIN_PASSWORD: "retention-admin",
      SQLGUARD_INSTANCE_ID: "retention-e2e",
      SQLGUARD_BACKUP_MAX_ATTEMPTS: "1",
    });
    const client = await httpClient(server.url, "admin", "retention-admin");
    for (const s of (dataOf(await client(`{ schedules { id } }`)) as { schedules: Array<{ id: number }> }).schedules) {
      dataOf(await client(`mutation($id: ID!) { deleteSchedule(id: $id) { id } }`, { id: s.id }));
    }
    const serverId = await createServer(client, { name: "maria-ret", engine: "MARIADB", host: "127.0.0.1", username: "root", includeDatabases: [db] });
    const targetDir = path.join(work, "target");
    const targetId = await createTarget(client, { name: "ret-local", kind: "LOCAL", path: targetDir });
    const created = await client(`mutation($input: ScheduleInput!) { createSchedule(input: $input) { id } }`, {
      input: { name: "every-2s", cronExpression: "*/2 * * * * *", serverIds: [serverId], storageTargetIds: [targetId] },
    });
    const scheduleId = Number((dataOf(created) as { createSchedule: { id: number } }).createSchedule.id);
    dataOf(
      await client(`mutation($input: RetentionRuleInput!) { setRetentionRule(input: $input) { id } }`, {
        input: { scheduleId, storageTargetId: targetId, maxAgeDays: 1, minKeep: 2 },
      }),
    );

    await until(client, scheduleId, (rows) => count(rows, "SUCCEEDED") >= 4, "four successful backups");
    // The server goes away: every run from now on fails (the tick queues the databases it knew).
    dataOf(
      await client(`mutation($id: ID!, $input: ServerUpdateInput!) { updateServer(id: $id, input: $input) { id } }`, {
        id: serverId,
        input: { port: await freePort() },
      }),
    );
    await until(client, scheduleId, (rows) => count(rows, "FAILED") >= 3, "three failed backups");
    const setEnabled = (enabled: boolean) =>
      client(`mutation($id: ID!, $e: Boolean!) { updateSchedule(id: $id, input: { enabled: $e }) { id } }`, { id: scheduleId, e: enabled });
    dataOf(await setEnabled(false));
    const settled = await until(client, scheduleId, (rows) => !rows.some((r) => ["PENDING", "RUNNING"].includes(r.status)), "the last run to end");
    const successes = settled.filter((r) => r.status === "SUCCEEDED");
    expect(settled.find((r) => r.status === "FAILED")!.error).toBeTruthy();

    // Ten days pass for the successful backups.
    const conn = await connect(parseDatabaseUrl(databaseUrl));
    try {
      await conn.query(
        "UPDATE Backup SET startedAt = startedAt - INTERVAL 10 DAY, createdAt = createdAt - INTERVAL 10 DAY WHERE scheduleId = ? AND status = 'SUCCEEDED'",
        [scheduleId],
      );
    } finally {
      await conn.end();
    }
    const preview = dataOf(
      await client(
        `query($s: ID!, $t: ID!) { retentionPreview(scheduleId: $s, storageTargetId: $t) { deleteCount keepCount deletions { backupId reasons kind } } }`,
        { s: scheduleId, t: targetId },
      ),
    ) as {
      retentionPreview: { deleteCount: number; keepCount: number; deletions: Array<{ backupId: number; reasons: string[]; kind: string }> };
    };
    const expected = successes.slice(0, -2).map((r) => r.id);
    expect(preview.retentionPreview.deletions.map((d) => d.backupId).sort()).toEqual(expected.sort());
    expect(
      preview.retentionPreview.deletions.every((d) => d.kind === "ARTIFACT" && d.reasons[0] === "delete: older than 1 days and not selected by any rule"),
    ).toBe(true);

    const run = dataOf(
      await client(`mutation($s: ID, $t: ID) { runRetention(scheduleId: $s, storageTargetId: $t) { deletions { backupId done } backupsDeleted failures } }`, {
        s: scheduleId,
        t: targetId,
      }),
    ) as {
      runRetention: { deletions: Array<{ backupId: number; done: boolean }>; backupsDeleted: number; failures: number };
    };
    expect(run.runRetention.deletions.map((d) => d.backupId).sort()).toEqual(expected.sort());
    expect(run.runRetention).toMatchObject({ backupsDeleted: expected.length, failures: 0 });
    const files = listFiles(targetDir);
    for (const s of successes) {
      const kept = !expected.includes(s.id);
      expect(files.includes(s.artifacts[0]!.key), `artifact of backup ${s.id}`).toBe(kept);
      expect(files.includes(`${s.artifacts[0]!.key}.manifest.json`), `manifest of backup ${s.id}`).toBe(kept);
    }

    // The failures go on; each one's sweep keeps the two newest successes, however old.
    const failedBefore = count(settled, "FAILED");
    dataOf(await setEnabled(true));
    const later = await until(client, scheduleId, (rows) => count(rows, "FAILED") >= failedBefore + 3, "three more failures");
    expect(count(later, "SUCCEEDED")).toBe(2);
    expect(count(later, "DELETED")).toBe(expected.length);
    for (const s of successes.slice(-2)) expect(listFiles(targetDir)).toContain(s.artifacts[0]!.key);
  });
});
