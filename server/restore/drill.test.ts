import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, createTarget, dataOf, runBackup, waitForBackup, type BackupView } from "../testing/backup-helpers.ts";
import {
  createMariadbSample,
  createPgSample,
  dropMariadbDatabase,
  dropPgDatabase,
  mariadbExec,
  pgExec,
  POSTGRES,
  uniqueName,
} from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";
import type { RestoreEvent } from "./events.ts";
import { captureTableStats, saveTableStats } from "../runner/table-stats.ts";
import { eventually, flipByte } from "./testing/restore-helpers.ts";

const DRILL_FIELDS =
  "id status trigger baseline restoreMs durationMs restoredBytes details error scratchDatabase scratchDropped serverName sourceServerName database";
type DrillView = {
  id: number;
  status: string;
  trigger: string;
  baseline: string | null;
  restoreMs: number | null;
  details: string | null;
  error: string | null;
  scratchDatabase: string;
  scratchDropped: boolean;
  database: string;
};
const MARIA = { engine: "MARIADB" as const, host: "127.0.0.1", port: 3306, username: "root", password: null, tls: false };

/** Drills on the real servers: a scheduled backup drilled at once, strict comparisons, a broken artifact. */
describe("restore drills", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let operator: Awaited<ReturnType<typeof app.as>>;
  let localDir: string;
  let localId: number;
  let mariaId: number;
  let verifyId: number;
  const events: RestoreEvent[] = [];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-drill-"));
  const mariaDbs: string[] = [];
  const pgDbs: string[] = [];

  beforeAll(async () => {
    app = await createTestApp();
    app.restore.events.on((e) => events.push(e));
    admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    localDir = path.join(work, "local");
    localId = await createTarget(admin, { name: "dr-local", kind: "LOCAL", path: localDir });
    mariaId = await createServer(admin, { name: "maria-dr", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
    verifyId = await createServer(admin, {
      name: "maria-verify",
      engine: "MARIADB",
      host: "127.0.0.1",
      port: 3306,
      username: "root",
      includeDatabases: ["none"],
    });
  });

  afterAll(async () => {
    await app?.close();
    for (const db of mariaDbs) await dropMariadbDatabase(db);
    for (const db of pgDbs) await dropPgDatabase(db);
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function schedule(name: string, serverId: number): Promise<number> {
    const r = dataOf(
      await admin(`mutation($input: ScheduleInput!) { createSchedule(input: $input) { id } }`, {
        input: { name, cronExpression: "0 3 * * *", serverIds: [serverId], storageTargetIds: [localId] },
      }),
    );
    return Number((r as { createSchedule: { id: string } }).createSchedule.id);
  }

  async function drillsOf(backupId: number): Promise<DrillView[]> {
    return (dataOf(await operator(`query($b: ID!) { backup(id: $b) { drills { ${DRILL_FIELDS} } } }`, { b: backupId })) as { backup: { drills: DrillView[] } })
      .backup.drills;
  }

  async function finishedDrill(backupId: number, count = 1): Promise<DrillView> {
    return eventually(async () => {
      const drills = await drillsOf(backupId);
      return drills.length >= count && drills.every((d) => d.status !== "RUNNING") ? drills.at(-1)! : undefined;
    }, `drill ${count} of backup ${backupId}`);
  }

  async function drill(backupId: number, serverId = verifyId): Promise<DrillView> {
    const before = (await drillsOf(backupId)).length;
    dataOf(await operator(`mutation($b: ID!, $s: ID!) { runRestoreDrill(backupId: $b, serverId: $s) { id status } }`, { b: backupId, s: serverId }));
    return finishedDrill(backupId, before + 1);
  }

  const databaseExists = async (name: string) => ((await mariadbExec([`SHOW DATABASES LIKE '${name}'`]))[0] as unknown[]).length > 0;

  it("drills a scheduled backup right after it succeeds: PASSED with an RTO, against the stats captured at dump time, scratch dropped", async () => {
    const source = uniqueName("dr");
    mariaDbs.push(source);
    await createMariadbSample(source, { rows: 80 });
    const scheduleId = await schedule("dr-nightly", mariaId);
    const set = dataOf(
      await admin(
        `mutation($id: ID!, $s: ID!) { setScheduleDrill(scheduleId: $id, input: { enabled: true, serverId: $s }) { drillEnabled drillCron drillServer { id } } }`,
        { id: scheduleId, s: verifyId },
      ),
    );
    expect(set).toEqual({ setScheduleDrill: { drillEnabled: true, drillCron: null, drillServer: { id: String(verifyId) } } });

    const server = await app.db.prisma.server.findUniqueOrThrow({ where: { id: mariaId }, include: { dumpOptions: true } });
    const [queued] = await app.services.backups.queue({
      server,
      databases: [source],
      storageTargetIds: [localId],
      schedule: { id: scheduleId, name: "dr-nightly" },
      trigger: "SCHEDULED",
      dueAt: new Date(),
    });
    expect((await waitForBackup(operator, queued!.id)).status).toBe("SUCCEEDED");
    const result = await finishedDrill(queued!.id);
    expect(result.error).toBeNull();
    expect(result).toMatchObject({ status: "PASSED", trigger: "AFTER_BACKUP", baseline: "CAPTURED", scratchDropped: true, database: source });
    expect(result.restoreMs).toBeGreaterThan(0);
    // The runner captured the tables and objects (no row counts: the drill takes them from the dump)
    // because the schedule drills: on the record and in the manifest.
    const record = await app.db.prisma.backup.findUniqueOrThrow({ where: { id: queued!.id }, include: { artifacts: true } });
    expect((record.tableStats as { tables: Array<{ name: string; rows: number }> }).tables).toContainEqual({ name: "customers", rows: null });
    const manifest = JSON.parse(fs.readFileSync(path.join(localDir, `${record.artifacts[0]!.key}.manifest.json`), "utf8"));
    expect(manifest.tableStats.tables).toContainEqual({ name: "customers", rows: null });
    const details = JSON.parse(result.details!) as { notes: string[]; tables: Array<{ name: string; status: string; actualRows: number }> };
    expect(details.tables).toContainEqual({ name: "customers", expectedRows: 80, actualRows: 80, status: "OK" });
    expect(details.tables.map((t) => [t.name, t.status])).toEqual([
      ["audit", "OK"],
      ["customers", "OK"],
      ["empty_table", "OK"],
      ["files", "OK"],
    ]);
    expect(await databaseExists(result.scratchDatabase)).toBe(false);

    expect(await app.services.drills.runDrillFor(queued!.id)).toBeNull(); // one drill per backup
    const perDatabase = dataOf(
      await operator(`query($d: String!) { restoreDrills(serverName: "maria-dr", database: $d) { nodes { id restoreMs } totalCount } }`, { d: source }),
    ) as { restoreDrills: { nodes: Array<{ id: number }>; totalCount: number } };
    expect(perDatabase.restoreDrills.nodes.map((d) => d.id)).toEqual([result.id]);
    expect(perDatabase.restoreDrills.totalCount).toBe(1);
    expect(events).toContainEqual(expect.objectContaining({ type: "DRILL_FINISHED", drillId: Number(result.id), status: "PASSED" }));
  });

  it("compares strictly with the tables and objects captured at dump time, and fails when they disagree", async () => {
    const source = uniqueName("dr_stats");
    mariaDbs.push(source);
    await createMariadbSample(source, { rows: 30 });
    const stats = await captureTableStats(MARIA, source); // the runner's hook, right before the dump
    expect(stats.tables.find((t) => t.name === "customers")?.rows).toBe(30);
    expect(stats.objects).toEqual(
      expect.arrayContaining(["VIEW customer_files", "PROCEDURE count_customers", "FUNCTION shout", "TRIGGER customers_ai ON customers"]),
    );
    const [b] = await runBackup(operator, { serverId: mariaId, databases: [source], storageTargetIds: [localId] });
    await waitForBackup(operator, b!.id);
    await saveTableStats(app.db.prisma, b!.id, stats);
    await mariadbExec(["INSERT INTO customers (name) VALUES ('after the backup')"], source);

    const passed = await drill(b!.id);
    expect(passed).toMatchObject({ status: "PASSED", baseline: "CAPTURED", trigger: "MANUAL", error: null });

    // Row counts in the capture play no part (the dump's own rows do); its table list does.
    await saveTableStats(app.db.prisma, b!.id, { ...stats, tables: [...stats.tables.map((t) => ({ ...t, rows: 31 })), { name: "ghost", rows: 1 }] });
    const failed = await drill(b!.id);
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toBe("table ghost is missing from the restored database");
    expect(JSON.parse(failed.details!).tables).toContainEqual({ name: "customers", expectedRows: 30, actualRows: 30, status: "OK" });
    expect(JSON.parse(failed.details!).tables).toContainEqual({ name: "ghost", expectedRows: null, actualRows: null, status: "MISSING" });
    expect(await databaseExists(failed.scratchDatabase)).toBe(false);
  });

  it("fails a drill of a deliberately broken artifact with a checksum mismatch, marks it CORRUPT and leaves nothing", async () => {
    const source = uniqueName("dr_broken");
    mariaDbs.push(source);
    await createMariadbSample(source, { rows: 40 });
    const [b] = await runBackup(operator, { serverId: mariaId, databases: [source], storageTargetIds: [localId] });
    const backup: BackupView = await waitForBackup(operator, b!.id);
    flipByte(path.join(localDir, backup.artifacts[0]!.key));
    const failed = await drill(backup.id);
    expect(failed).toMatchObject({ status: "FAILED", scratchDropped: true, restoreMs: null });
    expect(failed.error).toMatch(/^checksum mismatch: the artifact's SHA-256 is [0-9a-f]{64}, the backup recorded/);
    expect(await databaseExists(failed.scratchDatabase)).toBe(false);
    expect(await app.db.prisma.backupArtifact.findFirstOrThrow({ where: { backupId: Number(backup.id) } })).toMatchObject({
      status: "CORRUPT",
      verifyResult: "CORRUPT",
    });
    expect(events).toContainEqual(expect.objectContaining({ type: "DRILL_FINISHED", drillId: Number(failed.id), status: "FAILED" }));
  });

  it("drills PostgreSQL on the schedule's own drill cron instead of after each backup", async () => {
    const source = uniqueName("dr_pg");
    pgDbs.push(source);
    await createPgSample(source);
    const pgId = await createServer(admin, { name: "pg-dr", engine: "POSTGRESQL", host: "127.0.0.1", port: 5432, username: POSTGRES.user });
    const scheduleId = await schedule("dr-pg", pgId);
    dataOf(
      await admin(`mutation($id: ID!, $s: ID!) { setScheduleDrill(scheduleId: $id, input: { enabled: true, serverId: $s, cron: "*/5 * * * *" }) { id } }`, {
        id: scheduleId,
        s: pgId,
      }),
    );
    const server = await app.db.prisma.server.findUniqueOrThrow({ where: { id: pgId }, include: { dumpOptions: true } });
    const [queued] = await app.services.backups.queue({
      server,
      databases: [source],
      storageTargetIds: [localId],
      schedule: { id: scheduleId, name: "dr-pg" },
      trigger: "SCHEDULED",
      dueAt: new Date(),
    });
    expect((await waitForBackup(operator, queued!.id)).status).toBe("SUCCEEDED");
    expect(await app.services.drills.runDrillFor(queued!.id)).toBeNull();
    expect(await app.services.drills.runDueDrills()).toEqual([]); // the cron has not fired since it was set

    await app.db.prisma.schedule.update({ where: { id: scheduleId }, data: { lastDrillAt: new Date(Date.now() - 10 * 60_000) } });
    const [cronDrill] = await app.services.drills.runDueDrills();
    expect(cronDrill).toMatchObject({ status: "PASSED", trigger: "CRON", baseline: "CAPTURED", backupId: queued!.id, scratchDropped: true });
    expect((cronDrill!.details as { tables: Array<{ name: string; actualRows: number }> }).tables).toContainEqual({
      name: "public.items",
      expectedRows: 300,
      actualRows: 300,
      status: "OK",
    });
    expect(await pgExec([`SELECT datname FROM pg_database WHERE datname = '${cronDrill!.scratchDatabase}'`])).toEqual([[]]);
    expect(await app.services.drills.runDueDrills()).toEqual([]);
  });

  it("keeps drill settings to admins, and names the field at fault", async () => {
    const scheduleId = await schedule("dr-settings", mariaId);
    const cases: Array<[typeof admin, Record<string, unknown>, string, string | undefined]> = [
      [operator, { enabled: true, serverId: verifyId }, "FORBIDDEN", undefined],
      [admin, { enabled: true }, "BAD_USER_INPUT", "serverId"],
      [admin, { enabled: true, serverId: 99_999 }, "BAD_USER_INPUT", "serverId"],
      [admin, { enabled: true, serverId: verifyId, cron: "every day" }, "BAD_USER_INPUT", "cron"],
    ];
    for (const [client, input, code, field] of cases) {
      const r = await client(`mutation($id: ID!, $input: ScheduleDrillInput!) { setScheduleDrill(scheduleId: $id, input: $input) { id } }`, {
        id: scheduleId,
        input,
      });
      expect(r.errors?.[0]?.extensions, JSON.stringify(input)).toMatchObject({ code, ...(field ? { field } : {}) });
    }
    const pgBackup = await app.db.prisma.backup.findFirst({ where: { engine: "POSTGRESQL" } });
    const wrongEngine = await operator(`mutation($b: ID!, $s: ID!) { runRestoreDrill(backupId: $b, serverId: $s) { id } }`, { b: pgBackup!.id, s: verifyId });
    expect(wrongEngine.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "serverId" });
    const audit = dataOf(
      await admin(`query($id: String!) { auditLog(entityType: "schedule", entityId: $id) { nodes { action } } }`, { id: String(scheduleId) }),
    ) as {
      auditLog: { nodes: Array<{ action: string }> };
    };
    expect(audit.auditLog.nodes.filter((a) => a.action === "schedule.drill")).toHaveLength(0);
  });
});
