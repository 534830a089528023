import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, createTarget, dataOf, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { createMariadbSample, dropMariadbDatabase, mariadbExec, uniqueName } from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";
import { startHttpReceiver } from "./testing/peers.ts";

type Client = Awaited<ReturnType<Awaited<ReturnType<typeof createTestApp>>["as"]>>;

/**
 * Which rules a real event reaches: servers by label or by name, schedules, and the events
 * beside failures (success, recovery, a corrupt copy found by verification, a failed drill,
 * overdue), each to a Slack-shaped receiver on localhost.
 */
describe("rules: servers by name or label, schedules, events", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Client;
  let operator: Client;
  let http: Awaited<ReturnType<typeof startHttpReceiver>>;
  let prodId: number;
  let scheduleId: number;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-notifyserver-scope-"));
  const db = uniqueName("notifyserver_scope");
  const missing = uniqueName("notifyserver_missing");

  beforeAll(async () => {
    http = await startHttpReceiver();
    app = await createTestApp({ limits: { maxAttempts: 1 }, publicUrl: "https://backups.example.com" });
    admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    await createMariadbSample(db, { rows: 5 });
    const server = (name: string, env: string) =>
      createServer(admin, {
        name,
        engine: "MARIADB",
        host: "127.0.0.1",
        port: 3306,
        username: "root",
        includeDatabases: [db],
        labels: [{ key: "env", value: env }],
      });
    prodId = await server("maria-prod", "prod");
    await server("maria-dev", "dev");
    const targetId = await createTarget(admin, { name: "scope-local", kind: "LOCAL", path: path.join(work, "store") });
    scheduleId = Number(
      (
        dataOf(
          await admin(`mutation($input: ScheduleInput!) { createSchedule(input: $input) { id } }`, {
            input: { name: "scope-nightly", cronExpression: "0 3 * * *", serverIds: [prodId], storageTargetIds: [targetId] },
          }),
        ) as { createSchedule: { id: number } }
      ).createSchedule.id,
    );
    const channel = async (name: string, rule: Record<string, unknown>) => {
      const id = Number(
        (
          dataOf(
            await admin(`mutation($input: CreateNotificationChannelInput!) { createNotificationChannel(input: $input) { id } }`, {
              input: { name, kind: "SLACK", url: `${http.base}/${name}` },
            }),
          ) as { createNotificationChannel: { id: number } }
        ).createNotificationChannel.id,
      );
      const r = await admin(
        `mutation($input: CreateNotificationRuleInput!) { createNotificationRule(input: $input) { id scheduleIds serverSelector { names matchLabels { key value } } } }`,
        {
          input: { channelId: id, quietMinutes: 0, ...rule },
        },
      );
      return dataOf(r);
    };
    await channel("prod-by-label", { events: ["FAILURE"], serverSelector: { matchLabels: [{ key: "env", value: "prod" }] } });
    await channel("dev-by-name", { events: ["FAILURE"], serverSelector: { names: ["maria-dev"] } });
    const nightly = (await channel("nightly-only", { events: ["FAILURE"], scheduleIds: [scheduleId] })) as {
      createNotificationRule: { scheduleIds: number[] };
    };
    expect(nightly.createNotificationRule.scheduleIds.map(Number)).toEqual([scheduleId]);
    await channel("outcomes", { events: ["SUCCESS", "RECOVERY"], serverSelector: { names: ["maria-prod"] } });
    await channel("integrity", { events: ["CORRUPT_COPY", "DRILL_FAILED", "OVERDUE"] });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await http?.close();
    await dropMariadbDatabase(db);
    fs.rmSync(work, { recursive: true, force: true });
  });

  const texts = (name: string) => http.received.filter((r) => r.path === `/${name}`).map((r) => r.json.text as string);
  const manual = async (database: string) => {
    const [b] = await runBackup(operator, { serverId: prodId, databases: [database] });
    const done = await waitForBackup(operator, b!.id);
    await app.services.notifier.idle();
    return done;
  };
  const scheduled = async () => {
    const runs = (dataOf(await operator(`mutation { runSchedule(id: ${scheduleId}) { id } }`)) as { runSchedule: Array<{ id: number }> }).runSchedule;
    expect(runs).toHaveLength(1); // maria-prod only, its one included database
    const done = await waitForBackup(operator, runs[0]!.id);
    await app.services.notifier.idle();
    return done;
  };

  it("a manual failure on the prod server: the label rule hears of it, the dev and schedule rules do not", { timeout: 60_000 }, async () => {
    expect((await manual(missing)).status).toBe("FAILED");
    expect(texts("prod-by-label")).toEqual([`Backup of ${missing} on maria-prod failed`]);
    expect(texts("dev-by-name")).toEqual([]);
    expect(texts("nightly-only")).toEqual([]);
  });

  it("a scheduled failure reaches the schedule's rule; its success is one RECOVERY (not also a SUCCESS), the next a SUCCESS", { timeout: 90_000 }, async () => {
    await mariadbExec(["DROP TABLE files"], db); // the view breaks the real dump
    expect((await scheduled()).status).toBe("FAILED");
    expect(texts("nightly-only")).toEqual([`Backup of ${db} on maria-prod failed`]);
    expect(texts("prod-by-label")).toHaveLength(2);
    await mariadbExec(["CREATE TABLE files (id INT PRIMARY KEY, customer_id INT NOT NULL, data LONGBLOB)"], db);
    expect((await scheduled()).status).toBe("SUCCEEDED");
    expect(texts("outcomes")).toEqual([`Backup of ${db} on maria-prod recovered`]);
    expect((await scheduled()).status).toBe("SUCCEEDED");
    expect(texts("outcomes")).toEqual([`Backup of ${db} on maria-prod recovered`, `Backup of ${db} on maria-prod succeeded`]);
    expect(texts("dev-by-name")).toEqual([]);
  });

  it("verification finds a corrupt stored copy: CORRUPT_COPY names the database, the target and links the backup", { timeout: 60_000 }, async () => {
    const b = await scheduled();
    const artifact = await app.db.prisma.backupArtifact.findFirstOrThrow({ where: { backupId: Number(b.id) } });
    const file = path.join(work, "store", artifact.key);
    const bytes = fs.readFileSync(file);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    dataOf(await operator(`mutation { verifyBackup(id: ${b.id}) { id } }`));
    await app.services.notifier.idle();
    expect(texts("integrity")).toEqual([`A stored copy of ${db} on maria-prod is corrupt`]);
    const blocks = JSON.stringify(http.received.find((r) => r.path === "/integrity")!.json.blocks);
    expect(blocks).toContain("storage target scope-local");
    expect(blocks).toContain(`https://backups.example.com/backups/detail/?id=${b.id}`);
  });

  it("a failed drill and an overdue database reach the rules that want them", async () => {
    await app.services.notifier.notifyDrillFailed("maria-prod", db, {
      id: 7,
      backupId: 1,
      restoreMs: 1200,
      error: "row count of customers: 5 expected, 4 restored",
    });
    await app.services.notifier.notifyOverdue("maria-dev", db, { expectedBy: new Date("2026-12-03T04:00:00Z"), lastSuccessAt: null, lateSchedules: [] });
    // The same expected-by time again: nothing new.
    await app.services.notifier.notifyOverdue("maria-dev", db, { expectedBy: new Date("2026-12-03T04:00:00Z"), lastSuccessAt: null, lateSchedules: [] });
    await app.services.notifier.idle();
    expect(texts("integrity").slice(1)).toEqual([`Restore drill of ${db} on maria-prod failed`, `Backup of ${db} on maria-dev is overdue`]);
    const drill = JSON.stringify(http.received.filter((r) => r.path === "/integrity")[1]!.json.blocks);
    expect(drill).toContain("row count of customers: 5 expected, 4 restored");
  });
});
