import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, createTarget, dataOf, runBackup, waitForBackup, type BackupView } from "../testing/backup-helpers.ts";
import { startS3rver } from "../testing/s3rver.ts";
import {
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
import { eventually, requestRestore, restoreAndWait, waitForRestore, type RestoreView } from "./testing/restore-helpers.ts";

/** Restores through GraphQL on the real servers: real clients, a local directory and s3rver. */
describe("restores through the API", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let operator: Awaited<ReturnType<typeof app.as>>;
  let localId: number;
  let s3Id: number;
  let mariaId: number;
  let pgId: number;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-restore-"));
  const mariaDbs: string[] = [];
  const pgDbs: string[] = [];
  let mariaSource: string;
  let mariaBackup: BackupView;
  let pgSource: string;
  let pgBackup: BackupView;

  beforeAll(async () => {
    app = await createTestApp();
    s3 = await startS3rver();
    admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    localId = await createTarget(admin, { name: "rs-local", kind: "LOCAL", path: path.join(work, "local") });
    s3Id = await createTarget(admin, {
      name: "rs-s3",
      kind: "S3",
      bucket: s3.bucket,
      region: "us-east-1",
      endpoint: s3.endpoint,
      prefix: "rs",
      forcePathStyle: true,
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
    });
    mariaId = await createServer(admin, { name: "maria-rs", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
    pgId = await createServer(admin, { name: "pg-rs", engine: "POSTGRESQL", host: "127.0.0.1", port: 5432, username: POSTGRES.user });
    mariaSource = `${uniqueName("rs")} we;ird $(x)`;
    pgSource = uniqueName("rspg");
    mariaDbs.push(mariaSource);
    pgDbs.push(pgSource);
    await Promise.all([createMariadbSample(mariaSource), createPgSample(pgSource)]);
    const [m] = await runBackup(operator, { serverId: mariaId, databases: [mariaSource], storageTargetIds: [localId, s3Id] });
    const [p] = await runBackup(operator, { serverId: pgId, databases: [pgSource], storageTargetIds: [localId] });
    [mariaBackup, pgBackup] = await Promise.all([waitForBackup(operator, m!.id), waitForBackup(operator, p!.id)]);
    expect([mariaBackup.status, pgBackup.status]).toEqual(["SUCCEEDED", "SUCCEEDED"]);
  });

  afterAll(async () => {
    await app?.close();
    await s3?.stop();
    for (const db of mariaDbs) await dropMariadbDatabase(db);
    for (const db of pgDbs) await dropPgDatabase(db);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("restores a MariaDB backup from S3 into a new database equal to the source (CHECKSUM TABLE), recorded and audited", async () => {
    const restore = await restoreAndWait(operator, { backupId: mariaBackup.id, storageTargetId: s3Id });
    mariaDbs.push(restore.database);
    expect(restore.error).toBeNull();
    expect(restore).toMatchObject({
      status: "SUCCEEDED",
      createdDatabase: true,
      targetState: "CREATED",
      targetDetail: `the new database "${restore.database}" holds the backup`,
      scratchDatabase: null,
      overwrite: false,
      sourceDatabase: mariaSource,
      serverName: "maria-rs",
      sha256: mariaBackup.sha256,
    });
    expect(restore.database).toBe(`${mariaSource}_restored_${restore.database.slice(-15)}`);
    expect(restore.database).toMatch(/_restored_\d{8}_\d{6}$/);
    expect(restore.storageTarget).toMatchObject({ id: String(s3Id), kind: "S3" });
    expect([restore.totalBytes, restore.progressBytes]).toEqual([mariaBackup.storedBytes, mariaBackup.storedBytes]);
    expect(Number(restore.rawBytes)).toBe(Number(mariaBackup.rawBytes));
    expect(restore.requestedBy).toMatch(/^test-operator/);
    expect(await mariadbFingerprint(restore.database)).toEqual(await mariadbFingerprint(mariaSource));

    const listed = dataOf(
      await operator(`query($b: ID!) { restores(filter: { backupId: $b }) { nodes { id } } backup(id: $b) { restores { id status } } }`, {
        b: mariaBackup.id,
      }),
    ) as {
      restores: { nodes: Array<{ id: number }> };
      backup: { restores: Array<{ id: number; status: string }> };
    };
    expect(listed.restores.nodes.map((n) => n.id)).toContain(restore.id);
    expect(listed.backup.restores).toContainEqual({ id: restore.id, status: "SUCCEEDED" });
    const audit = dataOf(
      await admin(`query($id: String!) { auditLog(entityType: "restore", entityId: $id) { nodes { action actor after } } }`, { id: String(restore.id) }),
    ) as { auditLog: { nodes: Array<{ action: string; actor: string; after: string }> } };
    expect(audit.auditLog.nodes.map((a) => a.action)).toEqual(["restore.start"]);
    expect(JSON.parse(audit.auditLog.nodes[0]!.after)).toMatchObject({ database: restore.database, backupId: mariaBackup.id });
  });

  it("restores PostgreSQL plain and custom-format backups into named databases with equal rows", async () => {
    const profile = dataOf(await admin(`mutation { createDumpOptions(input: { name: "rs-custom", pgFormat: CUSTOM, compression: GZIP }) { id } }`)) as {
      createDumpOptions: { id: number };
    };
    const customServer = await createServer(admin, {
      name: "pg-rs-custom",
      engine: "POSTGRESQL",
      host: "127.0.0.1",
      port: 5432,
      username: POSTGRES.user,
      dumpOptionsId: profile.createDumpOptions.id,
    });
    const [c] = await runBackup(operator, { serverId: customServer, databases: [pgSource], storageTargetIds: [s3Id] });
    const custom = await waitForBackup(operator, c!.id);
    expect(custom.artifacts[0]!.key).toMatch(/\.dump\.gz$/);
    const expected = await pgFingerprint(pgSource);
    for (const backup of [pgBackup, custom]) {
      const database = uniqueName("rspg_to");
      pgDbs.push(database);
      const restore = await restoreAndWait(operator, { backupId: backup.id, serverId: pgId, database });
      expect(restore.error).toBeNull();
      expect(restore).toMatchObject({ status: "SUCCEEDED", database, createdDatabase: true });
      expect(await pgFingerprint(database)).toEqual(expected);
    }
  });

  it("names the field at fault, and keeps overwriting an existing database to admins", async () => {
    const existing = uniqueName("rs_exists");
    mariaDbs.push(existing);
    await mariadbExec([`CREATE DATABASE ${existing}`, `CREATE TABLE ${existing}.old (id INT PRIMARY KEY)`]);
    const viewer = await app.as("VIEWER");
    const cases: Array<[typeof operator, Record<string, unknown>, string, string | undefined]> = [
      [operator, { backupId: mariaBackup.id, database: existing }, "BAD_USER_INPUT", "database"],
      [operator, { backupId: mariaBackup.id, database: existing, overwrite: true }, "FORBIDDEN", undefined],
      [viewer, { backupId: mariaBackup.id }, "FORBIDDEN", undefined],
      [operator, { backupId: 999_999 }, "NOT_FOUND", undefined],
      [operator, { backupId: mariaBackup.id, database: "x".repeat(65) }, "BAD_USER_INPUT", "database"],
      [operator, { backupId: pgBackup.id, serverId: mariaId }, "BAD_USER_INPUT", "serverId"],
      [operator, { backupId: pgBackup.id, storageTargetId: s3Id }, "BAD_USER_INPUT", "storageTargetId"],
    ];
    for (const [client, input, code, field] of cases) {
      const result = await requestRestore(client, input);
      expect(result.errors?.[0]?.extensions, JSON.stringify(input)).toMatchObject({ code, ...(field ? { field } : {}) });
    }
    expect(await app.db.prisma.restore.count({ where: { database: existing } })).toBe(0);

    const replaced = await restoreAndWait(admin, { backupId: mariaBackup.id, database: existing, overwrite: true });
    expect(replaced.error).toBeNull();
    expect(replaced).toMatchObject({ status: "SUCCEEDED", overwrite: true, createdDatabase: false, targetState: "REPLACED" });
    expect(replaced.targetDetail).toBe(`"${existing}" now holds the backup; its former contents were dropped`);
    expect(replaced.scratchDatabase).toMatch(/^sqlguard_restore_[0-9a-f]{8}$/);
    expect(await mariadbFingerprint(existing)).toEqual(await mariadbFingerprint(mariaSource));
    expect(await mariadbExec([`SHOW DATABASES LIKE '${replaced.scratchDatabase}'`])).toEqual([[]]);
  });

  it("at start, fails the restores a stopped process left running and drops the databases they created", async () => {
    const half = uniqueName("rs_half");
    mariaDbs.push(half);
    await mariadbExec([`CREATE DATABASE ${half}`, `CREATE TABLE ${half}.partial (id INT)`]);
    const instanceId = (await app.db.prisma.restore.findFirstOrThrow()).instanceId;
    const left = await app.db.prisma.restore.create({
      data: {
        backupId: mariaBackup.id,
        artifactKey: "k",
        serverId: mariaId,
        serverName: "maria-rs",
        engine: "MARIADB",
        sourceDatabase: mariaSource,
        database: half,
        createdDatabase: true,
        status: "RUNNING",
        requestedBy: "x",
        instanceId,
        startedAt: new Date(),
        heartbeatAt: new Date(),
      },
    });
    expect(await app.restore.recover()).toBe(1);
    expect(await app.db.prisma.restore.findUniqueOrThrow({ where: { id: Number(left.id) } })).toMatchObject({
      status: "FAILED",
      error: expect.stringMatching(/^interrupted/),
    });
    expect(await mariadbExec([`SHOW DATABASES LIKE '${half}'`])).toEqual([[]]);
  });

  it("at start, drops the scratch copy of an interrupted overwrite that had not reached the swap, and leaves one mid-swap to a person", async () => {
    const target = uniqueName("rs_kept");
    const scratch = `sqlguard_restore_${uniqueName("x").slice(-8)}`;
    mariaDbs.push(target, scratch);
    await mariadbExec([`CREATE DATABASE ${target}`, `CREATE TABLE ${target}.t (id INT)`, `CREATE DATABASE ${scratch}`, `CREATE TABLE ${scratch}.t (id INT)`]);
    const instanceId = (await app.db.prisma.restore.findFirstOrThrow()).instanceId;
    const base = {
      backupId: mariaBackup.id,
      artifactKey: "k",
      serverId: mariaId,
      serverName: "maria-rs",
      engine: "MARIADB" as const,
      sourceDatabase: mariaSource,
      database: target,
      overwrite: true,
      status: "RUNNING" as const,
      requestedBy: "x",
      instanceId,
      startedAt: new Date(),
      heartbeatAt: new Date(),
      scratchDatabase: scratch,
    };
    const loading = await app.db.prisma.restore.create({ data: { ...base, targetState: "UNTOUCHED", targetDetail: "restoring into the scratch database" } });
    const swapping = await app.db.prisma.restore.create({ data: { ...base, targetState: "UNKNOWN", targetDetail: "swapping: tables named sqlguard_old_*" } });
    expect(await app.restore.recover()).toBe(2);
    expect(await app.db.prisma.restore.findUniqueOrThrow({ where: { id: Number(loading.id) } })).toMatchObject({
      status: "FAILED",
      targetState: "UNTOUCHED",
      targetDetail: `"${target}" was not changed; the scratch database "${scratch}" was dropped`,
    });
    expect(await app.db.prisma.restore.findUniqueOrThrow({ where: { id: Number(swapping.id) } })).toMatchObject({
      status: "FAILED",
      targetState: "UNKNOWN",
      targetDetail: "swapping: tables named sqlguard_old_*",
    });
    expect(await mariadbExec([`SHOW DATABASES LIKE '${scratch}'`])).toEqual([[]]);
    expect(await mariadbExec([`SHOW TABLES FROM ${target}`])).toEqual([[{ [`Tables_in_${target}`]: "t" }]]);
  });

  it("replaces a PostgreSQL database in one transaction, and a cancelled overwrite leaves it as it was", async () => {
    const target = uniqueName("rspg_over");
    pgDbs.push(target);
    await pgExec([`CREATE DATABASE ${target}`]);
    await pgExec(
      ["CREATE TABLE items (id int PRIMARY KEY, name text)", "INSERT INTO items VALUES (1, 'old')", "CREATE SCHEMA extra", "CREATE TABLE extra.t (id int)"],
      target,
    );
    const before = await pgFingerprint(target);

    // A session holding a lock on the old table: the restore's DROP SCHEMA waits inside psql's transaction.
    const holder = new pg.Client({ ...POSTGRES, database: target });
    await holder.connect();
    await holder.query("BEGIN");
    await holder.query("LOCK TABLE items IN ACCESS SHARE MODE");
    const started = (
      dataOf(await requestRestore(admin, { backupId: pgBackup.id, serverId: pgId, database: target, overwrite: true })) as { restoreBackup: RestoreView }
    ).restoreBackup;
    const waiting = () =>
      pgExec([`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${target}' AND application_name LIKE 'sqlguard-restore%'`]).then(
        (r) => (r[0] as Array<{ n: number }>)[0]!.n,
      );
    await eventually(async () => (await waiting()) > 0, "psql to wait for the lock");
    const running = await waitForRestore(admin, started.id, (r) => r.status === "RUNNING" && r.progressBytes === r.totalBytes);
    expect(running.progressBytes).toBe(pgBackup.storedBytes);

    const cancelled = dataOf(await operator(`mutation($id: ID!) { cancelRestore(id: $id) { id } }`, { id: started.id }));
    expect(cancelled).toBeTruthy();
    const done = await waitForRestore(admin, started.id);
    expect(done).toMatchObject({ status: "CANCELLED", targetState: "UNTOUCHED" });
    expect(done.error).toMatch(/cancel/);
    // Its session, still queued for the lock, was ended with it: it no longer blocks the table.
    expect(await waiting()).toBe(0);
    expect(await pgExec(["SELECT count(*)::int AS n FROM items"], target)).toEqual([[{ n: 1 }]]);
    await holder.query("COMMIT");
    await holder.end();
    expect(await pgFingerprint(target)).toEqual(before);
    expect((await pgExec(["SELECT count(*)::int AS n FROM extra.t"], target))[0]).toEqual([{ n: 0 }]);

    const replaced = await restoreAndWait(admin, { backupId: pgBackup.id, serverId: pgId, database: target, overwrite: true });
    expect(replaced.error).toBeNull();
    expect(replaced.status).toBe("SUCCEEDED");
    expect(await pgFingerprint(target)).toEqual(await pgFingerprint(pgSource));
    expect(await pgExec(["SELECT nspname FROM pg_namespace WHERE nspname = 'extra'"], target)).toEqual([[]]);
    const audit = dataOf(
      await admin(`query($id: String!) { auditLog(entityType: "restore", entityId: $id) { nodes { action } } }`, { id: String(started.id) }),
    ) as {
      auditLog: { nodes: Array<{ action: string }> };
    };
    expect(audit.auditLog.nodes.map((a) => a.action).sort()).toEqual(["restore.cancel", "restore.start"]);
  });
});
