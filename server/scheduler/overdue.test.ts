import { afterEach, describe, expect, it } from "vitest";
import { dataOf } from "../testing/backup-helpers.ts";
import { assessHealth, type CoveringSchedule, type DatabaseCoverage } from "./overdue.ts";
import { schedulerFixture, type SchedulerFixture } from "./testing/scheduler-fixture.ts";

const MIN = 60_000;
const GRACE = 30 * MIN;
const at = (iso: string) => new Date(iso);
const schedule = (name: string, expression: string, timezone = "UTC", createdAt = "2026-01-01T00:00:00Z"): CoveringSchedule => ({
  id: name.length,
  name,
  spec: { expression, timezone },
  createdAt: at(createdAt),
});
const HOURLY = schedule("hourly", "0 * * * *");
const NIGHTLY_BERLIN = schedule("nightly", "0 2 * * *", "Europe/Berlin");

function entry(lastSuccessAt: string | null, schedules: CoveringSchedule[], serverCreatedAt = "2026-01-01T00:00:00Z"): DatabaseCoverage {
  return {
    serverId: 1,
    serverName: "db1",
    serverCreatedAt: at(serverCreatedAt),
    database: "shop",
    lastSuccessAt: lastSuccessAt ? at(lastSuccessAt) : null,
    schedules,
  };
}

describe("assessHealth (expected-by and overdue, simulated clock)", () => {
  it.each([
    // last success, now, expectedBy, overdue, late
    ["2026-06-10T10:00:05Z", "2026-06-10T10:59:00Z", "2026-06-10T11:30:00Z", false, []],
    ["2026-06-10T10:00:05Z", "2026-06-10T11:29:59Z", "2026-06-10T11:30:00Z", false, []],
    ["2026-06-10T10:00:05Z", "2026-06-10T11:30:01Z", "2026-06-10T11:30:00Z", true, ["hourly"]],
    ["2026-06-10T09:59:59Z", "2026-06-10T10:20:00Z", "2026-06-10T10:30:00Z", false, []],
    ["2026-06-08T10:00:00Z", "2026-06-10T10:20:00Z", "2026-06-08T11:30:00Z", true, ["hourly"]],
  ] as const)("hourly, 30 min grace: success %s, now %s → expected by %s, overdue %s", (last, now, expectedBy, overdue, late) => {
    const h = assessHealth(entry(last, [HOURLY]), at(now), GRACE);
    expect(h).toMatchObject({ expectedBy: at(expectedBy), overdue, lateSchedules: late, schedules: ["hourly"], database: "shop" });
  });

  it("takes the earliest expectation over several schedules, in each schedule's time zone (DST included)", () => {
    // 2026-03-29: Berlin moves from UTC+1 to UTC+2; 02:00 local does not exist that night, so croner runs at 03:00 CEST = 01:00Z.
    const h = assessHealth(entry("2026-03-28T01:00:10Z", [NIGHTLY_BERLIN, schedule("weekly", "0 0 * * 0")]), at("2026-03-29T01:20:00Z"), GRACE);
    expect(h.expectedBy).toEqual(at("2026-03-29T00:30:00Z"));
    expect(h.overdue).toBe(true);
    expect(h.lateSchedules).toEqual(["weekly"]);
    const after = assessHealth(entry("2026-03-29T00:00:30Z", [NIGHTLY_BERLIN]), at("2026-03-29T01:20:00Z"), GRACE);
    expect(after).toMatchObject({ expectedBy: at("2026-03-29T01:30:00Z"), overdue: false });
  });

  it("without any success, counts from when both the server and the schedule existed", () => {
    const s = schedule("hourly", "0 * * * *", "UTC", "2026-06-10T09:10:00Z");
    expect(assessHealth(entry(null, [s], "2026-06-10T08:00:00Z"), at("2026-06-10T10:20:00Z"), GRACE)).toMatchObject({
      expectedBy: at("2026-06-10T10:30:00Z"),
      overdue: false,
    });
    expect(assessHealth(entry(null, [s], "2026-06-10T08:00:00Z"), at("2026-06-10T10:31:00Z"), GRACE).overdue).toBe(true);
  });

  it("ignores a schedule whose expression no longer parses; no schedule means no expectation", () => {
    expect(assessHealth(entry(null, [schedule("broken", "not cron")]), at("2026-06-10T10:00:00Z"), GRACE)).toMatchObject({ expectedBy: null, overdue: false });
  });
});

describe("databaseHealth through GraphQL", () => {
  let f: SchedulerFixture | undefined;
  afterEach(async () => f?.close());

  it("lists scheduled databases with their expected-by time, overdue ones first", async () => {
    const now = new Date();
    f = await schedulerFixture({ start: now, scheduling: { overdueGraceMs: GRACE } });
    const id = await f.createSchedule({ name: "hourly", cronExpression: "0 * * * *" });
    const prisma = f.app.db.prisma;
    const longAgo = new Date(now.getTime() - 3 * 3_600_000);
    await prisma.schedule.update({ where: { id }, data: { createdAt: longAgo } });
    await prisma.server.update({ where: { id: f.serverId }, data: { createdAt: longAgo } });
    const row = (database: string, status: "SUCCEEDED" | "FAILED", startedAt: Date) => ({
      serverId: f!.serverId,
      serverName: "fake-1",
      engine: "MARIADB" as const,
      database,
      trigger: "SCHEDULED" as const,
      status,
      compression: "ZSTD" as const,
      startedAt,
    });
    await prisma.backup.createMany({
      data: [
        row("fresh", "SUCCEEDED", new Date(now.getTime() - 5 * MIN)),
        row("stale", "SUCCEEDED", longAgo),
        row("stale", "FAILED", new Date(now.getTime() - MIN)),
      ],
    });
    const viewer = await f.app.as("VIEWER");
    const query = `query($o: Boolean) { databaseHealth(overdueOnly: $o) { serverName database overdue lateSchedules expectedBy lastSuccessAt schedules } }`;
    const all = (dataOf(await viewer(query, {})) as { databaseHealth: Array<Record<string, unknown>> }).databaseHealth;
    expect(all.map((h) => [h.database, h.overdue])).toEqual([
      ["stale", true],
      ["fresh", false],
    ]);
    expect(all[0]).toMatchObject({ serverName: "fake-1", lateSchedules: ["hourly"], schedules: ["hourly"], lastSuccessAt: longAgo.toISOString() });
    expect(new Date(all[1]!.expectedBy as string).getTime()).toBeGreaterThan(now.getTime());
    const overdue = (dataOf(await viewer(query, { o: true })) as { databaseHealth: unknown[] }).databaseHealth;
    expect(overdue).toHaveLength(1);
  });
});
