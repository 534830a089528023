import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { MANIFEST_SUFFIX } from "../runner/artifact-key.ts";
import { DAY, HOUR, OPERATOR, retentionFixture } from "./testing/retention-fixture.ts";

type Fixture = Awaited<ReturnType<typeof retentionFixture>>;
let f: Fixture | undefined;
afterEach(async () => {
  await f?.sweeper.stop();
  await f?.close();
  f = undefined;
});

const hoursBefore = (fx: Fixture, n: number) => new Date(fx.clock.now().getTime() - n * HOUR);
const keyOf = async (fx: Fixture, backupId: number, target: number) =>
  (await fx.prisma.backupArtifact.findFirstOrThrow({ where: { backupId, storageTargetId: target } })).key;

describe("the retention sweeper", () => {
  it("applies the rule per server and database: object and manifest first, then artifact and backup DELETED", async () => {
    f = await retentionFixture();
    const [t1] = f.targets;
    await f.rule(t1!, { keepLast: 2 });
    const shop = [4, 3, 2, 1].map((h) => f!.backup({ at: hoursBefore(f!, h) }));
    const crm = [4, 3, 2, 1].map((h) => f!.backup({ at: hoursBefore(f!, h), database: "crm", server: f!.servers[1] }));
    const ids = [...(await Promise.all(shop)), ...(await Promise.all(crm))];
    const keys = await Promise.all(ids.map((id) => keyOf(f!, id, t1!)));

    const summary = await f.sweeper.sweep();
    expect(summary).toMatchObject({ groups: 2, evaluated: 8, artifactsDeleted: 4, backupsDeleted: 4, failures: 0 });
    expect(await f.statuses(ids)).toEqual(["DELETED", "DELETED", "SUCCEEDED", "SUCCEEDED", "DELETED", "DELETED", "SUCCEEDED", "SUCCEEDED"]);
    const store = f.stores.get(t1!)!;
    expect(keys.map((k) => store.objects.has(k))).toEqual([false, false, true, true, false, false, true, true]);
    expect(keys.map((k) => store.objects.has(k + MANIFEST_SUFFIX))).toEqual([false, false, true, true, false, false, true, true]);
    const artifact = await f.prisma.backupArtifact.findFirstOrThrow({ where: { backupId: ids[0] } });
    expect(artifact).toMatchObject({ status: "DELETED", deletedAt: f.clock.now() });
    expect((await f.sweeper.sweep()).deletions).toEqual([]);
  });

  it("marks a backup DELETED only once no copy is left; cleans a failed copy's leftovers after the grace period", async () => {
    f = await retentionFixture();
    const [t1, t2] = f.targets as [number, number];
    await f.rule(t1, { keepLast: 1 });
    await f.rule(t2, { keepLast: 3 });
    const both = [{ target: t1 }, { target: t2 }];
    const old = await f.backup({ at: hoursBefore(f, 3), artifacts: both });
    const partial = await f.backup({ at: hoursBefore(f, 2), status: "PARTIAL", artifacts: [{ target: t1 }, { target: t2, status: "FAILED", leftover: true }] });
    const newest = await f.backup({ at: hoursBefore(f, 1), artifacts: both });
    await f.sweeper.sweep();
    expect(await f.statuses([old, partial, newest])).toEqual(["SUCCEEDED", "DELETED", "SUCCEEDED"]);
    const artifactsOf = async (id: number) =>
      (await f!.prisma.backupArtifact.findMany({ where: { backupId: id }, orderBy: { storageTargetId: "asc" } })).map((a) => a.status);
    expect(await artifactsOf(old)).toEqual(["DELETED", "STORED"]);
    // The partial backup's failed copy on t2 is not a keeper there; its leftover stays for the grace period.
    expect(await artifactsOf(partial)).toEqual(["DELETED", "FAILED"]);
    await f.clock.advance(8 * DAY);
    await f.rule(t2, { keepLast: 1 });
    await f.sweeper.sweep();
    expect(await f.statuses([old, partial, newest])).toEqual(["DELETED", "DELETED", "SUCCEEDED"]);
    expect(await artifactsOf(partial)).toEqual(["DELETED", "DELETED"]);
    expect(f.stores.get(t2)!.objects.has(await keyOf(f, partial, t2))).toBe(false);
  });

  it("leaves the record as it was when storage fails, and the next sweep retries", async () => {
    f = await retentionFixture();
    const [t1] = f.targets as [number];
    await f.rule(t1, { keepLast: 1 });
    const ids = [await f.backup({ at: hoursBefore(f, 2) }), await f.backup({ at: hoursBefore(f, 1) })];
    f.stores.get(t1)!.failDeletes = true;
    const failed = await f.sweeper.sweep();
    expect(failed).toMatchObject({ failures: 1, artifactsDeleted: 0, backupsDeleted: 0 });
    expect(failed.deletions).toEqual([expect.objectContaining({ backupId: ids[0], done: false, error: expect.stringContaining("simulated outage") })]);
    expect(await f.statuses(ids)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    expect((await f.prisma.backupArtifact.findFirstOrThrow({ where: { backupId: ids[0] } })).status).toBe("STORED");
    f.stores.get(t1)!.failDeletes = false;
    expect(await f.sweeper.sweep()).toMatchObject({ failures: 0, backupsDeleted: 1 });
    expect(await f.statuses(ids)).toEqual(["DELETED", "SUCCEEDED"]);
  });

  it("removes failed, cancelled and skipped runs and their leftovers only after the grace period", async () => {
    f = await retentionFixture();
    const [t1] = f.targets as [number];
    await f.rule(t1, { maxAgeDays: 30 });
    const good = await f.backup({ at: hoursBefore(f, 5) });
    const failed = await f.backup({ at: hoursBefore(f, 4), status: "FAILED", artifacts: [{ target: t1, status: "FAILED", leftover: true }] });
    const cancelled = await f.backup({ at: hoursBefore(f, 3), status: "CANCELLED" });
    const skipped = await f.backup({ at: hoursBefore(f, 2), status: "SKIPPED" });
    const running = await f.backup({ at: hoursBefore(f, 1), status: "RUNNING" });
    expect((await f.sweeper.sweep()).deletions).toEqual([]);
    await f.clock.advance(7 * DAY);
    const summary = await f.sweeper.sweep();
    expect(summary).toMatchObject({ recordsRemoved: 3, backupsDeleted: 0, failures: 0 });
    expect(await f.statuses([good, failed, cancelled, skipped, running])).toEqual(["SUCCEEDED", undefined, undefined, undefined, "RUNNING"]);
    expect([...f.stores.get(t1)!.objects.keys()].some((k) => k.endsWith(`/${failed}.sql.zst`))).toBe(false);
  });

  it("never empties the history while backups fail: 30 days of hourly runs, the last 10 failing", { timeout: 90_000 }, async () => {
    f = await retentionFixture(new Date("2026-03-01T00:00:00Z"));
    const [t1] = f.targets as [number];
    await f.rule(t1, { maxAgeDays: 7, minKeep: 3 });
    for (let day = 0; day < 30; day++) {
      const start = f.clock.now().getTime();
      await f.bulk(
        Array.from({ length: 24 }, (_, hour) => ({
          at: new Date(start + hour * HOUR + 5 * 60_000),
          status: day < 20 ? ("SUCCEEDED" as const) : ("FAILED" as const),
        })),
      );
      await f.clock.advance(DAY);
      await f.sweeper.sweep();
    }
    const kept = await f.prisma.backup.findMany({ where: { status: "SUCCEEDED" }, orderBy: { startedAt: "asc" } });
    expect(kept.map((b) => b.startedAt!.toISOString())).toEqual(["2026-03-20T21:05:00.000Z", "2026-03-20T22:05:00.000Z", "2026-03-20T23:05:00.000Z"]);
    for (const b of kept) expect(f.stores.get(t1)!.objects.has(await keyOf(f, b.id, t1))).toBe(true);
    // Failed runs stay for their 7-day grace period, then go.
    const failures = await f.prisma.backup.findMany({ where: { status: "FAILED" }, orderBy: { startedAt: "asc" } });
    expect(failures[0]!.startedAt!.getTime()).toBeGreaterThanOrEqual(f.clock.now().getTime() - 7 * DAY - HOUR);
    expect(await f.prisma.backup.count({ where: { status: "DELETED" } })).toBe(20 * 24 - 3);
  });

  it("previews exactly what the sweep then deletes, with reasons; reports unknown objects without deleting them", async () => {
    f = await retentionFixture(new Date("2026-03-10T12:00:00Z"));
    const [t1] = f.targets as [number];
    await f.rule(t1, { gfsDaily: 3, keepLast: 2, minKeep: 1 });
    for (let h = 1; h <= 24 * 5; h += 5) await f.backup({ at: hoursBefore(f, h), status: h % 3 === 0 ? "FAILED" : "SUCCEEDED" });
    await f.backup({ at: hoursBefore(f, 24 * 9), status: "FAILED" });
    const store = f.stores.get(t1)!;
    await store.put("stray/leftover.sql", Readable.from([Buffer.from("x")]));
    await store.put(".sqlguard-probe/abc", Readable.from([Buffer.from("x")]));

    const preview = await f.sweeper.preview(OPERATOR, f.schedule.id, t1);
    const planned = preview.groups.flatMap((g) => g.items).filter((i) => i.action === "DELETE");
    expect(planned.length).toBeGreaterThan(5);
    expect(planned.find((i) => i.status === "FAILED")!.reasons).toEqual(["delete: failed, past grace period"]);
    expect(preview.groups.flatMap((g) => g.items).find((i) => i.action === "KEEP" && i.status === "SUCCEEDED")!.reasons[0]).toMatch(/^keep: /);

    const summary = await f.sweeper.run(OPERATOR, {});
    expect(summary.deletions.map((d) => d.backupId).sort()).toEqual(planned.map((i) => i.backupId).sort());
    expect(summary.deletions.every((d) => d.done)).toBe(true);
    expect(summary.unknownObjectCount).toBe(1);
    expect(summary.unknownObjects).toEqual([expect.objectContaining({ key: "stray/leftover.sql", storageTargetId: t1, storageTargetName: "t1", bytes: 1 })]);
    expect(store.objects.has("stray/leftover.sql")).toBe(true);
    expect((await f.sweeper.preview(OPERATOR, f.schedule.id, t1)).groups.flatMap((g) => g.items).filter((i) => i.action === "DELETE")).toEqual([]);
    await expect(f.sweeper.run({ ...OPERATOR, role: "VIEWER" }, {})).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("leaves a disabled target alone, and sweeps a backup's group as soon as it ends", async () => {
    f = await retentionFixture();
    const [t1] = f.targets as [number];
    await f.rule(t1, { keepLast: 1 });
    const first = await f.backup({ at: hoursBefore(f, 2) });
    await f.prisma.storageTarget.update({ where: { id: t1 }, data: { enabled: false } });
    expect((await f.sweeper.preview(OPERATOR, f.schedule.id, t1)).note).toMatch(/disabled/);
    const second = await f.backup({ at: hoursBefore(f, 1) });
    expect((await f.sweeper.sweep()).deletions).toEqual([]);
    await f.prisma.storageTarget.update({ where: { id: t1 }, data: { enabled: true } });

    f.sweeper.start();
    f.events.emit({ type: "STATUS", backupId: second, status: "SUCCEEDED" });
    const deadline = Date.now() + 5000;
    while ((await f.statuses([first]))[0] !== "DELETED" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await f.statuses([first, second])).toEqual(["DELETED", "SUCCEEDED"]);
  });
});
