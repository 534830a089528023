import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf } from "../testing/backup-helpers.ts";
import { createTestApp } from "../testing/test-app.ts";

const HOUR = 3_600_000;

describe("dashboard", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;

  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it("classifies each database, measures its age against the RPO and totals the history", async () => {
    const p = app.db.prisma;
    const now = Date.now();
    const server = await p.server.create({
      data: {
        name: "dash",
        engine: "MARIADB",
        host: "127.0.0.1",
        port: 3306,
        username: "root",
        labels: { tier: "1", env: "prod" },
        includeDatabases: [],
        excludeDatabases: [],
      },
    });
    const local = await p.storageTarget.findFirstOrThrow({ where: { kind: "LOCAL" } });
    const hourly = await p.schedule.findFirstOrThrow({ where: { name: "hourly" } });
    const at = (hoursAgo: number) => new Date(now - hoursAgo * HOUR);
    const record = async (database: string, status: "SUCCEEDED" | "FAILED", hoursAgo: number, error: string | null = null) => {
      const b = await p.backup.create({
        data: {
          serverId: server.id,
          serverName: server.name,
          engine: "MARIADB",
          database,
          scheduleId: hourly.id,
          scheduleName: "hourly",
          trigger: "SCHEDULED",
          status,
          compression: "ZSTD",
          createdAt: at(hoursAgo),
          startedAt: at(hoursAgo),
          finishedAt: at(hoursAgo - 0.01),
          error,
          storedBytes: 1000n,
        },
      });
      if (status === "SUCCEEDED")
        await p.backupArtifact.create({ data: { backupId: b.id, storageTargetId: local.id, key: `k/${b.id}`, status: "STORED", sizeBytes: 1000n } });
    };
    await record("fresh", "SUCCEEDED", 0.2);
    await record("broken", "SUCCEEDED", 0.9);
    await record("broken", "FAILED", 0.1, "the dump exited with code 2: boom");
    await record("stale", "SUCCEEDED", 30);

    const viewer = await app.as("VIEWER");
    const { dashboard } = dataOf(
      await viewer(`{ dashboard { databases { serverName serverLabels { key value } database status ageSeconds rpoSeconds overdue lastError nextRunAt schedules }
        running { id } totals { backups backups24h successRate24h storage { target { name } bytes objects } } } }`),
    ) as { dashboard: any };
    const byName = Object.fromEntries(dashboard.databases.filter((d: any) => d.serverName === "dash").map((d: any) => [d.database, d]));
    expect(byName.fresh).toMatchObject({ status: "OK", rpoSeconds: 3600, overdue: false, lastError: null });
    expect(byName.fresh.ageSeconds).toBeGreaterThanOrEqual(700);
    expect(byName.fresh.ageSeconds).toBeLessThan(800);
    expect(byName.broken).toMatchObject({ status: "FAILING", lastError: "the dump exited with code 2: boom" });
    expect(byName.stale).toMatchObject({ status: "OVERDUE", overdue: true });
    expect(byName.fresh.schedules).toEqual(expect.arrayContaining(["hourly", "daily"]));
    // The server's labels, in key order, for the dashboard's label filter.
    expect(byName.fresh.serverLabels).toEqual([
      { key: "env", value: "prod" },
      { key: "tier", value: "1" },
    ]);
    expect(new Date(byName.fresh.nextRunAt).getTime()).toBeGreaterThan(now);
    // Problems first.
    expect(dashboard.databases[0].status).toBe("OVERDUE");
    expect(dashboard.totals).toMatchObject({ backups: 4, backups24h: 3 });
    expect(dashboard.totals.successRate24h).toBeCloseTo(2 / 3);
    expect(dashboard.totals.storage.find((s: any) => s.target.name === local.name)).toMatchObject({ bytes: "3000", objects: 3 });

    // The history size is cached, but a backup recorded since counts at once.
    await record("fresh", "SUCCEEDED", 0.05);
    app.events.emit({ type: "CREATED", backupId: 0 });
    const again = dataOf(await viewer(`{ dashboard { totals { backups backups24h } } }`)) as { dashboard: { totals: { backups: number; backups24h: number } } };
    expect(again.dashboard.totals).toEqual({ backups: 5, backups24h: 4 });
  });

  it("needs authentication", async () => {
    const r = await app.gql("{ dashboard { generatedAt } }");
    expect(r.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("answers for 15,000 databases on one server with each one's newest backup and last error (no statement grows with the databases: MariaDB takes 65,535 placeholders at most)", {
    timeout: 300_000,
  }, async () => {
    const p = app.db.prisma;
    const server = await p.server.create({
      data: { name: "dash-big", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", labels: {}, includeDatabases: [], excludeDatabases: [] },
    });
    const hourly = await p.schedule.findFirstOrThrow({ where: { name: "hourly" } });
    const now = Date.now();
    const row = (database: string, status: "SUCCEEDED" | "FAILED", minutesAgo: number) => ({
      serverId: server.id,
      serverName: server.name,
      engine: "MARIADB" as const,
      database,
      scheduleId: hourly.id,
      scheduleName: "hourly",
      trigger: "SCHEDULED" as const,
      status,
      compression: "ZSTD" as const,
      createdAt: new Date(now - minutesAgo * 60_000),
      startedAt: new Date(now - minutesAgo * 60_000),
      finishedAt: new Date(now - minutesAgo * 60_000 + 1000),
      error: status === "FAILED" ? `boom in ${database}` : null,
    });
    const names = Array.from({ length: 15_000 }, (_, i) => `big_${String(i).padStart(5, "0")}`);
    for (let i = 0; i < names.length; i += 5000) await p.backup.createMany({ data: names.slice(i, i + 5000).map((d) => row(d, "SUCCEEDED", 30)) });
    // Every third database failed after its success.
    await p.backup.createMany({ data: names.filter((_, i) => i % 3 === 0).map((d) => row(d, "FAILED", 10)) });

    const dashboard = await app.services.dashboard.get({ userId: 1, username: "viewer", role: "VIEWER", via: "session" });
    const mine = dashboard.databases.filter((d) => d.serverName === "dash-big");
    expect(mine).toHaveLength(15_000);
    const byName = new Map(mine.map((d) => [d.database, d]));
    names.forEach((name, i) => {
      const d = byName.get(name)!;
      if (i % 3 === 0) expect([d.status, d.lastError]).toEqual(["FAILING", `boom in ${name}`]);
      else expect([d.status, d.lastError, d.lastSuccessAt?.getTime()]).toEqual(["OK", null, now - 30 * 60_000]);
    });
  });
});
