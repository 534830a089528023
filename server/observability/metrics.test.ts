import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../app.ts";
import { nextRuns } from "../catalog/cron.ts";
import { parseConfig, parseMetricsAuth } from "../config/env.ts";
import { readMigrations } from "../db/migrator.ts";
import { BackupEvents } from "../runner/events.ts";
import { createServer, createTarget, dataOf, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { parsePrometheusText, sampleValue, type PromFamily } from "../testing/prom-parse.ts";
import { createMariadbSample, dropMariadbDatabase, uniqueName } from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";
import { memoryLogger } from "../testing/test-db.ts";
import { MetricsCollector, MetricsNotReadyError } from "./metrics-collector.ts";
import { cronNextRun, overdueFromHealth } from "./metrics-db-gauges.ts";

type App = Awaited<ReturnType<typeof createTestApp>>;
const ADMIN = { userId: 1, username: "admin", role: "ADMIN" as const, via: "session" as const };

/** Every sqlguard_* sample but the histogram's, as `name{label="value",...}` → value. */
function sqlguardSeries(families: Map<string, PromFamily>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of families.values()) {
    if (!f.name.startsWith("sqlguard_") || f.type === "histogram") continue;
    for (const s of f.samples) out[key(s.name, s.labels)] = s.value;
  }
  return out;
}

function key(name: string, labels: Record<string, string> = {}): string {
  const inner = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return inner.length ? `${name}{${inner.join(",")}}` : name;
}

describe("Prometheus /metrics over real backups", () => {
  let app: App;
  let httpServer: http.Server;
  let baseUrl: string;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-metrics-"));
  const good = uniqueName("met_ok");
  const other = uniqueName("met_up");
  const missing = uniqueName("met_missing");
  let expected: Record<string, number>;

  beforeAll(async () => {
    await createMariadbSample(good, { rows: 20 });
    await createMariadbSample(other, { rows: 5 });
    app = await createTestApp({ limits: { maxAttempts: 1 } });
    await app.metrics.start();
    httpServer = http.createServer(app.app.handle).listen(0, "127.0.0.1");
    await new Promise((r) => httpServer.once("listening", r));
    baseUrl = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    httpServer?.close();
    await app?.close();
    await dropMariadbDatabase(good);
    await dropMariadbDatabase(other);
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function scrape(url = `${baseUrl}/metrics`, headers: Record<string, string> = {}): Promise<Map<string, PromFamily>> {
    const response = await fetch(url, { headers });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    return parsePrometheusText(await response.text());
  }

  it("reports exactly what a success, a failed dump, a failed upload, a schedule and retention recorded", { timeout: 60_000 }, async () => {
    const admin = await app.as("ADMIN");
    const operator = await app.as("OPERATOR");
    const serverId = await createServer(admin, { name: "maria-met", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
    const scheduledServerId = await createServer(admin, {
      name: "maria-met-2",
      engine: "MARIADB",
      host: "127.0.0.1",
      port: 3306,
      username: "root",
      includeDatabases: [good],
    });
    const localId = await createTarget(admin, { name: "met-local", kind: "LOCAL", path: path.join(work, "local") });
    fs.writeFileSync(path.join(work, "a-file"), "not a directory");
    const brokenId = await createTarget(admin, { name: "met-broken", kind: "LOCAL", path: path.join(work, "a-file", "below") });

    const [ok] = await runBackup(operator, { serverId, databases: [good], storageTargetIds: [localId] });
    expect((await waitForBackup(operator, ok!.id)).status).toBe("SUCCEEDED");
    const [bad] = await runBackup(operator, { serverId, databases: [missing], storageTargetIds: [localId] });
    expect((await waitForBackup(operator, bad!.id)).status).toBe("FAILED");
    const [upload] = await runBackup(operator, { serverId, databases: [other], storageTargetIds: [brokenId] });
    expect((await waitForBackup(operator, upload!.id)).status).toBe("FAILED");

    // A schedule keeping one backup: two runs, then retention deletes the older.
    const scheduleId = (
      dataOf(
        await admin(`mutation($input: ScheduleInput!) { createSchedule(input: $input) { id } }`, {
          input: { name: "met-keep1", cronExpression: "0 0 1 1 *", serverIds: [scheduledServerId], storageTargetIds: [localId] },
        }),
      ) as { createSchedule: { id: number } }
    ).createSchedule.id;
    dataOf(
      await admin(`mutation($input: RetentionRuleInput!) { setRetentionRule(input: $input) { id } }`, {
        input: { scheduleId, storageTargetId: localId, keepLast: 1, minKeep: 1 },
      }),
    );
    const scheduled: number[] = [];
    for (let i = 0; i < 2; i++) {
      const [run] = (dataOf(await operator(`mutation($id: ID!) { runSchedule(id: $id) { id } }`, { id: scheduleId })) as { runSchedule: Array<{ id: number }> })
        .runSchedule;
      expect((await waitForBackup(operator, run!.id)).status).toBe("SUCCEEDED");
      scheduled.push(Number(run!.id));
    }
    const sweep = await app.services.retention.run(ADMIN, { scheduleId: Number(scheduleId) });
    expect(sweep.deletions.map((d) => [d.backupId, d.done])).toEqual([[scheduled[0], true]]);

    // Verification found the manual copy corrupt; the server and every schedule date from yesterday.
    const prisma = app.db.prisma;
    await prisma.backupArtifact.updateMany({ where: { backupId: ok!.id }, data: { status: "CORRUPT", verifiedAt: new Date() } });
    const yesterday = new Date(Date.now() - 86_400_000);
    await prisma.server.update({ where: { id: serverId }, data: { createdAt: yesterday } });
    await prisma.schedule.updateMany({ data: { createdAt: yesterday } });
    await app.metrics.idle();
    await app.metrics.refresh();

    const families = await scrape();
    const row = (id: number) => prisma.backup.findUniqueOrThrow({ where: { id }, include: { artifacts: true } });
    const [okRow, newest] = [await row(ok!.id), await row(scheduled[1]!)];
    const seconds = (d: Date | null) => d!.getTime() / 1000;
    const m1 = { server: "maria-met" };
    const m2 = { server: "maria-met-2" };
    expected = {
      [key("sqlguard_backup_last_success_timestamp_seconds", { ...m1, database: good })]: seconds(okRow.startedAt),
      [key("sqlguard_backup_last_success_timestamp_seconds", { ...m2, database: good })]: seconds(newest.startedAt),
      [key("sqlguard_backup_last_status", { ...m1, database: good })]: 1,
      [key("sqlguard_backup_last_status", { ...m1, database: missing })]: 0,
      [key("sqlguard_backup_last_status", { ...m1, database: other })]: 0,
      [key("sqlguard_backup_last_status", { ...m2, database: good })]: 1,
      [key("sqlguard_backup_size_bytes", { ...m1, database: good, compression: "zstd" })]: Number(okRow.storedBytes),
      [key("sqlguard_backup_size_bytes", { ...m2, database: good, compression: "zstd" })]: Number(newest.storedBytes),
      [key("sqlguard_backup_runs_total", { ...m1, database: good, schedule: "(manual)", status: "succeeded" })]: 1,
      [key("sqlguard_backup_runs_total", { ...m1, database: missing, schedule: "(manual)", status: "failed" })]: 1,
      [key("sqlguard_backup_runs_total", { ...m1, database: other, schedule: "(manual)", status: "failed" })]: 1,
      [key("sqlguard_backup_runs_total", { ...m2, database: good, schedule: "met-keep1", status: "succeeded" })]: 2,
      [key("sqlguard_backup_overdue", { ...m1, database: good })]: 0,
      [key("sqlguard_backup_overdue", { ...m1, database: missing })]: 1,
      [key("sqlguard_backup_overdue", { ...m1, database: other })]: 1,
      [key("sqlguard_backup_overdue", { ...m2, database: good })]: 0,
      [key("sqlguard_backups_running")]: 0,
      [key("sqlguard_jobs_queued", { kind: "backup" })]: 0,
      [key("sqlguard_jobs_queued", { kind: "restore" })]: 0,
      [key("sqlguard_jobs_queued", { kind: "drill" })]: 0,
      [key("sqlguard_jobs_queued", { kind: "verification" })]: 0,
      [key("sqlguard_backup_verification_status", { ...m1, database: good, target: "met-local" })]: 0,
      [key("sqlguard_backup_verification_status", { ...m2, database: good, target: "met-local" })]: 1,
    };
    const newestBytes = Number(newest.artifacts[0]!.sizeBytes);
    for (const [target, bytes, objects, uploadErrors, deleted] of [
      ["local", 0, 0, 0, 0],
      ["met-local", Number(okRow.storedBytes) + newestBytes, 2, 0, 1],
      ["met-broken", 0, 0, 1, 0],
    ] as const) {
      expected[key("sqlguard_storage_bytes", { target })] = bytes;
      expected[key("sqlguard_storage_objects", { target })] = objects;
      expected[key("sqlguard_storage_upload_errors_total", { target })] = uploadErrors;
      expected[key("sqlguard_retention_deleted_total", { target })] = deleted;
    }
    for (const s of await prisma.schedule.findMany()) {
      expected[key("sqlguard_schedule_next_run_timestamp_seconds", { schedule: s.name })] = nextRuns(s.cronExpression, s.timezone, 1)[0]!.getTime() / 1000;
    }
    // This process's slots (its runner ran every backup and is idle now); a new collector has none until its runner reports.
    const { slots, rest } = Object.entries(sqlguardSeries(families)).reduce<{ slots: Record<string, number>; rest: Record<string, number> }>(
      (acc, [k, v]) => (((k.startsWith("sqlguard_worker_slots") ? acc.slots : acc.rest)[k] = v), acc),
      { slots: {}, rest: {} },
    );
    expect(Object.entries(slots).map(([k, v]) => [k.replace(/instance="[^"]*"/, "instance"), v])).toEqual([
      ['sqlguard_worker_slots{instance,state="busy"}', 0],
      ['sqlguard_worker_slots{instance,state="free"}', 4],
    ]);
    expect(rest).toEqual(expected);

    // The histogram: this process saw one manual and two scheduled successes.
    const run1 = { ...m1, database: good, schedule: "(manual)" };
    expect(sampleValue(families, "sqlguard_backup_duration_seconds_count", run1)).toBe(1);
    expect(sampleValue(families, "sqlguard_backup_duration_seconds_sum", run1)).toBe(okRow.durationMs! / 1000);
    expect(sampleValue(families, "sqlguard_backup_duration_seconds_count", { ...m2, database: good, schedule: "met-keep1" })).toBe(2);
    expect(sampleValue(families, "sqlguard_backup_duration_seconds_bucket", { ...run1, le: "+Inf" })).toBe(1);
    // Node's own metrics, and no label carries a path or an error text.
    expect(families.get("process_cpu_user_seconds_total")?.type).toBe("counter");
    expect(families.get("nodejs_heap_size_total_bytes")?.type).toBe("gauge");
    const labelValues = [...families.values()].flatMap((f) => f.samples.flatMap((s) => Object.values(s.labels)));
    expect(labelValues.filter((v) => v.includes("/") || v.includes(" "))).toEqual([]);
  });

  it("reports the same values from a new collector over the same database (a restart)", async () => {
    const { logger } = memoryLogger();
    const restarted = new MetricsCollector({
      prisma: app.db.prisma,
      events: new BackupEvents(),
      logger,
      overdue: overdueFromHealth(app.services.health),
      nextRunAt: cronNextRun,
    });
    await expect(restarted.scrape()).rejects.toBeInstanceOf(MetricsNotReadyError);
    await restarted.start();
    const families = parsePrometheusText(await restarted.scrape());
    expect(sqlguardSeries(families)).toEqual(expected);
    // A histogram is this process's observations: empty after a restart, as Prometheus expects.
    expect(families.get("sqlguard_backup_duration_seconds")?.samples).toEqual([]);
  });

  it("asks for the bearer token or the basic credentials when they are configured", async () => {
    const { logger } = memoryLogger();
    const migrations = (await readMigrations()).map((m) => m.name);
    const secured = createApp({
      prisma: app.db.prisma,
      services: app.services,
      logger,
      migrations,
      consoleDir: path.join(work, "none"),
      metrics: { source: app.metrics, auth: { token: "metrics-token-0123456789", basicAuth: "prom:s3cret:with-colon" } },
    });
    const server = http.createServer(secured.handle).listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    const basic = (creds: string) => ({ authorization: `Basic ${Buffer.from(creds).toString("base64")}` });
    try {
      const anonymous = await fetch(url);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get("www-authenticate")).toBe('Bearer realm="sqlguard", Basic realm="sqlguard", charset="UTF-8"');
      expect((await fetch(url, { headers: { authorization: "Bearer metrics-token-012345678" } })).status).toBe(401);
      expect((await fetch(url, { headers: basic("prom:wrong") })).status).toBe(401);
      expect((await fetch(url, { method: "POST", headers: { authorization: "Bearer metrics-token-0123456789" } })).status).toBe(405);
      expect(sampleValue(await scrape(url, { authorization: "Bearer metrics-token-0123456789" }), "sqlguard_backups_running")).toBe(0);
      expect(sampleValue(await scrape(url, basic("prom:s3cret:with-colon")), "sqlguard_backups_running")).toBe(0);
    } finally {
      server.close();
    }
    // The variables: checked at boot with the rest of the environment.
    expect(parseMetricsAuth({ SQLGUARD_METRICS_TOKEN: "metrics-token-0123456789", SQLGUARD_METRICS_BASIC_AUTH: "" })).toEqual({
      token: "metrics-token-0123456789",
      basicAuth: undefined,
    });
    expect(() => parseConfig({ SQLGUARD_METRICS_TOKEN: "short", SQLGUARD_METRICS_BASIC_AUTH: "no-colon" })).toThrow(
      /SQLGUARD_METRICS_TOKEN: must be at least 16 characters[\s\S]*SQLGUARD_METRICS_BASIC_AUTH: must be user:password/,
    );
  });
});
