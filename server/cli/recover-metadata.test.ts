import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrisma, type PrismaClient } from "../db/client.ts";
import { hashStream } from "../restore/artifact-read.ts";
import { keyFromPassphrase, SecretBox } from "../secrets/secret-box.ts";
import { createStore } from "../storage/create-store.ts";
import { createServer, createTarget, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { startS3rver } from "../testing/s3rver.ts";
import { createMariadbSample, createPgSample, dropMariadbDatabase, dropPgDatabase, mariadbExec, POSTGRES, uniqueName } from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";
import { dropDatabase } from "../testing/test-db.ts";
import type { RecoveryReport } from "./recover-metadata.ts";
import { runCli } from "./testing/run-cli.ts";

type Original = {
  id: number;
  database: string;
  serverName: string;
  sha256: string;
  rawBytes: bigint;
  storedBytes: bigint;
  artifacts: Array<{ kind: string; key: string; sizeBytes: bigint }>;
};

/** The metadata database is lost: `recover-metadata` rebuilds the records from a local and an S3 target. */
describe("sqlguard recover-metadata", () => {
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-recover-"));
  const localDir = path.join(work, "local");
  const secretKey = "recovery-test-secret-key-0123456789abcdef";
  let databaseUrl: string;
  let originals: Original[];
  let prisma: PrismaClient | undefined;
  const mariaDbs: string[] = [];
  const pgDbs: string[] = [];
  const args = () => [
    "recover-metadata",
    "--local",
    localDir,
    "--s3",
    `s3://${s3.bucket}/prod/eu`,
    "--endpoint",
    s3.endpoint,
    "--database-url",
    databaseUrl,
    "--json",
  ];
  const env = () => ({ AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", SQLGUARD_SECRET_KEY: secretKey });
  const metadataExists = async () => ((await mariadbExec([`SHOW DATABASES LIKE '${new URL(databaseUrl).pathname.slice(1)}'`]))[0] as unknown[]).length > 0;

  beforeAll(async () => {
    s3 = await startS3rver();
    const app = await createTestApp();
    databaseUrl = app.db.url;
    try {
      const admin = await app.as("ADMIN");
      const localId = await createTarget(admin, { name: "rc-local", kind: "LOCAL", path: localDir });
      const s3Id = await createTarget(admin, {
        name: "rc-s3",
        kind: "S3",
        bucket: s3.bucket,
        region: "us-east-1",
        endpoint: s3.endpoint,
        prefix: "prod/eu",
        forcePathStyle: true,
        accessKeyId: "S3RVER",
        secretAccessKey: "S3RVER",
      });
      const mariaId = await createServer(admin, { name: "maria-rc", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
      const pgId = await createServer(admin, { name: "pg-rc", engine: "POSTGRESQL", host: "127.0.0.1", port: 5432, username: POSTGRES.user });
      const maria = uniqueName("rc");
      const pgDb = uniqueName("rcpg");
      mariaDbs.push(maria);
      pgDbs.push(pgDb);
      await Promise.all([createMariadbSample(maria, { rows: 40 }), createPgSample(pgDb)]);
      const ids = [
        ...(await runBackup(admin, { serverId: mariaId, databases: [maria], storageTargetIds: [localId, s3Id] })),
        ...(await runBackup(admin, { serverId: pgId, databases: [pgDb], storageTargetIds: [localId] })),
      ].map((b) => b.id);
      for (const id of ids) expect((await waitForBackup(admin, id)).status).toBe("SUCCEEDED");
      const rows = await app.db.prisma.backup.findMany({ orderBy: { id: "asc" }, include: { artifacts: { include: { storageTarget: true } } } });
      originals = rows.map((b) => ({
        id: b.id,
        database: b.database,
        serverName: b.serverName,
        sha256: b.sha256!,
        rawBytes: b.rawBytes!,
        storedBytes: b.storedBytes!,
        artifacts: b.artifacts.map((a) => ({ kind: a.storageTarget!.kind, key: a.key, sizeBytes: a.sizeBytes! })).sort((x, y) => x.kind.localeCompare(y.kind)),
      }));
    } finally {
      await app.close(); // the metadata database is gone
    }
    fs.writeFileSync(path.join(localDir, "stray-dump.sql.gz"), "not ours");
  });

  afterAll(async () => {
    await prisma?.$disconnect();
    await dropDatabase(databaseUrl).catch(() => {});
    await s3?.stop();
    for (const db of mariaDbs) await dropMariadbDatabase(db);
    for (const db of pgDbs) await dropPgDatabase(db);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("shows what it would rebuild in a dry run, writing nothing", async () => {
    expect(await metadataExists()).toBe(false);
    const r = await runCli([...args(), "--dry-run"], env());
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as RecoveryReport;
    expect(report.backups.map((b) => [b.backupId, b.action])).toEqual(originals.map((o) => [o.id, "create"]));
    expect(report.orphans).toEqual([{ target: localDir, key: "stray-dump.sql.gz", bytes: 8 }]);
    expect(await metadataExists()).toBe(false);
  });

  it("rebuilds every backup and artifact with the original ids, sizes and checksums, and reports what has no manifest", async () => {
    const r = await runCli(args(), env());
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as RecoveryReport;
    expect(report.orphans.map((o) => o.key)).toEqual(["stray-dump.sql.gz"]);
    expect(report.problems).toEqual([]);
    prisma = createPrisma(databaseUrl);
    const rows = await prisma.backup.findMany({ orderBy: { id: "asc" }, include: { artifacts: { include: { storageTarget: true } } } });
    const rebuilt = rows.map((b) => ({
      id: b.id,
      database: b.database,
      serverName: b.serverName,
      sha256: b.sha256!,
      rawBytes: b.rawBytes!,
      storedBytes: b.storedBytes!,
      artifacts: b.artifacts.map((a) => ({ kind: a.storageTarget!.kind, key: a.key, sizeBytes: a.sizeBytes! })).sort((x, y) => x.kind.localeCompare(y.kind)),
    }));
    expect(rebuilt).toEqual(originals);
    expect(rows.every((b) => b.status === "SUCCEEDED" && b.artifacts.every((a) => a.status === "STORED"))).toBe(true);
    expect(await prisma.backupArtifact.count({ where: { key: { contains: "stray" } } })).toBe(0);

    // The S3 target it created works for the server: its secret is sealed with the server's key.
    const target = await prisma.storageTarget.findFirstOrThrow({ where: { kind: "S3" } });
    expect(target).toMatchObject({ name: `recovered-s3-${s3.bucket}`, bucket: s3.bucket, prefix: "prod/eu", endpoint: s3.endpoint });
    const s3Artifact = rows[0]!.artifacts.find((a) => a.storageTargetId === target.id)!;
    const read = await hashStream(await createStore(target, new SecretBox(keyFromPassphrase(secretKey))).get(s3Artifact.key));
    expect(read.sha256).toBe(rows[0]!.sha256);
    const audit = await prisma.auditLog.findFirstOrThrow({ where: { action: "metadata.recover" } });
    expect(audit.after).toEqual({ created: originals.length, merged: 0, orphans: 1 });
  });

  it("refuses a second run without --merge; --merge adds back only the copies that are missing", async () => {
    const again = await runCli(args(), env());
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds \d+ backups: pass --merge/);

    const lost = await prisma!.backupArtifact.findFirstOrThrow({ where: { storageTarget: { kind: "S3" } } });
    await prisma!.backupArtifact.delete({ where: { id: lost.id } });
    const merged = await runCli([...args(), "--merge", "--verify"], env());
    expect(merged.code, merged.stderr).toBe(0);
    const report = JSON.parse(merged.stdout) as RecoveryReport;
    expect(report.backups.map((b) => [b.backupId, b.action])).toEqual(originals.map((o) => [o.id, o.id === lost.backupId ? "merge" : "unchanged"]));
    const restored = await prisma!.backupArtifact.findFirstOrThrow({ where: { backupId: lost.backupId, storageTargetId: lost.storageTargetId } });
    expect(restored).toMatchObject({ key: lost.key, sizeBytes: lost.sizeBytes, status: "STORED" });
  });

  it("reads the targets from the metadata database when none are given, and never guesses a damaged copy", async () => {
    const pgBackup = originals.find((o) => o.serverName === "pg-rc")!;
    const file = path.join(localDir, pgBackup.artifacts[0]!.key);
    fs.appendFileSync(file, "x");
    await prisma!.backupArtifact.deleteMany({ where: { backupId: pgBackup.id } });
    await prisma!.backup.delete({ where: { id: pgBackup.id } });
    const r = await runCli(["recover-metadata", "--database-url", databaseUrl, "--merge", "--json"], env());
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as RecoveryReport;
    expect(report.targets.map((t) => t.error)).toEqual([null, null]);
    const outcome = report.backups.find((b) => b.backupId === pgBackup.id)!;
    expect(outcome.action).toBe("create");
    expect(outcome.copies[0]).toMatchObject({ status: "CORRUPT", problem: expect.stringMatching(/bytes, its manifest records/) });
    expect(await prisma!.backupArtifact.findFirstOrThrow({ where: { backupId: pgBackup.id } })).toMatchObject({ status: "CORRUPT" });
  });
});
