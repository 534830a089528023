// The restore tables and columns of migrations 20261123300000_restore and
// 20261202130000_restore_target_state_and_pins, written and read back through Prisma Client on a
// database built by the hand-written migrations.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "../db/client.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-db.ts";

let db: TestDatabase;
let prisma: PrismaClient;
beforeAll(async () => {
  db = await createTestDatabase();
  prisma = db.prisma;
});
afterAll(async () => {
  await db.drop();
});

const WEIRD = "we;ird $(x) ünï";

async function fixtures() {
  const server = await prisma.server.create({
    data: { name: `s-${Math.random()}`, engine: "POSTGRESQL", host: "h", port: 5432, username: "u", labels: {}, includeDatabases: [], excludeDatabases: [] },
  });
  const target = await prisma.storageTarget.create({ data: { name: `t-${Math.random()}`, kind: "LOCAL", path: "/x" } });
  const schedule = await prisma.schedule.create({
    data: { name: `sc-${Math.random()}`, cronExpression: "0 2 * * *", drillEnabled: true, drillServerId: server.id, drillCron: "0 4 * * 0" },
  });
  const backup = await prisma.backup.create({
    data: {
      serverId: server.id,
      serverName: server.name,
      engine: "POSTGRESQL",
      database: WEIRD,
      scheduleId: schedule.id,
      trigger: "SCHEDULED",
      compression: "ZSTD",
      tableStats: { format: "sqlguard-table-stats/1", tables: [{ name: "public.t", rows: 3 }], objects: [] },
    },
  });
  const artifact = await prisma.backupArtifact.create({
    data: {
      backupId: backup.id,
      storageTargetId: target.id,
      key: "k",
      status: "CORRUPT",
      verifyResult: "CORRUPT",
      verifyDetail: "checksum mismatch",
      verifiedAt: new Date(1_795_000_000_123),
    },
  });
  return { server, target, schedule, backup, artifact };
}

describe("Restore, RestoreDrill and the verification and drill columns", () => {
  it("round-trip every column, BigInt progress beyond 2^53 and binary-collated database names", async () => {
    const { server, target, schedule, backup, artifact } = await fixtures();
    expect(await prisma.schedule.findUniqueOrThrow({ where: { id: schedule.id } })).toMatchObject({
      drillEnabled: true,
      drillServerId: server.id,
      drillCron: "0 4 * * 0",
      lastDrillAt: null,
    });
    expect(await prisma.backupArtifact.findUniqueOrThrow({ where: { id: artifact.id } })).toMatchObject({
      verifyResult: "CORRUPT",
      verifyDetail: "checksum mismatch",
      verifiedAt: new Date(1_795_000_000_123),
    });
    expect((await prisma.backup.findUniqueOrThrow({ where: { id: backup.id } })).tableStats).toMatchObject({ tables: [{ name: "public.t", rows: 3 }] });

    const restore = await prisma.restore.create({
      data: {
        backupId: backup.id,
        storageTargetId: target.id,
        artifactKey: "k",
        serverId: server.id,
        serverName: server.name,
        engine: "POSTGRESQL",
        sourceDatabase: WEIRD,
        database: `${WEIRD}_restored`,
        requestedBy: "admin",
        totalBytes: 9_007_199_254_740_993n,
        progressBytes: 1n,
        targetState: "INCOMPLETE",
        targetDetail: `the tables of "${WEIRD}" were replaced`,
        scratchDatabase: "sqlguard_restore_0a1b2c3d",
      },
    });
    expect(restore).toMatchObject({ status: "PENDING", overwrite: false, createdDatabase: false, startedAt: null });
    expect(await prisma.restore.findUniqueOrThrow({ where: { id: restore.id } })).toMatchObject({
      targetState: "INCOMPLETE",
      targetDetail: `the tables of "${WEIRD}" were replaced`,
      scratchDatabase: "sqlguard_restore_0a1b2c3d",
    });
    const claimedAt = new Date(1_795_000_000_456);
    await prisma.backupArtifact.update({ where: { id: artifact.id }, data: { deletingAt: claimedAt } });
    const pin = await prisma.artifactPin.create({
      data: { artifactId: artifact.id, ownerKind: "VERIFICATION", ownerId: artifact.id, instanceId: "host:1", expiresAt: claimedAt },
    });
    expect(await prisma.backupArtifact.findUniqueOrThrow({ where: { id: artifact.id }, include: { pins: true } })).toMatchObject({
      deletingAt: claimedAt,
      pins: [{ id: pin.id, ownerKind: "VERIFICATION", expiresAt: claimedAt }],
    });
    const upper = await prisma.restore.create({
      data: { artifactKey: "k", serverName: "x", engine: "MARIADB", sourceDatabase: "Shop", database: "SHOP", requestedBy: "a" },
    });
    expect(await prisma.restore.findMany({ where: { database: "SHOP" }, select: { id: true } })).toEqual([{ id: upper.id }]);
    expect((await prisma.restore.findUniqueOrThrow({ where: { id: restore.id } })).totalBytes).toBe(9_007_199_254_740_993n);

    const drill = await prisma.restoreDrill.create({
      data: {
        backupId: backup.id,
        scheduleId: schedule.id,
        serverId: server.id,
        serverName: server.name,
        sourceServerName: server.name,
        database: WEIRD,
        scratchDatabase: "sqlguard_drill_1_ab",
        trigger: "AFTER_BACKUP",
        requestedBy: "scheduler",
        details: { passed: true, tables: [] },
        restoreMs: 1234,
        baseline: "CAPTURED",
      },
    });
    expect(drill).toMatchObject({ status: "RUNNING", scratchDropped: false, baseline: "CAPTURED", restoreMs: 1234 });
    expect(await prisma.backup.findUniqueOrThrow({ where: { id: backup.id }, include: { drills: true, restores: true } })).toMatchObject({
      drills: [{ id: drill.id }],
      restores: [{ id: restore.id }],
    });
  });

  it("keep restores and drills when their backup, server, target or schedule is deleted", async () => {
    const { server, target, schedule, backup } = await fixtures();
    const restore = await prisma.restore.create({
      data: {
        backupId: backup.id,
        storageTargetId: target.id,
        artifactKey: "k",
        serverId: server.id,
        serverName: server.name,
        engine: "POSTGRESQL",
        sourceDatabase: "a",
        database: "b",
        requestedBy: "x",
      },
    });
    const drill = await prisma.restoreDrill.create({
      data: {
        backupId: backup.id,
        scheduleId: schedule.id,
        serverId: server.id,
        serverName: server.name,
        sourceServerName: server.name,
        database: "a",
        scratchDatabase: "s",
        trigger: "MANUAL",
        requestedBy: "x",
      },
    });
    await prisma.backup.delete({ where: { id: backup.id } });
    await prisma.schedule.delete({ where: { id: schedule.id } });
    await prisma.storageTarget.delete({ where: { id: target.id } });
    await prisma.server.delete({ where: { id: server.id } });
    expect(await prisma.restore.findUniqueOrThrow({ where: { id: restore.id } })).toMatchObject({
      backupId: null,
      serverId: null,
      storageTargetId: null,
      serverName: server.name,
    });
    expect(await prisma.restoreDrill.findUniqueOrThrow({ where: { id: drill.id } })).toMatchObject({ backupId: null, scheduleId: null, serverId: null });
  });

  it("detach a schedule's drills from a deleted verification server", async () => {
    const { server, schedule } = await fixtures();
    await prisma.schedule.update({ where: { id: schedule.id }, data: { drillServerId: server.id } });
    await prisma.backup.deleteMany({ where: { serverId: server.id } });
    await prisma.server.delete({ where: { id: server.id } });
    expect(await prisma.schedule.findUniqueOrThrow({ where: { id: schedule.id } })).toMatchObject({ drillServerId: null, drillEnabled: true });
  });
});
