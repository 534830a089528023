import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BackupsRepository } from "../db/backups.repository.ts";
import { memoryLogger } from "../testing/test-db.ts";
import { LeaseKeeper } from "../scheduler/lease-keeper.ts";
import { recordDrillEnd } from "../restore/drill-runner.ts";
import { connectionOf } from "../runner/connection-of.ts";
import { SecretBox } from "../secrets/secret-box.ts";
import { MANIFEST_SUFFIX } from "../runner/artifact-key.ts";
import type { BackupEvent } from "../runner/events.ts";
import { type SchedulerFixture, schedulerFixture } from "../scheduler/testing/scheduler-fixture.ts";
import { createTarget, dataOf, listFiles, runBackup, sha256File } from "../testing/backup-helpers.ts";
import { dropMariadbDatabase, mariadbExec, uniqueName } from "../testing/sample-databases.ts";

const LEASE_MS = 30_000;
let f: SchedulerFixture | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await f?.close();
  f = undefined;
});

async function fixture(): Promise<SchedulerFixture> {
  f = await schedulerFixture({ instanceId: "me", scheduling: { leaseMs: LEASE_MS } });
  return f;
}

/** A real (fake-engine) backup that ended SUCCEEDED: its artifact and manifest are on the target(s). */
async function storedBackup(fx: SchedulerFixture, storageTargetIds = [fx.targetId]): Promise<number> {
  const [b] = await runBackup(fx.admin, { serverId: fx.serverId, databases: ["app"], storageTargetIds });
  await fx.app.runner.idle();
  expect((await fx.app.db.prisma.backup.findUniqueOrThrow({ where: { id: b!.id } })).status).toBe("SUCCEEDED");
  return b!.id;
}

/**
 * Leaves a backup's artifact as a dump still streaming when its process died: only `<key>.partial`,
 * recorded in the upload journal as that process recorded it (only recorded partials are removed).
 */
async function leavePartial(fx: SchedulerFixture, id: number, instanceId: string): Promise<void> {
  const key = await keyOf(fx, id);
  fs.renameSync(path.join(fx.dir, key), path.join(fx.dir, `${key}.partial`));
  fs.rmSync(path.join(fx.dir, key + MANIFEST_SUFFIX));
  const past = new Date(fx.clock.now().getTime() - 3_600_000);
  await fx.app.db.prisma.storageUpload.create({ data: { storageTargetId: fx.targetId, key, instanceId, startedAt: past, heartbeatAt: past } });
}

/**
 * Puts a finished backup back as it was when its process died after committing the artifacts and
 * manifests but before recording them: RUNNING, artifacts PENDING, no sizes or checksum.
 */
async function asInterrupted(fx: SchedulerFixture, id: number, row: { instanceId: string; heartbeatAt: Date; cancelRequestedAt?: Date }): Promise<void> {
  const prisma = fx.app.db.prisma;
  await prisma.backup.update({
    where: { id },
    data: { status: "RUNNING", finishedAt: null, durationMs: null, sha256: null, rawBytes: null, storedBytes: null, error: null, ...row },
  });
  await prisma.backupArtifact.updateMany({ where: { backupId: id }, data: { status: "PENDING", sizeBytes: null, storedAt: null } });
}

function keyOf(fx: SchedulerFixture, id: number): Promise<string> {
  return fx.app.db.prisma.backupArtifact.findFirstOrThrow({ where: { backupId: id } }).then((a) => a.key);
}

function eventsOf(fx: SchedulerFixture): BackupEvent[] {
  const seen: BackupEvent[] = [];
  cleanups.push(fx.app.events.on((e) => seen.push(e)));
  return seen;
}

const ago = (fx: SchedulerFixture, ms: number) => new Date(fx.clock.now().getTime() - ms);

describe("settling an interrupted backup", () => {
  it("settles a run whose artifact and manifest were committed SUCCEEDED, with the manifest's figures", async () => {
    const fx = await fixture();
    const id = await storedBackup(fx);
    const recorded = await fx.app.db.prisma.backup.findUniqueOrThrow({ where: { id } });
    await asInterrupted(fx, id, { instanceId: "me", heartbeatAt: ago(fx, 10_000) });
    const events = eventsOf(fx);

    expect(await fx.app.leases.sweep()).toEqual({ settled: [id], restores: [], drills: [], adopted: [] });
    const row = await fx.app.db.prisma.backup.findUniqueOrThrow({ where: { id }, include: { artifacts: true } });
    expect(row).toMatchObject({ status: "SUCCEEDED", error: null, sha256: recorded.sha256, storedBytes: recorded.storedBytes, rawBytes: recorded.rawBytes });
    expect(row.artifacts).toMatchObject([{ status: "STORED", sizeBytes: recorded.storedBytes }]);
    expect(await sha256File(path.join(fx.dir, row.artifacts[0]!.key))).toBe(row.sha256);
    expect(events).toContainEqual({ type: "STATUS", backupId: id, status: "SUCCEEDED" });
  });

  it("fails a run whose artifact disagrees with its manifest, or has none, and removes what it left", async () => {
    const fx = await fixture();
    const tampered = await storedBackup(fx);
    const unmanifested = await storedBackup(fx);
    const partial = await storedBackup(fx);
    fs.appendFileSync(path.join(fx.dir, await keyOf(fx, tampered)), "x");
    fs.rmSync(path.join(fx.dir, (await keyOf(fx, unmanifested)) + MANIFEST_SUFFIX));
    await leavePartial(fx, partial, "me");
    for (const id of [tampered, unmanifested, partial]) await asInterrupted(fx, id, { instanceId: "me", heartbeatAt: ago(fx, 10_000) });

    const recovered = await fx.app.interrupted.recover();
    expect(recovered.backups.sort()).toEqual([tampered, unmanifested, partial].sort());
    const rows = await fx.app.db.prisma.backup.findMany({ where: { id: { in: [tampered, unmanifested, partial] } }, include: { artifacts: true } });
    for (const row of rows) {
      expect(row).toMatchObject({ status: "FAILED", error: "interrupted: SQLGuard stopped while this backup was running", sha256: null });
      expect(row.artifacts.map((a) => a.status)).toEqual(["FAILED"]);
    }
    for (const id of [tampered, unmanifested, partial]) expect(listFiles(fx.dir).filter((file) => file.includes(`_${id}.`))).toEqual([]);
  });

  it("leaves a row this instance claimed a moment ago to the next sweep, then settles it", async () => {
    const fx = await fixture();
    const id = await storedBackup(fx);
    // Claimed now (the work queue writes the claim's time) but not registered as running yet.
    await asInterrupted(fx, id, { instanceId: "me", heartbeatAt: fx.clock.now() });
    expect(await fx.app.leases.sweep()).toEqual({ settled: [], restores: [], drills: [], adopted: [] });
    expect((await fx.app.db.prisma.backup.findUniqueOrThrow({ where: { id } })).status).toBe("RUNNING");
    await fx.clock.advance(6_000);
    expect(await fx.app.leases.sweep()).toEqual({ settled: [id], restores: [], drills: [], adopted: [] });
    expect((await fx.app.db.prisma.backup.findUniqueOrThrow({ where: { id } })).status).toBe("SUCCEEDED");
  });

  it("settles PARTIAL when only some targets hold a committed copy", async () => {
    const fx = await fixture();
    const otherDir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-settle-"));
    cleanups.push(() => fs.rmSync(otherDir, { recursive: true, force: true }));
    const other = await createTarget(fx.admin, { name: "second-local", kind: "LOCAL", path: otherDir });
    const id = await storedBackup(fx, [fx.targetId, other]);
    fs.rmSync(path.join(otherDir, (await keyOf(fx, id)) + MANIFEST_SUFFIX));
    await asInterrupted(fx, id, { instanceId: "me", heartbeatAt: ago(fx, 10_000) });

    await fx.app.interrupted.recover();
    const row = await fx.app.db.prisma.backup.findUniqueOrThrow({ where: { id }, include: { artifacts: { orderBy: { storageTargetId: "asc" } } } });
    expect(row.status).toBe("PARTIAL");
    expect(row.error).toBe(`target ${other}: the artifact was stored but its manifest was not`);
    expect(row.artifacts.map((a) => a.status)).toEqual(["STORED", "FAILED"]);
    expect(listFiles(otherDir)).toEqual([]);
  });

  it("at start settles this instance's running backups; leaves every queued one in the work queue, and other instances' live ones", async () => {
    const fx = await fixture();
    const prisma = fx.app.db.prisma;
    const repo = new BackupsRepository(prisma);
    const make = async (instanceId: string, status: "PENDING" | "RUNNING") => {
      const b = await repo.create({
        serverId: fx.serverId,
        serverName: "fake-1",
        engine: "MARIADB",
        database: "app",
        scheduleId: null,
        scheduleName: null,
        trigger: "MANUAL",
        dueAt: null,
        compression: "ZSTD",
        instanceId,
        storageTargetIds: [fx.targetId],
        keyOf: (r) => `fake-1/app/manual/${r.id}.sql.zst`,
      });
      await prisma.backup.update({ where: { id: Number(b.id) }, data: { status, heartbeatAt: fx.clock.now() } });
      return b.id;
    };
    const queuedHere = await make("me", "PENDING");
    const runningHere = await make("me", "RUNNING");
    const queuedThere = await make("other", "PENDING");
    const runningThere = await make("other", "RUNNING");
    expect(await fx.app.interrupted.recover()).toEqual({ backups: [runningHere], restores: [], drills: [] });
    expect(await repo.get(runningHere)).toMatchObject({ status: "FAILED", error: "interrupted: SQLGuard stopped while this backup was running" });
    // A queued backup is a job in the work queue, whoever queued it: it stays PENDING for the next free slot.
    expect(await repo.get(queuedHere)).toMatchObject({ status: "PENDING", finishedAt: null });
    for (const id of [queuedThere, runningThere]) expect((await repo.get(id))!.finishedAt).toBeNull();
  });
});

describe("cancel always ends a backup", () => {
  const cancel = (fx: SchedulerFixture, id: number) =>
    fx
      .admin(`mutation($id: ID!) { cancelBackup(id: $id) { id status error } }`, { id })
      .then((r) => (dataOf(r) as { cancelBackup: { status: string; error: string | null } }).cancelBackup);

  it("settles at once a RUNNING backup that no live process runs", async () => {
    const fx = await fixture();
    const own = await storedBackup(fx);
    const expired = await storedBackup(fx);
    const committed = await storedBackup(fx);
    await leavePartial(fx, own, "me");
    await leavePartial(fx, expired, "gone");
    // This instance's, but not running in this process (its run ended without a record).
    await asInterrupted(fx, own, { instanceId: "me", heartbeatAt: ago(fx, 10_000) });
    // Another instance's, whose lease expired.
    await asInterrupted(fx, expired, { instanceId: "gone", heartbeatAt: ago(fx, LEASE_MS + 1000) });
    await asInterrupted(fx, committed, { instanceId: "me", heartbeatAt: ago(fx, 10_000) });

    for (const id of [own, expired]) {
      const row = await cancel(fx, id);
      expect(row.status).toBe("CANCELLED");
      expect(row.error).toMatch(/^cancelled by test-admin while no SQLGuard process was running it/);
      expect(listFiles(fx.dir).filter((file) => file.includes(`_${id}.`))).toEqual([]);
    }
    // Its work was done: a cancel comes too late to undo it.
    expect((await cancel(fx, committed)).status).toBe("SUCCEEDED");
  });

  it("asks a live instance to stop, and settles the backup as cancelled once that instance's lease expires", async () => {
    const fx = await fixture();
    const id = await storedBackup(fx);
    const key = await keyOf(fx, id);
    fs.renameSync(path.join(fx.dir, key), path.join(fx.dir, `${key}.partial`));
    fs.rmSync(path.join(fx.dir, key + MANIFEST_SUFFIX));
    await asInterrupted(fx, id, { instanceId: "other", heartbeatAt: fx.clock.now() });

    expect((await cancel(fx, id)).status).toBe("RUNNING");
    expect((await fx.app.db.prisma.backup.findUniqueOrThrow({ where: { id } })).cancelRequestedAt).not.toBeNull();
    expect((await fx.app.leases.sweep()).settled).toEqual([]);
    await fx.clock.advance(LEASE_MS + 1000);
    expect((await fx.app.leases.sweep()).settled).toEqual([id]);
    expect(await fx.app.db.prisma.backup.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: "CANCELLED" });
  });
});

describe("interrupted restores", () => {
  it("are settled by the same sweep and cancel: FAILED or CANCELLED, with the database they created dropped", async () => {
    const fx = await fixture();
    const backupId = await storedBackup(fx);
    const prisma = fx.app.db.prisma;
    const created = uniqueName("settle_rs");
    cleanups.push(() => dropMariadbDatabase(created));
    await mariadbExec([`CREATE DATABASE ${created}`]);
    const restore = (database: string, extra: { createdDatabase?: boolean; instanceId: string; heartbeatAt: Date }) =>
      prisma.restore.create({
        data: {
          backupId,
          artifactKey: "k",
          serverId: fx.serverId,
          serverName: "fake-1",
          engine: "MARIADB",
          sourceDatabase: "app",
          database,
          status: "RUNNING",
          requestedBy: "test",
          startedAt: extra.heartbeatAt,
          ...extra,
        },
      });
    const lost = await restore(created, { createdDatabase: true, instanceId: "me", heartbeatAt: fx.clock.now() });
    const live = await restore("elsewhere", { instanceId: "other", heartbeatAt: fx.clock.now() });
    const orphan = await restore("orphan", { instanceId: "gone", heartbeatAt: ago(fx, LEASE_MS + 1000) });

    expect(await fx.app.leases.sweep()).toEqual({ settled: [], restores: [lost.id, orphan.id], drills: [], adopted: [] });
    expect(await prisma.restore.findUniqueOrThrow({ where: { id: Number(lost.id) } })).toMatchObject({
      status: "FAILED",
      error: "interrupted: its run on this instance ended without recording an outcome",
    });
    expect(await mariadbExec([`SHOW DATABASES LIKE '${created}'`])).toEqual([[]]);
    expect((await prisma.restore.findUniqueOrThrow({ where: { id: Number(live.id) } })).status).toBe("RUNNING");

    await prisma.restore.update({ where: { id: Number(live.id) }, data: { instanceId: "me" } });
    const cancelled = dataOf(await fx.admin(`mutation($id: ID!) { cancelRestore(id: $id) { status error } }`, { id: live.id })) as {
      cancelRestore: { status: string; error: string };
    };
    expect(cancelled.cancelRestore).toEqual({ status: "CANCELLED", error: "cancelled by test-admin while no SQLGuard process was running it" });
  });
});

describe("interrupted restore drills", () => {
  it("end FAILED at the next start of their instance, with the scratch database dropped", async () => {
    const fx = await fixture();
    const backupId = await storedBackup(fx);
    const scratch = uniqueName("settle_drill");
    cleanups.push(() => dropMariadbDatabase(scratch));
    await mariadbExec([`CREATE DATABASE ${scratch}`]);
    const base = {
      backupId,
      serverId: fx.serverId,
      serverName: "fake-1",
      sourceServerName: "fake-1",
      database: "app",
      trigger: "MANUAL" as const,
      requestedBy: "t",
    };
    const own = await fx.app.db.prisma.restoreDrill.create({ data: { ...base, scratchDatabase: scratch, instanceId: "me" } });
    const other = await fx.app.db.prisma.restoreDrill.create({ data: { ...base, scratchDatabase: "elsewhere", instanceId: "other" } });
    await fx.app.interrupted.recover();
    expect(await fx.app.db.prisma.restoreDrill.findUniqueOrThrow({ where: { id: Number(own.id) } })).toMatchObject({
      status: "FAILED",
      error: "interrupted: SQLGuard stopped while this drill was running",
      scratchDropped: true,
    });
    expect(await mariadbExec([`SHOW DATABASES LIKE '${scratch}'`])).toEqual([[]]);
    expect((await fx.app.db.prisma.restoreDrill.findUniqueOrThrow({ where: { id: Number(other.id) } })).status).toBe("RUNNING");
  });

  it("of an instance that stopped renewing their lease end FAILED at another instance's sweep; renewed ones keep running", async () => {
    const fx = await fixture();
    const backupId = await storedBackup(fx);
    const scratch = uniqueName("dead_drill");
    cleanups.push(() => dropMariadbDatabase(scratch));
    await mariadbExec([`CREATE DATABASE ${scratch}`]);
    const prisma = fx.app.db.prisma;
    const base = {
      backupId,
      serverId: fx.serverId,
      serverName: "fake-1",
      sourceServerName: "fake-1",
      database: "app",
      trigger: "MANUAL" as const,
      requestedBy: "t",
    };
    const lastBeat = ago(fx, LEASE_MS + 5_000);
    // A pod that was replaced: its drill is RUNNING under an instance id that never starts again.
    const dead = await prisma.restoreDrill.create({
      data: { ...base, scratchDatabase: scratch, instanceId: "pod-gone", startedAt: ago(fx, LEASE_MS * 3), heartbeatAt: lastBeat },
    });
    const alive = await prisma.restoreDrill.create({ data: { ...base, scratchDatabase: "alive", instanceId: "pod-alive", heartbeatAt: ago(fx, 1_000) } });
    // This instance's drill, held by its running process: renewed by the lease keeper, never settled.
    const mine = await prisma.restoreDrill.create({ data: { ...base, scratchDatabase: "mine", instanceId: "me", heartbeatAt: lastBeat } });
    const keeper = new LeaseKeeper({ ...keeperDeps(fx), interrupted: fx.app.interrupted, drills: { held: () => [mine.id, alive.id] } });
    await keeper.renew();
    expect((await prisma.restoreDrill.findUniqueOrThrow({ where: { id: mine.id } })).heartbeatAt).toEqual(fx.clock.now());
    // Another instance's drill is renewed by that instance, not by this one.
    expect((await prisma.restoreDrill.findUniqueOrThrow({ where: { id: alive.id } })).heartbeatAt).toEqual(ago(fx, 1_000));

    expect((await keeper.sweep()).drills).toEqual([dead.id]);
    expect(await prisma.restoreDrill.findUniqueOrThrow({ where: { id: dead.id } })).toMatchObject({
      status: "FAILED",
      error: `interrupted: instance pod-gone stopped renewing this drill's lease (last heartbeat ${lastBeat.toISOString()}); it is presumed dead`,
      scratchDropped: true,
    });
    expect(await mariadbExec([`SHOW DATABASES LIKE '${scratch}'`])).toEqual([[]]);
    expect((await prisma.restoreDrill.findUniqueOrThrow({ where: { id: alive.id } })).status).toBe("RUNNING");
    expect((await prisma.restoreDrill.findUniqueOrThrow({ where: { id: mine.id } })).status).toBe("RUNNING");

    // Once this instance stops renewing its own drill (its run ended without recording an outcome), the sweep settles it too.
    await fx.clock.advance(LEASE_MS + 1_000);
    const sweeper = new LeaseKeeper({ ...keeperDeps(fx), interrupted: fx.app.interrupted });
    expect((await sweeper.sweep()).drills).toEqual([alive.id, mine.id]);
    expect(await prisma.restoreDrill.findUniqueOrThrow({ where: { id: mine.id } })).toMatchObject({
      status: "FAILED",
      error: "interrupted: its run on this instance ended without recording an outcome",
    });
  });

  it("a run that finishes after another instance settled its drill keeps the settled outcome and announces nothing", async () => {
    const fx = await fixture();
    const backupId = await storedBackup(fx);
    const prisma = fx.app.db.prisma;
    const running = await prisma.restoreDrill.create({
      data: {
        backupId,
        serverId: fx.serverId,
        serverName: "fake-1",
        sourceServerName: "fake-1",
        database: "app",
        scratchDatabase: uniqueName("late_drill"),
        trigger: "MANUAL",
        requestedBy: "t",
        instanceId: "pod-slow",
        heartbeatAt: ago(fx, LEASE_MS + 5_000),
      },
    });
    const sweeper = new LeaseKeeper({ ...keeperDeps(fx), interrupted: fx.app.interrupted });
    expect((await sweeper.sweep()).drills).toEqual([running.id]);
    const announced: string[] = [];
    cleanups.push(fx.app.restore.events.on((e) => e.type === "DRILL_FINISHED" && announced.push(e.status)));
    const secrets = new SecretBox(fx.app.secretKey);
    // The slow instance's run ends now, with a result it would record as PASSED.
    const backup = await prisma.backup.findUniqueOrThrow({ where: { id: backupId } });
    const server = await prisma.server.findUniqueOrThrow({ where: { id: fx.serverId } });
    const row = await recordDrillEnd(
      { prisma, secrets: secrets, storeFor: () => null as never, events: fx.app.restore.events, logger: memoryLogger().logger, instanceId: "pod-slow" },
      running,
      backup,
      connectionOf(server, secrets),
      { status: "PASSED", details: null, error: null, restoreMs: 5, bytes: 10 },
      false,
    );
    expect(row).toMatchObject({ status: "FAILED", error: expect.stringMatching(/^interrupted: instance pod-slow stopped renewing/), restoreMs: null });
    expect(announced).toEqual([]);
  });
});

/** A lease keeper of instance "me" on the fixture's database and clock, holding no backups. */
function keeperDeps(fx: SchedulerFixture) {
  return {
    prisma: fx.app.db.prisma,
    runner: { enqueue: () => {}, holds: () => false, held: () => [] },
    logger: memoryLogger().logger,
    clock: fx.clock,
    instanceId: "me",
    leaseMs: LEASE_MS,
  };
}

describe("heartbeats", () => {
  it("never renew a row that is not running on their instance", async () => {
    const fx = await fixture();
    const id = await storedBackup(fx);
    const old = ago(fx, LEASE_MS + 1000);
    await asInterrupted(fx, id, { instanceId: "other", heartbeatAt: old });
    const repo = new BackupsRepository(fx.app.db.prisma);
    expect(await repo.heartbeat(id, "me", 100)).toEqual({ cancelRequested: false, lost: true });
    expect((await repo.get(id))!.heartbeatAt).toEqual(old);
    expect(await repo.heartbeat(id, "other", 100)).toEqual({ cancelRequested: false, lost: false });
  });
});
