// Every model of prisma/schema.prisma written and read back through Prisma Client on a database
// built by the hand-written migrations: nothing else checks that the SQL matches the schema.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../testing/test-db.ts";
import { Prisma, type PrismaClient } from "./client.ts";

let db: TestDatabase;
let prisma: PrismaClient;
beforeEach(async () => {
  db = await createTestDatabase();
  prisma = db.prisma;
});
afterEach(async () => {
  await db.drop();
});

/** Resolves to the Prisma error code a rejected write carries (e.g. P2002 for a unique violation). */
async function errorCodeOf(write: Promise<unknown>): Promise<string> {
  const error = await write.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "the write should have been rejected").toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
  return (error as Prisma.PrismaClientKnownRequestError).code;
}

const UNIQUE_VIOLATION = "P2002";
const WEIRD_DATABASE = "we;ird $(x) ünï";
const BEYOND_2_53 = 9_007_199_254_740_993n;

function serverData(name: string) {
  return { name, engine: "MARIADB" as const, host: "db.internal", port: 3306, username: "backup", labels: {}, includeDatabases: [], excludeDatabases: [] };
}

function backupData(serverId: number, scheduleId: number | null, database: string, dueAt: Date | null) {
  return { serverId, serverName: "prod", engine: "MARIADB" as const, database, scheduleId, trigger: "SCHEDULED" as const, dueAt, compression: "ZSTD" as const };
}

describe("Server and DumpOptions", () => {
  it("round-trip every column, JSON labels and glob lists included", async () => {
    const options = await prisma.dumpOptions.create({
      data: {
        name: "innodb",
        description: "consistent",
        singleTransaction: false,
        quick: false,
        routines: false,
        triggers: false,
        events: false,
        hexBlob: false,
        setGtidPurged: "OFF",
        columnStatistics: false,
        pgFormat: "CUSTOM",
        noOwner: false,
        noPrivileges: true,
        mysqlExtraFlags: ["--skip-lock-tables", "--max-allowed-packet=512M"],
        pgExtraFlags: ["--no-comments"],
        compression: "GZIP",
        compressionLevel: 9,
      },
    });
    const created = await prisma.server.create({
      data: {
        name: "prod-eu",
        engine: "MYSQL",
        host: "10.0.0.5",
        port: 3307,
        username: "sqlguard",
        passwordEnc: "v1:c2VhbGVk",
        tls: true,
        allowPublicKeyRetrieval: false,
        enabled: false,
        labels: { env: "prod", region: "eu-west", "team/owner": "données" },
        includeDatabases: ["shop_*", "crm"],
        excludeDatabases: ["shop_tmp*"],
        maxConcurrent: 3,
        dumpOptionsId: options.id,
      },
    });

    const read = await prisma.server.findUniqueOrThrow({ where: { id: created.id }, include: { dumpOptions: true } });
    expect(read).toEqual({ ...created, dumpOptions: options });
    expect(read.labels).toEqual({ env: "prod", region: "eu-west", "team/owner": "données" });
    expect(read.includeDatabases).toEqual(["shop_*", "crm"]);
    expect(read.excludeDatabases).toEqual(["shop_tmp*"]);
    expect(read.dumpOptions).toMatchObject({ setGtidPurged: "OFF", columnStatistics: false, pgFormat: "CUSTOM", compression: "GZIP", compressionLevel: 9 });
    expect(read.dumpOptions?.mysqlExtraFlags).toEqual(["--skip-lock-tables", "--max-allowed-packet=512M"]);
  });

  it("apply the schema defaults", async () => {
    const options = await prisma.dumpOptions.create({ data: { name: "defaults", mysqlExtraFlags: [], pgExtraFlags: [] } });
    expect(options).toMatchObject({
      description: null,
      singleTransaction: true,
      quick: true,
      routines: true,
      triggers: true,
      events: true,
      hexBlob: true,
      setGtidPurged: null,
      columnStatistics: null,
      pgFormat: "PLAIN",
      noOwner: true,
      noPrivileges: false,
      compression: "ZSTD",
      compressionLevel: 3,
    });
    const server = await prisma.server.create({ data: serverData("minimal") });
    expect(server).toMatchObject({ passwordEnc: null, tls: false, allowPublicKeyRetrieval: true, enabled: true, maxConcurrent: 1, dumpOptionsId: null });
    expect(server.createdAt).toBeInstanceOf(Date);
    expect(server.updatedAt).toBeInstanceOf(Date);
  });

  it("keep names unique and detach servers from a deleted profile", async () => {
    const options = await prisma.dumpOptions.create({ data: { name: "shared", mysqlExtraFlags: [], pgExtraFlags: [] } });
    const server = await prisma.server.create({ data: { ...serverData("a"), dumpOptionsId: options.id } });
    expect(await errorCodeOf(prisma.server.create({ data: serverData("a") }))).toBe(UNIQUE_VIOLATION);
    expect(await errorCodeOf(prisma.dumpOptions.create({ data: { name: "shared", mysqlExtraFlags: [], pgExtraFlags: [] } }))).toBe(UNIQUE_VIOLATION);

    await prisma.dumpOptions.delete({ where: { id: options.id } });
    expect((await prisma.server.findUniqueOrThrow({ where: { id: server.id } })).dumpOptionsId).toBeNull();
  });
});

describe("StorageTarget", () => {
  it("round-trips a LOCAL and an S3 target, with defaults", async () => {
    const local = await prisma.storageTarget.create({ data: { name: "local", kind: "LOCAL", path: "/var/lib/sqlguard/backups", isDefault: true } });
    const s3 = await prisma.storageTarget.create({
      data: {
        name: "offsite",
        kind: "S3",
        enabled: false,
        bucket: "backups",
        region: "eu-central-1",
        endpoint: "https://s3.example.com",
        prefix: "sqlguard/prod",
        forcePathStyle: false,
        accessKeyId: "AKIAEXAMPLE",
        secretAccessKeyEnc: "v1:c2VhbGVk",
      },
    });

    expect(await prisma.storageTarget.findUniqueOrThrow({ where: { id: local.id } })).toEqual(local);
    expect(local).toMatchObject({
      kind: "LOCAL",
      enabled: true,
      isDefault: true,
      path: "/var/lib/sqlguard/backups",
      bucket: null,
      region: null,
      endpoint: null,
      prefix: "",
      forcePathStyle: true,
      accessKeyId: null,
      secretAccessKeyEnc: null,
    });
    expect(await prisma.storageTarget.findUniqueOrThrow({ where: { name: "offsite" } })).toEqual(s3);
    expect(s3).toMatchObject({
      kind: "S3",
      enabled: false,
      isDefault: false,
      path: null,
      prefix: "sqlguard/prod",
      forcePathStyle: false,
      secretAccessKeyEnc: "v1:c2VhbGVk",
    });
    expect(await errorCodeOf(prisma.storageTarget.create({ data: { name: "local", kind: "LOCAL", path: "/elsewhere" } }))).toBe(UNIQUE_VIOLATION);
  });
});

describe("Schedule, ScheduleServer, ScheduleStorageTarget and RetentionRule", () => {
  it("round-trip with their relations", async () => {
    // One after the other: the ids (and so the order read back) must follow the names.
    const a = await prisma.server.create({ data: serverData("a") });
    const b = await prisma.server.create({ data: serverData("b") });
    const target = await prisma.storageTarget.create({ data: { name: "local", kind: "LOCAL", path: "/backups" } });
    const lastDueAt = new Date("2026-11-23T10:00:00.123Z");

    const schedule = await prisma.schedule.create({
      data: {
        name: "nightly",
        description: "every night",
        cronExpression: "30 2 * * *",
        timezone: "Europe/Berlin",
        enabled: false,
        missedRunPolicy: "SKIP",
        lastDueAt,
        servers: { create: [{ serverId: a!.id }, { serverId: b!.id }] },
        storageTargets: { create: [{ storageTargetId: target.id }] },
        retentionRules: {
          create: [
            { storageTargetId: target.id, keepLast: 10, maxAgeDays: 30, gfsHourly: 24, gfsDaily: 7, gfsWeekly: 4, gfsMonthly: 12, gfsYearly: 3, minKeep: 2 },
          ],
        },
      },
    });

    const read = await prisma.schedule.findUniqueOrThrow({
      where: { name: "nightly" },
      include: {
        servers: { include: { server: true }, orderBy: { serverId: "asc" } },
        storageTargets: { include: { storageTarget: true } },
        retentionRules: true,
      },
    });
    expect(read).toMatchObject({ ...schedule, description: "every night", timezone: "Europe/Berlin", enabled: false, missedRunPolicy: "SKIP" });
    expect(read.lastDueAt).toEqual(lastDueAt);
    expect(read.servers.map((s) => s.server.name)).toEqual(["a", "b"]);
    expect(read.storageTargets.map((s) => s.storageTarget.name)).toEqual(["local"]);
    expect(read.retentionRules).toHaveLength(1);
    expect(read.retentionRules[0]).toMatchObject({
      scheduleId: schedule.id,
      storageTargetId: target.id,
      keepForever: false,
      maxAgeDays: 30,
      keepLast: 10,
      gfsHourly: 24,
      gfsDaily: 7,
      gfsWeekly: 4,
      gfsMonthly: 12,
      gfsYearly: 3,
      minKeep: 2,
    });

    // The other side of each relation.
    const server = await prisma.server.findUniqueOrThrow({ where: { id: a!.id }, include: { schedules: true } });
    expect(server.schedules).toEqual([{ scheduleId: schedule.id, serverId: a!.id }]);
    const targetRead = await prisma.storageTarget.findUniqueOrThrow({ where: { id: target.id }, include: { schedules: true, retentionRules: true } });
    expect(targetRead.schedules).toEqual([{ scheduleId: schedule.id, storageTargetId: target.id }]);
    expect(targetRead.retentionRules.map((r) => r.scheduleId)).toEqual([schedule.id]);
  });

  it("apply defaults, enforce uniqueness and cascade deletes to links and rules", async () => {
    const server = await prisma.server.create({ data: serverData("a") });
    const target = await prisma.storageTarget.create({ data: { name: "local", kind: "LOCAL", path: "/backups" } });
    const schedule = await prisma.schedule.create({
      data: {
        name: "hourly",
        cronExpression: "0 * * * *",
        servers: { create: { serverId: server.id } },
        storageTargets: { create: { storageTargetId: target.id } },
      },
    });
    expect(schedule).toMatchObject({ description: null, timezone: "UTC", enabled: true, missedRunPolicy: "RUN_ONCE", lastDueAt: null });
    const rule = await prisma.retentionRule.create({ data: { scheduleId: schedule.id, storageTargetId: target.id } });
    expect(rule).toMatchObject({ keepForever: false, maxAgeDays: null, keepLast: null, gfsHourly: null, gfsYearly: null, minKeep: 1 });

    expect(await errorCodeOf(prisma.schedule.create({ data: { name: "hourly", cronExpression: "0 * * * *" } }))).toBe(UNIQUE_VIOLATION);
    expect(await errorCodeOf(prisma.retentionRule.create({ data: { scheduleId: schedule.id, storageTargetId: target.id } }))).toBe(UNIQUE_VIOLATION);
    expect(await errorCodeOf(prisma.scheduleServer.create({ data: { scheduleId: schedule.id, serverId: server.id } }))).toBe(UNIQUE_VIOLATION);
    expect(await errorCodeOf(prisma.scheduleStorageTarget.create({ data: { scheduleId: schedule.id, storageTargetId: target.id } }))).toBe(UNIQUE_VIOLATION);

    await prisma.schedule.delete({ where: { id: schedule.id } });
    expect(await prisma.scheduleServer.count()).toBe(0);
    expect(await prisma.scheduleStorageTarget.count()).toBe(0);
    expect(await prisma.retentionRule.count()).toBe(0);
    expect(await prisma.server.count()).toBe(1);
    expect(await prisma.storageTarget.count()).toBe(1);
  });
});

describe("Backup and BackupArtifact", () => {
  it("round-trip BigInt sizes beyond 2^53, position JSON, an unusual database name and millisecond times", async () => {
    const server = await prisma.server.create({ data: serverData("prod") });
    const schedule = await prisma.schedule.create({ data: { name: "daily", cronExpression: "0 0 * * *" } });
    const target = await prisma.storageTarget.create({ data: { name: "offsite", kind: "S3", bucket: "b" } });
    const dueAt = new Date("2026-11-23T00:00:00.000Z");
    const position = { file: "mysql-bin.000042", position: 123_456_789, gtid: "0-1-4711", extra: { nested: [1, "two", null] } };

    const backup = await prisma.backup.create({
      data: {
        ...backupData(server.id, schedule.id, WEIRD_DATABASE, dueAt),
        scheduleName: "daily",
        status: "SUCCEEDED",
        startedAt: new Date("2026-11-23T00:00:01.250Z"),
        finishedAt: new Date("2026-11-23T00:07:03.999Z"),
        heartbeatAt: new Date("2026-11-23T00:07:00.001Z"),
        progressBytes: BEYOND_2_53,
        durationMs: 422_749,
        rawBytes: BEYOND_2_53 * 3n,
        storedBytes: BEYOND_2_53,
        sha256: "a".repeat(64),
        serverVersion: "10.11.19-MariaDB",
        tool: "mariadb-dump --single-transaction --quick",
        position,
        error: null,
        logTail: "-- Dump completed\n",
        attempt: 2,
        instanceId: "host-1:4242",
        artifacts: {
          create: {
            storageTargetId: target.id,
            key: `prod/${WEIRD_DATABASE}/2026-11-23.sql.zst`,
            status: "STORED",
            sizeBytes: BEYOND_2_53,
            storedAt: new Date("2026-11-23T00:07:04.500Z"),
          },
        },
      },
      include: { artifacts: true },
    });

    const read = await prisma.backup.findUniqueOrThrow({
      where: { id: backup.id },
      include: { artifacts: { include: { storageTarget: true } }, server: true, schedule: true },
    });
    expect(read.database).toBe(WEIRD_DATABASE);
    expect(typeof read.rawBytes).toBe("bigint");
    expect(read.rawBytes).toBe(27_021_597_764_222_979n);
    expect(read.storedBytes).toBe(BEYOND_2_53);
    expect(read.progressBytes).toBe(BEYOND_2_53);
    expect(read.position).toEqual(position);
    expect(read.startedAt).toEqual(new Date("2026-11-23T00:00:01.250Z"));
    expect(read.finishedAt).toEqual(new Date("2026-11-23T00:07:03.999Z"));
    expect(read.dueAt).toEqual(dueAt);
    expect(read).toMatchObject({
      status: "SUCCEEDED",
      trigger: "SCHEDULED",
      compression: "ZSTD",
      attempt: 2,
      cancelRequestedAt: null,
      instanceId: "host-1:4242",
    });
    expect(read.server?.name).toBe("prod");
    expect(read.schedule?.name).toBe("daily");
    expect(read.artifacts).toHaveLength(1);
    const [artifact] = read.artifacts;
    expect(artifact).toMatchObject({
      key: `prod/${WEIRD_DATABASE}/2026-11-23.sql.zst`,
      status: "STORED",
      sizeBytes: BEYOND_2_53,
      deletedAt: null,
      verifiedAt: null,
      error: null,
    });
    expect(artifact!.storageTarget?.name).toBe("offsite");
    expect(artifact).toEqual({ ...backup.artifacts[0], storageTarget: expect.anything() });

    // Lookups by the unusual name work as plain equality, not as a pattern.
    expect(await prisma.backup.count({ where: { database: WEIRD_DATABASE } })).toBe(1);
    expect(await prisma.backup.count({ where: { database: "we;ird $(x) uni" } })).toBe(0);
  });

  it("apply defaults to a manual backup without schedule, due time or sizes", async () => {
    const server = await prisma.server.create({ data: serverData("prod") });
    const backup = await prisma.backup.create({ data: { ...backupData(server.id, null, "shop", null), trigger: "MANUAL", compression: "NONE" } });
    expect(backup).toMatchObject({
      status: "PENDING",
      attempt: 1,
      scheduleId: null,
      scheduleName: null,
      dueAt: null,
      rawBytes: null,
      storedBytes: null,
      progressBytes: null,
      position: null,
      sha256: null,
    });
    const artifact = await prisma.backupArtifact.create({ data: { backupId: backup.id, key: "k" } });
    expect(artifact).toMatchObject({ status: "PENDING", storageTargetId: null, sizeBytes: null, storedAt: null });
  });

  it("reject a second backup of the same schedule, server, database and due time", async () => {
    const server = await prisma.server.create({ data: serverData("prod") });
    const schedule = await prisma.schedule.create({ data: { name: "hourly", cronExpression: "0 * * * *" } });
    const dueAt = new Date("2026-11-23T10:00:00.000Z");
    await prisma.backup.create({ data: backupData(server.id, schedule.id, WEIRD_DATABASE, dueAt) });

    expect(await errorCodeOf(prisma.backup.create({ data: backupData(server.id, schedule.id, WEIRD_DATABASE, dueAt) }))).toBe(UNIQUE_VIOLATION);
    // Any other due time, database or server is a different run.
    await prisma.backup.create({ data: backupData(server.id, schedule.id, WEIRD_DATABASE, new Date("2026-11-23T11:00:00.000Z")) });
    await prisma.backup.create({ data: backupData(server.id, schedule.id, "other", dueAt) });
    expect(await prisma.backup.count()).toBe(3);
  });

  it("treat database names as case- and accent-sensitive in the run key", async () => {
    const server = await prisma.server.create({ data: serverData("prod") });
    const schedule = await prisma.schedule.create({ data: { name: "hourly", cronExpression: "0 * * * *" } });
    const dueAt = new Date("2026-11-23T10:00:00.000Z");

    for (const database of ["Db", "db", "DB", "café", "cafe"]) {
      await prisma.backup.create({ data: backupData(server.id, schedule.id, database, dueAt) });
    }

    const rows = await prisma.backup.findMany({ where: { scheduleId: schedule.id, serverId: server.id, dueAt }, orderBy: { id: "asc" } });
    expect(rows.map((r) => r.database)).toEqual(["Db", "db", "DB", "café", "cafe"]);
    expect((await prisma.backup.findMany({ where: { database: "db" } })).map((r) => r.database)).toEqual(["db"]);
    expect(await errorCodeOf(prisma.backup.create({ data: backupData(server.id, schedule.id, "db", dueAt) }))).toBe(UNIQUE_VIOLATION);
  });

  it("keep one artifact per target, cascade with the backup, and survive deleted servers, schedules and targets", async () => {
    const server = await prisma.server.create({ data: serverData("prod") });
    const schedule = await prisma.schedule.create({ data: { name: "daily", cronExpression: "0 0 * * *" } });
    const [t1, t2] = await Promise.all([
      prisma.storageTarget.create({ data: { name: "one", kind: "LOCAL", path: "/one" } }),
      prisma.storageTarget.create({ data: { name: "two", kind: "LOCAL", path: "/two" } }),
    ]);
    const backup = await prisma.backup.create({
      data: {
        ...backupData(server.id, schedule.id, "shop", new Date("2026-11-23T00:00:00.000Z")),
        artifacts: {
          create: [
            { storageTargetId: t1!.id, key: "k1" },
            { storageTargetId: t2!.id, key: "k2" },
          ],
        },
      },
    });
    expect(await errorCodeOf(prisma.backupArtifact.create({ data: { backupId: backup.id, storageTargetId: t1!.id, key: "again" } }))).toBe(UNIQUE_VIOLATION);

    await prisma.storageTarget.delete({ where: { id: t1!.id } });
    await prisma.server.delete({ where: { id: server.id } });
    await prisma.schedule.delete({ where: { id: schedule.id } });
    const kept = await prisma.backup.findUniqueOrThrow({ where: { id: backup.id }, include: { artifacts: { orderBy: { key: "asc" } } } });
    expect(kept).toMatchObject({ serverId: null, serverName: "prod", scheduleId: null, database: "shop" });
    expect(kept.artifacts.map((a) => [a.key, a.storageTargetId])).toEqual([
      ["k1", null],
      ["k2", t2!.id],
    ]);

    await prisma.backup.delete({ where: { id: backup.id } });
    expect(await prisma.backupArtifact.count()).toBe(0);
  });
});

describe("User, Session and ApiToken", () => {
  it("round-trip with their relations, unique names and token hashes, and cascade with the user", async () => {
    const expiresAt = new Date("2026-12-01T12:00:00.500Z");
    const user = await prisma.user.create({
      data: {
        username: "alice",
        passwordHash: "scrypt$16384$8$1$c2FsdA==$aGFzaA==",
        role: "OPERATOR",
        sessions: { create: { tokenHash: "1".repeat(64), expiresAt } },
        apiTokens: {
          create: { name: "ci", tokenHash: "2".repeat(64), prefix: "sqlg_abcd", role: "VIEWER", expiresAt, lastUsedAt: new Date("2026-11-23T09:00:00.000Z") },
        },
      },
    });
    expect(user).toMatchObject({ disabled: false, role: "OPERATOR" });

    const read = await prisma.user.findUniqueOrThrow({ where: { username: "alice" }, include: { sessions: true, apiTokens: true } });
    expect(read.passwordHash).toBe("scrypt$16384$8$1$c2FsdA==$aGFzaA==");
    expect(read.sessions).toHaveLength(1);
    expect(read.sessions[0]).toMatchObject({ tokenHash: "1".repeat(64), userId: user.id, expiresAt });
    expect(read.apiTokens).toHaveLength(1);
    expect(read.apiTokens[0]).toMatchObject({
      name: "ci",
      tokenHash: "2".repeat(64),
      prefix: "sqlg_abcd",
      role: "VIEWER",
      userId: user.id,
      expiresAt,
      revokedAt: null,
    });
    const session = await prisma.session.findUniqueOrThrow({ where: { tokenHash: "1".repeat(64) }, include: { user: true } });
    expect(session.user.username).toBe("alice");
    const token = await prisma.apiToken.findUniqueOrThrow({ where: { tokenHash: "2".repeat(64) }, include: { user: true } });
    expect(token.user.id).toBe(user.id);

    expect(await errorCodeOf(prisma.user.create({ data: { username: "alice", passwordHash: "x", role: "VIEWER" } }))).toBe(UNIQUE_VIOLATION);
    expect(await errorCodeOf(prisma.session.create({ data: { tokenHash: "1".repeat(64), userId: user.id, expiresAt } }))).toBe(UNIQUE_VIOLATION);
    expect(
      await errorCodeOf(prisma.apiToken.create({ data: { name: "ci2", tokenHash: "2".repeat(64), prefix: "sqlg_x", role: "VIEWER", userId: user.id } })),
    ).toBe(UNIQUE_VIOLATION);

    await prisma.user.delete({ where: { id: user.id } });
    expect(await prisma.session.count()).toBe(0);
    expect(await prisma.apiToken.count()).toBe(0);
  });
});

describe("AuditLog", () => {
  it("round-trips before/after JSON, including absent and JSON-null values", async () => {
    const change = await prisma.auditLog.create({
      data: {
        actor: "user:alice",
        action: "server.update",
        entityType: "Server",
        entityId: "42",
        before: { host: "old", password: "set", labels: { env: "prod" } },
        after: { host: "new", password: "set", labels: {}, ports: [3306, 3307], note: null },
      },
    });
    const created = await prisma.auditLog.create({ data: { actor: "system", action: "defaults.create", entityType: "System", after: Prisma.JsonNull } });

    const read = await prisma.auditLog.findUniqueOrThrow({ where: { id: change.id } });
    expect(read).toEqual(change);
    expect(read.after).toEqual({ host: "new", password: "set", labels: {}, ports: [3306, 3307], note: null });
    expect(read.at).toBeInstanceOf(Date);
    expect(Math.abs(read.at.getTime() - Date.now())).toBeLessThan(60_000);
    const other = await prisma.auditLog.findUniqueOrThrow({ where: { id: created.id } });
    expect(other).toMatchObject({ entityId: null, before: null, after: null });
    expect(await prisma.auditLog.count({ where: { entityType: "Server", entityId: "42" } })).toBe(1);
  });
});
