import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { SchedulingConfig } from "../../config/env.ts";
import { createServer, createTarget, dataOf } from "../../testing/backup-helpers.ts";
import { createTestApp } from "../../testing/test-app.ts";
import { ManualClock } from "../clock.ts";
import { ManualCronDriver } from "../cron-driver.ts";
import { fakeEngine } from "./fake-engine.ts";

/** What schedulerFixture returns. */
export type SchedulerFixture = Awaited<ReturnType<typeof schedulerFixture>>;

/**
 * The in-memory app over a fresh metadata database with simulated time (a ManualClock and a
 * ManualCronDriver, unless `realTime`), a fake dump engine, one server and one local target, and
 * none of the seeded schedules (they would fire on the simulated clock). Nothing runs in the
 * background until the test starts the scheduler, the leases or the sweeper.
 */
export async function schedulerFixture(options: { start?: Date; realTime?: boolean; scheduling?: Partial<SchedulingConfig>; instanceId?: string } = {}) {
  const clock = new ManualClock(options.start ?? new Date());
  const cron = new ManualCronDriver(() => clock.now());
  const engine = fakeEngine();
  const app = await createTestApp({
    engine,
    instanceId: options.instanceId,
    scheduling: options.scheduling,
    ...(options.realTime ? {} : { clock, cron }),
  });
  await app.db.prisma.schedule.deleteMany({});
  const admin = await app.as("ADMIN");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-sched-"));
  const targetId = await createTarget(admin, { name: "sched-local", kind: "LOCAL", path: dir });
  const serverId = await createServer(admin, { name: "fake-1", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });

  /** Creates a schedule through GraphQL; returns its id. */
  async function createSchedule(input: Record<string, unknown>): Promise<number> {
    const r = await admin(`mutation($input: ScheduleInput!) { createSchedule(input: $input) { id } }`, {
      input: { serverIds: [serverId], storageTargetIds: [targetId], ...input },
    });
    return Number((dataOf(r) as { createSchedule: { id: string } }).createSchedule.id);
  }

  /** Backups of a schedule, oldest first. */
  function backupsOf(scheduleId: number) {
    return app.db.prisma.backup.findMany({ where: { scheduleId }, orderBy: { id: "asc" }, include: { artifacts: true } });
  }

  return {
    app,
    admin,
    clock,
    cron,
    engine,
    dir,
    targetId,
    serverId,
    createSchedule,
    backupsOf,
    close: async () => {
      await app.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
