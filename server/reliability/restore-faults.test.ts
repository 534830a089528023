// The restore fault matrix on the real MariaDB and PostgreSQL, with real dumps, zstd and clients:
// an overwrite restore that is cancelled while it loads, or fails (a corrupt artifact, an SQL
// error late in the dump), leaves the original database exactly as it was and nothing behind; a
// successful one replaces it with the backup's contents; and a retention sweep run while a restore
// reads an artifact keeps it. "While it loads" is made deterministic by a gate in the artifact's
// stream (restore/testing/gated-store.ts), which holds the rest of the bytes until the test opens it.
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../audit/audit-log.ts";
import type { Principal } from "../auth/roles.ts";
import type { Restore, StorageTarget } from "../db/generated/client.ts";
import { RestoreEvents } from "../restore/events.ts";
import { RestoreJobs } from "../restore/restore-job.ts";
import { RestoresService } from "../restore/restores.service.ts";
import { StreamGate } from "../restore/testing/gated-store.ts";
import { eventually, flipByte } from "../restore/testing/restore-helpers.ts";
import { SecretBox } from "../secrets/secret-box.ts";
import { createStore } from "../storage/create-store.ts";
import { createServer, createTarget, runBackup, waitForBackup, type BackupView } from "../testing/backup-helpers.ts";
import {
  addBulkTable,
  createMariadbSample,
  createPgSample,
  dropMariadbDatabase,
  dropPgDatabase,
  mariadbExec,
  mariadbFingerprint,
  pgExec,
  pgFingerprint,
  POSTGRES,
  uniqueName,
} from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";
import { memoryLogger } from "../testing/test-db.ts";

const ADMIN: Principal = { userId: 1, username: "faults-admin", role: "ADMIN", via: "session" };

describe("restore fault matrix", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let restores: RestoresService;
  let jobs: RestoreJobs;
  let gate: StreamGate | null = null;
  let localId: number;
  let mariaId: number;
  let pgId: number;
  let mariaSource: string;
  let pgSource: string;
  let mariaBackup: BackupView;
  let pgBackup: BackupView;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-faults-"));
  const localDir = path.join(work, "local");
  const mariaDbs: string[] = [];
  const pgDbs: string[] = [];

  beforeAll(async () => {
    app = await createTestApp();
    admin = await app.as("ADMIN");
    const operator = await app.as("OPERATOR");
    localId = await createTarget(admin, { name: "faults-local", kind: "LOCAL", path: localDir });
    mariaId = await createServer(admin, { name: "maria-faults", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
    pgId = await createServer(admin, { name: "pg-faults", engine: "POSTGRESQL", host: "127.0.0.1", port: 5432, username: POSTGRES.user });
    mariaSource = uniqueName("flt_src");
    pgSource = uniqueName("fltpg_src");
    mariaDbs.push(mariaSource);
    pgDbs.push(pgSource);
    await Promise.all([createMariadbSample(mariaSource, { rows: 400 }), createPgSample(pgSource)]);
    await mariadbExec(["CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM audit"], mariaSource);
    // Big enough that half of the artifact is several of zstd's input blocks (it decodes nothing
    // until it has read a whole one), so a gate half-way holds a load that is well under way.
    await addBulkTable(mariaSource, 3);
    const [m] = await runBackup(operator, { serverId: mariaId, databases: [mariaSource], storageTargetIds: [localId] });
    const [p] = await runBackup(operator, { serverId: pgId, databases: [pgSource], storageTargetIds: [localId] });
    [mariaBackup, pgBackup] = await Promise.all([waitForBackup(operator, m!.id), waitForBackup(operator, p!.id)]);
    expect([mariaBackup.status, pgBackup.status]).toEqual(["SUCCEEDED", "SUCCEEDED"]);

    // The restore side over the app's metadata database, reading artifacts through the gate.
    const prisma = app.db.prisma;
    const secrets = new SecretBox(app.secretKey);
    const storeFor = (target: StorageTarget) => {
      const store = createStore(target, secrets);
      return gate ? gate.store(store) : store;
    };
    const { logger } = memoryLogger();
    jobs = new RestoreJobs({ prisma, secrets, storeFor, events: new RestoreEvents(), logger, instanceId: "faults", heartbeatMs: 100 });
    // A cancel of a restore these jobs do not run is not part of these tests.
    const interrupted = { cancelRestore: async () => false };
    restores = new RestoresService({ prisma, secrets, storeFor, audit: new AuditLog(prisma), jobs, instanceId: "faults", interrupted });
  });

  afterAll(async () => {
    gate?.open();
    await jobs?.stop();
    await app?.close();
    for (const db of mariaDbs) await dropMariadbDatabase(db);
    for (const db of pgDbs) await dropPgDatabase(db);
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** An existing MariaDB database unlike the backup: other rows, and objects of its own. */
  async function mariaOriginal(): Promise<string> {
    const name = uniqueName("flt_orig");
    mariaDbs.push(name);
    await createMariadbSample(name, { rows: 25 });
    await mariadbExec(
      [
        "CREATE TABLE legacy (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB",
        "INSERT INTO legacy VALUES (1, 'keep me'), (2, 'me too')",
        "CREATE TRIGGER legacy_bi BEFORE INSERT ON legacy FOR EACH ROW SET NEW.v = UPPER(NEW.v)",
        "CREATE VIEW legacy_v AS SELECT v FROM legacy",
        "CREATE PROCEDURE legacy_p() SELECT 1",
        "CREATE EVENT legacy_e ON SCHEDULE EVERY 1 HOUR DISABLE DO DELETE FROM legacy",
      ],
      name,
    );
    return name;
  }

  /** Checksums of every table, the routines, triggers, views and events, and the default collation. */
  async function mariaState(database: string) {
    const [events] = (await mariadbExec([`SELECT EVENT_NAME AS e FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '${database}' ORDER BY 1`])) as Array<
      Array<{ e: string }>
    >;
    const [schema] = (await mariadbExec([`SELECT DEFAULT_COLLATION_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${database}'`])) as Array<
      Array<{ c: string }>
    >;
    return { ...(await mariadbFingerprint(database)), events: events!.map((r) => r.e), collation: schema![0]?.c };
  }

  /** Databases a restore may have left: its scratch copy, and tables set aside in the target. */
  async function leftovers(restore: Restore): Promise<string[]> {
    const [dbs] = (await mariadbExec([`SHOW DATABASES LIKE 'sqlguard\\_restore\\_%'`])) as Array<Array<Record<string, string>>>;
    const [old] = (await mariadbExec([
      `SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${restore.database}' AND TABLE_NAME LIKE 'sqlguard\\_old\\_%'`,
    ])) as Array<Array<{ t: string }>>;
    const scratch = dbs!.map((r) => Object.values(r)[0]!).filter((d) => d === restore.scratchDatabase);
    return [...scratch, ...old!.map((r) => `${restore.database}.${r.t}`)];
  }

  async function start(backupId: number, serverId: number, database: string): Promise<Restore> {
    return restores.restoreBackup(ADMIN, { backupId, serverId, database, overwrite: true });
  }

  async function finished(id: number): Promise<Restore> {
    return eventually(async () => {
      const r = await app.db.prisma.restore.findUniqueOrThrow({ where: { id } });
      return ["PENDING", "RUNNING"].includes(r.status) ? undefined : r;
    }, `restore ${id} to end`);
  }

  /** A copy of a backup whose dump ends with a statement that fails: an SQL error late in the restore. */
  async function withLateSqlError(backup: BackupView, statement: string): Promise<number> {
    const prisma = app.db.prisma;
    const original = await prisma.backup.findUniqueOrThrow({ where: { id: Number(backup.id) }, include: { artifacts: true } });
    const artifact = original.artifacts[0]!;
    const key = artifact.key.replace(/(\.sql\.zst)$/, `.late-error$1`);
    const sql = Buffer.concat([execFileSync("zstd", ["-d", "-c", path.join(localDir, artifact.key)], { maxBuffer: 1 << 28 }), Buffer.from(`\n${statement}\n`)]);
    const compressed = execFileSync("zstd", ["-q", "-c"], { input: sql, maxBuffer: 1 << 28 });
    fs.writeFileSync(path.join(localDir, key), compressed);
    const created = await prisma.backup.create({
      data: {
        serverId: original.serverId,
        serverName: original.serverName,
        engine: original.engine,
        database: original.database,
        trigger: "MANUAL",
        status: "SUCCEEDED",
        startedAt: original.startedAt,
        finishedAt: original.finishedAt,
        compression: original.compression,
        rawBytes: BigInt(sql.length),
        storedBytes: BigInt(compressed.length),
        sha256: crypto.createHash("sha256").update(compressed).digest("hex"),
        artifacts: { create: [{ storageTargetId: localId, key, status: "STORED", sizeBytes: BigInt(compressed.length), storedAt: new Date() }] },
      },
    });
    return created.id;
  }

  it("MariaDB: a cancelled overwrite (cancelled while it loads) leaves the original with all its rows and objects, and nothing behind", async () => {
    const target = await mariaOriginal();
    const before = await mariaState(target);
    gate = new StreamGate({ read: 1, fraction: 0.5 });
    const started = await start(mariaBackup.id, mariaId, target);
    await gate.reached;
    // The load is under way (half the artifact is in): the original is still whole, the scratch copy fills.
    expect(await mariaState(target)).toEqual(before);
    const running = await eventually(async () => {
      const r = await app.db.prisma.restore.findUniqueOrThrow({ where: { id: Number(started.id) } });
      if (!r.scratchDatabase) return undefined;
      const [tables] = (await mariadbExec([`SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${r.scratchDatabase}'`])) as Array<
        Array<{ n: bigint }>
      >;
      return Number(tables![0]!.n) > 0 ? r : undefined;
    }, "the scratch copy to fill");
    expect(running).toMatchObject({ status: "RUNNING", targetState: "UNTOUCHED" });

    await restores.cancel(ADMIN, started.id);
    const done = await finished(started.id);
    gate = null;
    expect(await mariaState(target)).toEqual(before);
    expect(await leftovers(done)).toEqual([]);
    expect(done).toMatchObject({ status: "CANCELLED", targetState: "UNTOUCHED" });
    expect(done.error).toMatch(/cancel.*; ".*" was not changed; the scratch database "sqlguard_restore_[0-9a-f]+" was dropped$/);
    expect(done.targetDetail).toMatch(/was not changed/);
  });

  it("MariaDB: a failed overwrite (corrupt artifact, or an SQL error late in the dump) leaves the original as it was", async () => {
    const target = await mariaOriginal();
    const before = await mariaState(target);

    const late = await withLateSqlError(mariaBackup, "INSERT INTO no_such_table VALUES (1);");
    const failed = await finished((await start(late, mariaId, target)).id);
    expect(await mariaState(target)).toEqual(before);
    expect(await leftovers(failed)).toEqual([]);
    expect(failed).toMatchObject({ status: "FAILED", targetState: "UNTOUCHED" });
    expect(failed.error).toMatch(/^mariadb exited with code 1: .*no_such_table.*; ".*" was not changed; the scratch database .* was dropped$/s);

    const corruptId = await withLateSqlError(mariaBackup, "SELECT 1;");
    const artifact = await app.db.prisma.backupArtifact.findFirstOrThrow({ where: { backupId: corruptId } });
    const file = path.join(localDir, artifact.key);
    flipByte(file, fs.statSync(file).size - 20);
    const corrupt = await finished((await start(corruptId, mariaId, target)).id);
    expect(await mariaState(target)).toEqual(before);
    expect(await leftovers(corrupt)).toEqual([]);
    expect(corrupt).toMatchObject({ status: "FAILED", targetState: "UNTOUCHED" });
    expect(corrupt.error).toMatch(/^checksum mismatch: .*; ".*" was not changed/);
  });

  it("MariaDB: a successful overwrite replaces the database with the backup's tables, views, triggers, routines and events", async () => {
    const target = await mariaOriginal();
    const collation = (await mariaState(target)).collation;
    const done = await finished((await start(mariaBackup.id, mariaId, target)).id);
    expect(done.error).toBeNull();
    expect(done).toMatchObject({ status: "SUCCEEDED", targetState: "REPLACED", overwrite: true });
    expect(done.scratchDatabase).toMatch(/^sqlguard_restore_/);
    const expected = await mariaState(mariaSource);
    expect(await mariaState(target)).toEqual({ ...expected, collation });
    expect(await leftovers(done)).toEqual([]);
    // The objects work on the new tables: the trigger fires, the function answers.
    const [, audit, shout] = (await mariadbExec(
      ["INSERT INTO customers (name) VALUES ('after swap')", "SELECT COUNT(*) AS n FROM audit", "SELECT shout('ok') AS s"],
      target,
    )) as Array<Array<Record<string, unknown>>>;
    const [sourceAudit] = (await mariadbExec(["SELECT COUNT(*) AS n FROM audit"], mariaSource)) as Array<Array<{ n: bigint }>>;
    expect(Number(audit![0]!.n)).toBe(Number(sourceAudit![0]!.n) + 1);
    expect(shout![0]!.s).toBe("OK!");
  });

  it("PostgreSQL: a cancelled or failed overwrite leaves the original as it was; a successful one replaces it", async () => {
    const target = uniqueName("fltpg_orig");
    pgDbs.push(target);
    await createPgSample(target);
    await pgExec(["DELETE FROM items WHERE id > 20", "CREATE TABLE legacy (id int PRIMARY KEY)", "INSERT INTO legacy VALUES (1), (2)"], target);
    const before = await pgFingerprint(target);

    // The first read verifies the checksum; the second feeds psql: hold that one.
    gate = new StreamGate({ read: 2, fraction: 0.5 });
    const started = await start(pgBackup.id, pgId, target);
    await gate.reached;
    await restores.cancel(ADMIN, started.id);
    const cancelled = await finished(started.id);
    gate = null;
    expect(cancelled).toMatchObject({ status: "CANCELLED", targetState: "UNTOUCHED" });
    expect(cancelled.error).toMatch(/cancel.*; ".*" was not changed/);
    await eventually(async () => {
      const [rows] = (await pgExec([`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${target}'`])) as Array<Array<{ n: number }>>;
      return rows![0]!.n === 0;
    }, "the restore's session to end");
    expect(await pgFingerprint(target)).toEqual(before);

    const late = await withLateSqlError(pgBackup, "SELECT no_such_function();");
    const failed = await finished((await start(late, pgId, target)).id);
    expect(failed).toMatchObject({ status: "FAILED", targetState: "UNTOUCHED" });
    expect(failed.error).toMatch(/no_such_function.*; ".*" was not changed/s);
    expect(await pgFingerprint(target)).toEqual(before);

    const replaced = await finished((await start(pgBackup.id, pgId, target)).id);
    expect(replaced.error).toBeNull();
    expect(replaced).toMatchObject({ status: "SUCCEEDED", targetState: "REPLACED" });
    expect(await pgFingerprint(target)).toEqual(await pgFingerprint(pgSource));
  });

  it("a retention sweep run while a restore reads the artifact keeps it (pinned), and deletes it once the restore is done", async () => {
    const prisma = app.db.prisma;
    const operator = await app.as("OPERATOR");
    const [b] = await runBackup(operator, { serverId: mariaId, databases: [mariaSource], storageTargetIds: [localId] });
    const older = await waitForBackup(operator, b!.id);
    const [n] = await runBackup(operator, { serverId: mariaId, databases: [mariaSource], storageTargetIds: [localId] });
    const newer = await waitForBackup(operator, n!.id);
    // Both belong to a schedule that keeps only the newest: the older one is due for deletion.
    const schedule = await prisma.schedule.create({ data: { name: `faults-${older.id}`, cronExpression: "0 3 * * *", timezone: "UTC" } });
    await prisma.backup.updateMany({ where: { id: { in: [older.id, newer.id] } }, data: { scheduleId: Number(schedule.id) } });
    await prisma.retentionRule.create({ data: { scheduleId: Number(schedule.id), storageTargetId: localId, keepLast: 1, minKeep: 1 } });
    const artifact = await prisma.backupArtifact.findFirstOrThrow({ where: { backupId: Number(older.id) } });

    const into = uniqueName("flt_pin");
    mariaDbs.push(into);
    gate = new StreamGate({ read: 1, fraction: 0.5 });
    const started = await restores.restoreBackup(ADMIN, { backupId: older.id, serverId: mariaId, database: into });
    await gate.reached;
    const sweep = await app.sweeper.sweep({ scope: { scheduleId: schedule.id } });
    expect(fs.existsSync(path.join(localDir, artifact.key))).toBe(true);
    expect(await prisma.backupArtifact.findUniqueOrThrow({ where: { id: Number(artifact.id) } })).toMatchObject({ status: "STORED" });
    expect(sweep).toMatchObject({ pinned: 1, artifactsDeleted: 0, failures: 0 });
    expect(sweep.deletions).toEqual([expect.objectContaining({ backupId: older.id, done: false, pinnedBy: `restore ${started.id}` })]);

    gate.open();
    const done = await finished(started.id);
    gate = null;
    expect(done).toMatchObject({ status: "SUCCEEDED", targetState: "CREATED" });
    expect(await prisma.artifactPin.count({ where: { artifactId: Number(artifact.id) } })).toBe(0);
    const after = await app.sweeper.sweep({ scope: { scheduleId: schedule.id } });
    expect(after).toMatchObject({ pinned: 0, artifactsDeleted: 1 });
    expect(fs.existsSync(path.join(localDir, artifact.key))).toBe(false);
  });
});
