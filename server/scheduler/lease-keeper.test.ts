import { afterEach, describe, expect, it } from "vitest";
import { BackupsRepository } from "../db/backups.repository.ts";
import type { PrismaClient } from "../db/client.ts";
import { SecretBox } from "../secrets/secret-box.ts";
import { createRuntime, type Runtime } from "../services.ts";
import { createTestDatabase, memoryLogger } from "../testing/test-db.ts";
import { ManualClock } from "./clock.ts";
import { ManualCronDriver } from "./cron-driver.ts";
import { LeaseKeeper } from "./lease-keeper.ts";
import { schedulerFixture, type SchedulerFixture } from "./testing/scheduler-fixture.ts";

let f: SchedulerFixture | undefined;
let second: Runtime | undefined;
afterEach(async () => {
  await second?.scheduler.stop();
  await second?.runner.stop();
  await f?.close();
  f = second = undefined;
});

/** A second instance on the same metadata database, with its own cron driver on the same simulated clock. */
function secondInstance(fx: SchedulerFixture, instanceId: string): { runtime: Runtime; cron: ManualCronDriver } {
  const cron = new ManualCronDriver(() => fx.clock.now());
  const runtime = createRuntime({
    prisma: fx.app.db.prisma,
    secrets: new SecretBox(fx.app.secretKey),
    logger: memoryLogger().logger,
    sessionTtlMs: 3_600_000,
    instanceId,
    limits: { maxConcurrent: 4, stallMs: 60_000, timeoutMs: 600_000, maxAttempts: 1, retryBaseMs: 50, heartbeatMs: 200 },
    engine: fx.engine,
    clock: fx.clock,
    cron,
  });
  return { runtime, cron };
}

describe("several instances on one metadata database", () => {
  it("record each due time of each database exactly once when both fire every tick", { timeout: 60_000 }, async () => {
    f = await schedulerFixture({ start: new Date("2026-06-10T10:00:30Z"), instanceId: "first" });
    f.engine.options.databases = () => ["a", "b", "c"];
    const other = secondInstance(f, "second");
    second = other.runtime;
    const id = await f.createSchedule({ name: "minutely", cronExpression: "* * * * *" });
    await Promise.all([f.app.scheduler.start(), second.scheduler.start()]);
    for (let minute = 0; minute < 4; minute++) {
      await f.clock.advance(60_000);
      await Promise.all([f.cron.runDue(), other.cron.runDue()]);
      await Promise.all([f.app.runner.idle(), second.runner.idle()]);
    }
    const rows = await f.backupsOf(id);
    const keys = rows.map((r) => `${r.dueAt!.toISOString()} ${r.database}`);
    expect(new Set(keys).size).toBe(rows.length);
    expect(rows).toHaveLength(4 * 3);
    expect(rows.every((r) => r.status === "SUCCEEDED")).toBe(true);
  });

  it("settles another instance's RUNNING backup whose lease expired and its own lost one, and leaves PENDING ones to the work queue", async () => {
    f = await schedulerFixture({ instanceId: "survivor", scheduling: { leaseMs: 30_000 } });
    const prisma = f.app.db.prisma;
    // The RUNNING rows count against the server's limit on every instance: leave room for the queued ones.
    await prisma.server.update({ where: { id: f.serverId }, data: { maxConcurrent: 4 } });
    const repo = new BackupsRepository(prisma);
    const now = f.clock.now();
    const old = new Date(now.getTime() - 5 * 60_000);
    const make = async (database: string, status: "RUNNING" | "PENDING", instanceId: string, heartbeatAt: Date) => {
      const b = await repo.create({
        serverId: f!.serverId,
        serverName: "fake-1",
        engine: "MARIADB",
        database,
        scheduleId: null,
        scheduleName: null,
        trigger: "MANUAL",
        dueAt: null,
        compression: "ZSTD",
        instanceId,
        storageTargetIds: [f!.targetId],
        keyOf: (row) => `fake-1/${database}/manual/${row.id}.sql.zst`,
      });
      await prisma.backup.update({ where: { id: b.id }, data: { status, heartbeatAt, ...(status === "RUNNING" ? { startedAt: old } : {}) } });
      return b.id;
    };
    const deadRunning = await make("app", "RUNNING", "dead", old);
    const liveRunning = await make("app", "RUNNING", "alive", now);
    const ownRunning = await make("app", "RUNNING", "survivor", old);
    const deadQueued = await make("app", "PENDING", "dead", old);
    const liveQueued = await make("app", "PENDING", "alive", now);

    const result = await f.app.leases.sweep();
    // This instance's own RUNNING row does not run in this process: it is settled too.
    expect(result).toEqual({ settled: [deadRunning, ownRunning], restores: [], drills: [], adopted: [] });
    const failed = await repo.get(deadRunning);
    expect(failed).toMatchObject({ status: "FAILED", finishedAt: now });
    expect(failed!.error).toMatch(/^interrupted: instance dead stopped renewing this backup's lease/);
    expect(failed!.artifacts.map((a) => a.status)).toEqual(["FAILED"]);
    expect(await repo.get(ownRunning)).toMatchObject({ status: "FAILED", error: "interrupted: its run on this instance ended without recording an outcome" });
    expect((await repo.get(liveRunning))!.status).toBe("RUNNING");

    // A PENDING backup belongs to no instance: whichever has a free slot claims and runs it, whoever queued it.
    await f.app.runner.idle();
    expect(await repo.get(deadQueued)).toMatchObject({ status: "SUCCEEDED", instanceId: "survivor" });
    expect(await repo.get(liveQueued)).toMatchObject({ status: "SUCCEEDED", instanceId: "survivor" });
    expect(await f.app.leases.sweep()).toEqual({ settled: [], restores: [], drills: [], adopted: [] });
  });
});

describe("the lease keeper after an outage of the metadata database", () => {
  it("gives other instances one lease length to renew before it judges their leases", async () => {
    const db = await createTestDatabase();
    try {
      let down = false;
      // The metadata database as the lease keeper sees it: refusing connections while `down`.
      const refused = () => Promise.reject(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:3306"), { code: "ECONNREFUSED" }));
      const backup = new Proxy(db.prisma.backup, {
        get: (target, prop) => {
          const value = Reflect.get(target, prop);
          return typeof value === "function" ? (...args: unknown[]) => (down ? refused() : value.apply(target, args)) : value;
        },
      });
      const prisma = new Proxy(db.prisma, { get: (target, prop) => (prop === "backup" ? backup : Reflect.get(target, prop)) }) as PrismaClient;
      const judged: boolean[] = [];
      const clock = new ManualClock("2026-06-10T10:00:00Z");
      const keeper = new LeaseKeeper({
        prisma,
        runner: { enqueue: () => {}, holds: () => false, held: () => [1] },
        interrupted: { sweep: async ({ others }) => (judged.push(others), { backups: [], restores: [], drills: [] }) },
        logger: memoryLogger().logger,
        clock,
        instanceId: "me",
        leaseMs: 30_000,
      });
      await keeper.sweep();
      down = true;
      await expect(keeper.renew()).rejects.toThrow(/ECONNREFUSED/);
      down = false;
      await keeper.renew();
      await keeper.sweep();
      await clock.advance(29_000);
      await keeper.sweep();
      await clock.advance(1_000);
      await keeper.sweep();
      expect(judged).toEqual([true, false, false, true]);
    } finally {
      await db.drop();
    }
  });
});
