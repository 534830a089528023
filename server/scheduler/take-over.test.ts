import { afterEach, describe, expect, it } from "vitest";
import { SecretBox } from "../secrets/secret-box.ts";
import { createRuntime, type Runtime } from "../services.ts";
import { memoryLogger } from "../testing/test-db.ts";
import { ManualCronDriver } from "./cron-driver.ts";
import { schedulerFixture, type SchedulerFixture } from "./testing/scheduler-fixture.ts";

let f: SchedulerFixture | undefined;
const instances: Runtime[] = [];
afterEach(async () => {
  for (const r of instances.splice(0)) {
    await r.scheduler.stop();
    await r.runner.stop();
  }
  await f?.close();
  f = undefined;
});

/** An instance on the fixture's metadata database and simulated clock that fires only while `holds()`. */
function instance(fx: SchedulerFixture, instanceId: string, holds: () => boolean): { runtime: Runtime; cron: ManualCronDriver } {
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
    fires: holds,
  });
  instances.push(runtime);
  return { runtime, cron };
}

describe("the scheduler lease changing hands", () => {
  it("runs every tick due while nobody held the lease, and completes the one the dead holder was recording, each once", { timeout: 120_000 }, async () => {
    f = await schedulerFixture({ start: new Date("2026-06-10T10:00:30Z") });
    f.engine.options.databases = () => ["a", "b", "c"];
    await f.app.db.prisma.server.update({ where: { id: f.serverId }, data: { maxConcurrent: 6 } });
    let holder = "first";
    const first = instance(f, "first", () => holder === "first");
    const second = instance(f, "second", () => holder === "second");
    const id = await f.createSchedule({ name: "minutely", cronExpression: "* * * * *" });
    // Created on the simulated clock (the row's default is the real time).
    await f.app.db.prisma.schedule.update({ where: { id }, data: { createdAt: new Date("2026-06-10T10:00:00Z") } });
    await Promise.all([first.runtime.scheduler.start(), second.runtime.scheduler.start()]);
    const minute = async () => {
      await f!.clock.advance(60_000);
      await Promise.all([first.cron.runDue(), second.cron.runDue()]);
      await Promise.all([first.runtime.runner.idle(), second.runtime.runner.idle()]);
    };
    await minute(); // 10:01 and 10:02, recorded by the holder
    await minute();
    const lastRenewal = f.clock.now(); // 10:02:30: the first instance renews for the last time, then dies
    await minute(); // 10:03: it dies while recording this tick (one database written, lastDueAt not moved)
    holder = "";
    const prisma = f.app.db.prisma;
    const partial = await prisma.backup.findMany({ where: { scheduleId: id, dueAt: new Date("2026-06-10T10:03:00Z") }, orderBy: { id: "asc" } });
    await prisma.backup.deleteMany({ where: { id: { in: partial.slice(1).map((b) => b.id) } } });
    await prisma.schedule.update({ where: { id }, data: { lastDueAt: new Date("2026-06-10T10:02:00Z") } });
    await minute(); // 10:04 and 10:05: the lease has not expired yet, nobody fires
    await minute();
    // The second instance takes the lease over at 10:05:40 (lease 60 s: expired at 10:03:30, taken on a renewal).
    await f.clock.advance(10_000);
    holder = "second";
    await second.runtime.scheduler.tookOver({ from: "first", renewedAt: lastRenewal }, 60_000);
    await second.runtime.scheduler.idle();
    await second.runtime.runner.idle();
    await minute(); // 10:06: the new holder's own tick
    await second.runtime.runner.idle();

    const rows = await f.backupsOf(id);
    const byTick = new Map<string, string[]>();
    for (const r of rows) byTick.set(r.dueAt!.toISOString().slice(11, 16), [...(byTick.get(r.dueAt!.toISOString().slice(11, 16)) ?? []), r.database]);
    expect(Object.fromEntries([...byTick].map(([tick, dbs]) => [tick, dbs.sort().join(",")]))).toEqual({
      "10:01": "a,b,c",
      "10:02": "a,b,c",
      "10:03": "a,b,c",
      "10:04": "a,b,c",
      "10:05": "a,b,c",
      "10:06": "a,b,c",
    });
    // The completed tick keeps the dead holder's row; the gap's ticks are CATCH_UP by the new holder.
    const tick = (hhmm: string) => rows.filter((r) => r.dueAt!.toISOString().slice(11, 16) === hhmm);
    expect(
      tick("10:03")
        .filter((r) => r.instanceId === "first")
        .map((r) => r.id),
    ).toEqual([partial[0]!.id]);
    for (const hhmm of ["10:04", "10:05"]) expect(tick(hhmm).every((r) => r.trigger === "CATCH_UP" && r.instanceId === "second")).toBe(true);
    expect(tick("10:06").every((r) => r.trigger === "SCHEDULED")).toBe(true);
    // Gap ticks recorded one after the other: a database whose earlier backup was still queued is SKIPPED, never doubled.
    for (const r of rows) expect(["SUCCEEDED", "SKIPPED"]).toContain(r.status);
    expect(rows.filter((r) => r.status === "SKIPPED").every((r) => /^skipped: backup \d+ of this schedule is still (pending|running)$/.test(r.error!))).toBe(
      true,
    );
    expect((await prisma.schedule.findUniqueOrThrow({ where: { id } })).lastDueAt).toEqual(new Date("2026-06-10T10:06:00Z"));

    // A start after every instance was down (no take-over) still runs only the latest missed tick (RUN_ONCE).
    await second.runtime.scheduler.stop();
    await f.clock.advance(3 * 60_000);
    await second.runtime.scheduler.start();
    await second.runtime.scheduler.tookOver();
    await second.runtime.scheduler.idle();
    await second.runtime.runner.idle();
    const after = (await f.backupsOf(id)).filter((r) => r.dueAt! > new Date("2026-06-10T10:06:00Z"));
    expect(after.map((r) => [r.dueAt!.toISOString().slice(11, 16), r.trigger])).toEqual([
      ["10:09", "CATCH_UP"],
      ["10:09", "CATCH_UP"],
      ["10:09", "CATCH_UP"],
    ]);
  });
});
