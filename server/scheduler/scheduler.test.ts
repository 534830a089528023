import { afterEach, describe, expect, it } from "vitest";
import { dataOf } from "../testing/backup-helpers.ts";
import { nextDue } from "./due-times.ts";
import { schedulerFixture, type SchedulerFixture } from "./testing/scheduler-fixture.ts";

// One test uses a per-second schedule (allowed only when asked for).
process.env.SQLGUARD_CRON_SECONDS = "true";

const SCHEDULE = `query($id: ID!) { schedule(id: $id) { nextRunAt liveNextRunAt lastDueAt enabled } }`;
const UPDATE = `mutation($id: ID!, $input: ScheduleInput!) { updateSchedule(id: $id, input: $input) { id } }`;

let f: SchedulerFixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

async function scheduleView(fx: SchedulerFixture, id: number) {
  return (dataOf(await fx.admin(SCHEDULE, { id })) as { schedule: { nextRunAt: string | null; liveNextRunAt: string | null; lastDueAt: string | null } })
    .schedule;
}

async function waitFor(probe: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("the scheduler, reconciled from GraphQL changes", () => {
  it("creates, moves, disables and deletes a job without a restart; a tick records one backup per database", async () => {
    f = await schedulerFixture({ start: new Date("2026-06-10T10:02:30Z") });
    await f.app.scheduler.start();
    const id = await f.createSchedule({ name: "five-minutes", cronExpression: "*/5 * * * *", timezone: "Europe/Berlin" });
    await f.app.scheduler.idle();
    expect(await scheduleView(f, id)).toMatchObject({ liveNextRunAt: "2026-06-10T10:05:00.000Z" });

    await f.admin(UPDATE, { id, input: { cronExpression: "30 * * * *" } });
    await f.app.scheduler.idle();
    const moved = await scheduleView(f, id);
    expect(moved.liveNextRunAt).toBe("2026-06-10T10:30:00.000Z");
    // nextRunAt is computed from the row with the real clock; the live job agrees on the spec.
    expect(moved.nextRunAt).toBe(nextDue({ expression: "30 * * * *", timezone: "Europe/Berlin" }, new Date())!.toISOString());

    await f.clock.set("2026-06-10T10:30:00.400Z");
    expect(await f.cron.runDue()).toBe(1);
    await f.app.runner.idle();
    const [backup, ...more] = await f.backupsOf(id);
    expect(more).toEqual([]);
    expect(backup).toMatchObject({ trigger: "SCHEDULED", dueAt: new Date("2026-06-10T10:30:00Z"), status: "SUCCEEDED", database: "app" });
    expect((await scheduleView(f, id)).lastDueAt).toBe("2026-06-10T10:30:00.000Z");

    await f.admin(UPDATE, { id, input: { enabled: false } });
    await f.app.scheduler.idle();
    expect(await scheduleView(f, id)).toMatchObject({ nextRunAt: null, liveNextRunAt: null });
    expect(f.cron.names()).toEqual([]);

    await f.admin(UPDATE, { id, input: { enabled: true } });
    await f.app.scheduler.idle();
    expect(f.cron.names()).toEqual([`schedule-${id}`]);
    dataOf(await f.admin(`mutation($id: ID!) { deleteSchedule(id: $id) { id } }`, { id }));
    await f.app.scheduler.idle();
    expect(f.cron.names()).toEqual([]);
    await f.clock.advance(3 * 3_600_000);
    expect(await f.cron.runDue()).toBe(0);
    // The backup outlives its schedule (scheduleId set to null, the name kept).
    expect(await f.app.db.prisma.backup.count({ where: { scheduleName: "five-minutes" } })).toBe(1);
  });

  it("picks up changes made through another instance at the next poll; a stale job never runs", async () => {
    f = await schedulerFixture({ start: new Date("2026-06-10T10:00:30Z"), scheduling: { pollMs: 60_000 } });
    await f.app.scheduler.start();
    const id = await f.createSchedule({ name: "hourly", cronExpression: "0 * * * *" });
    await f.app.scheduler.idle();
    // Another instance changes the schedule: no onChange here, the poll notices.
    await f.app.db.prisma.schedule.update({ where: { id }, data: { cronExpression: "15 * * * *" } });
    await f.clock.set("2026-06-10T10:14:59Z");
    await f.app.scheduler.idle();
    expect((await scheduleView(f, id)).liveNextRunAt).toBe("2026-06-10T10:15:00.000Z");
    // Disabled elsewhere between two polls: the job still fires, finds it disabled, records nothing.
    await f.app.db.prisma.schedule.update({ where: { id }, data: { enabled: false } });
    await f.clock.set("2026-06-10T10:15:00.500Z");
    expect(await f.cron.runDue()).toBe(1);
    await f.app.scheduler.idle();
    expect(await f.backupsOf(id)).toEqual([]);
    expect(f.cron.names()).toEqual([]);
  });

  it("fires a per-second croner job on real time, and stops firing once it is deleted", { timeout: 60_000 }, async () => {
    f = await schedulerFixture({ realTime: true });
    await f.app.scheduler.start();
    const id = await f.createSchedule({ name: "every-second", cronExpression: "* * * * * *" });
    const fx = f;
    await waitFor(async () => (await fx.backupsOf(id)).length >= 3, "three ticks");
    dataOf(await f.admin(`mutation($id: ID!) { deleteSchedule(id: $id) { id } }`, { id }));
    await f.app.scheduler.idle();
    const rows = await f.app.db.prisma.backup.findMany({ where: { scheduleName: "every-second" } });
    await new Promise((r) => setTimeout(r, 1600));
    expect(await f.app.db.prisma.backup.count({ where: { scheduleName: "every-second" } })).toBe(rows.length);
    const due = rows.map((r) => r.dueAt!.getTime());
    expect(new Set(due).size).toBe(rows.length);
    for (const d of due) expect(d % 1000).toBe(0);
    expect(Math.max(...due) - Math.min(...due)).toBe((rows.length - 1) * 1000);
  });

  it("runs a due time missed while down once (RUN_ONCE) as CATCH_UP, only records it under SKIP", async () => {
    f = await schedulerFixture({ start: new Date("2026-06-10T10:20:00Z") });
    const once = await f.createSchedule({ name: "hourly-once", cronExpression: "0 * * * *", missedRunPolicy: "RUN_ONCE" });
    const skip = await f.createSchedule({ name: "hourly-skip", cronExpression: "0 * * * *", missedRunPolicy: "SKIP" });
    const handled = await f.createSchedule({ name: "hourly-handled", cronExpression: "0 * * * *" });
    const fresh = await f.createSchedule({ name: "hourly-fresh", cronExpression: "0 * * * *" });
    const prisma = f.app.db.prisma;
    const since = { createdAt: new Date("2026-06-10T06:00:00Z"), lastDueAt: new Date("2026-06-10T07:00:00Z") };
    await prisma.schedule.updateMany({ where: { id: { in: [once, skip] } }, data: since });
    await prisma.schedule.update({ where: { id: handled }, data: { ...since, lastDueAt: new Date("2026-06-10T10:00:00Z") } });
    await prisma.schedule.update({ where: { id: fresh }, data: { createdAt: new Date("2026-06-10T10:10:00Z") } });

    await f.app.scheduler.start();
    await f.app.runner.idle();
    expect(await f.backupsOf(once)).toMatchObject([{ trigger: "CATCH_UP", dueAt: new Date("2026-06-10T10:00:00Z"), status: "SUCCEEDED" }]);
    for (const id of [skip, handled, fresh]) expect(await f.backupsOf(id)).toEqual([]);
    const lastDue = await prisma.schedule.findMany({ where: { id: { in: [once, skip] } }, select: { lastDueAt: true } });
    expect(lastDue.map((s) => s.lastDueAt)).toEqual([new Date("2026-06-10T10:00:00Z"), new Date("2026-06-10T10:00:00Z")]);

    // A restart finds nothing missed any more.
    await f.app.scheduler.stop();
    await f.app.scheduler.start();
    expect(await f.backupsOf(once)).toHaveLength(1);
  });

  it("records SKIPPED for a database whose previous backup still runs, and queues the others", async () => {
    f = await schedulerFixture({ start: new Date("2026-06-10T10:20:00Z") });
    f.engine.options.databases = () => ["app", "crm"];
    const id = await f.createSchedule({ name: "hourly", cronExpression: "0 * * * *" });
    const running = await f.app.db.prisma.backup.create({
      data: {
        serverId: f.serverId,
        serverName: "fake-1",
        engine: "MARIADB",
        database: "app",
        scheduleId: id,
        scheduleName: "hourly",
        trigger: "SCHEDULED",
        status: "RUNNING",
        compression: "ZSTD",
        dueAt: new Date("2026-06-10T10:00:00Z"),
        heartbeatAt: new Date(),
      },
    });
    // The RUNNING row counts against the server's limit on every instance (the work queue's claim): leave room for crm.
    await f.app.db.prisma.server.update({ where: { id: f.serverId }, data: { maxConcurrent: 2 } });
    await f.app.scheduler.start();
    await f.clock.set("2026-06-10T11:00:00.010Z");
    await f.cron.runDue();
    await f.app.runner.idle();
    const tick = (await f.backupsOf(id)).filter((b) => b.dueAt?.getTime() === Date.parse("2026-06-10T11:00:00Z"));
    expect(tick.map((b) => [b.database, b.status])).toEqual([
      ["app", "SKIPPED"],
      ["crm", "SUCCEEDED"],
    ]);
    expect(tick[0]!.error).toBe(`skipped: backup ${running.id} of this schedule is still running`);
    expect(tick[0]!.artifacts).toEqual([]);
  });

  it("queues the databases a server held before when it cannot be listed, so the failures are recorded", async () => {
    f = await schedulerFixture({ start: new Date("2026-06-10T10:00:30Z") });
    const id = await f.createSchedule({ name: "hourly", cronExpression: "0 * * * *" });
    await f.app.scheduler.start();
    const tick = async (at: string) => {
      await f!.clock.set(at);
      await f!.cron.runDue();
      await f!.app.runner.idle();
    };
    f.engine.options.down = () => "connect ECONNREFUSED 127.0.0.1:3306";
    await tick("2026-06-10T11:00:01Z");
    expect(await f.backupsOf(id)).toEqual([]); // never backed up: nothing known to record
    f.engine.options.down = () => null;
    await tick("2026-06-10T12:00:01Z");
    f.engine.options.down = () => "connect ECONNREFUSED 127.0.0.1:3306";
    await tick("2026-06-10T13:00:01Z");
    const rows = await f.backupsOf(id);
    expect(rows.map((r) => [r.dueAt!.toISOString().slice(11, 16), r.database, r.status])).toEqual([
      ["12:00", "app", "SUCCEEDED"],
      ["13:00", "app", "FAILED"],
    ]);
    expect(rows[1]!.error).toContain("ECONNREFUSED");
  });

  it("runs a schedule now through the same code as a tick (operator role), triggered MANUAL", async () => {
    f = await schedulerFixture();
    const id = await f.createSchedule({ name: "nightly", cronExpression: "0 3 * * *" });
    const viewer = await f.app.as("VIEWER");
    expect((await viewer(`mutation($id: ID!) { runSchedule(id: $id) { id } }`, { id })).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const operator = await f.app.as("OPERATOR");
    const r = dataOf(await operator(`mutation($id: ID!) { runSchedule(id: $id) { id status trigger dueAt scheduleName database } }`, { id })) as {
      runSchedule: unknown[];
    };
    expect(r.runSchedule).toEqual([{ id: expect.any(String), status: "PENDING", trigger: "MANUAL", dueAt: null, scheduleName: "nightly", database: "app" }]);
    await f.app.runner.idle();
    expect((await f.backupsOf(id))[0]!.status).toBe("SUCCEEDED");
  });
});
