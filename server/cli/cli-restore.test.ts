import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flipByte } from "../restore/testing/restore-helpers.ts";
import { createServer, createTarget, dataOf, runBackup, waitForBackup, type BackupView } from "../testing/backup-helpers.ts";
import { startS3rver } from "../testing/s3rver.ts";
import {
  createMariadbSample,
  createPgSample,
  dropMariadbDatabase,
  dropPgDatabase,
  mariadbExec,
  mariadbFingerprint,
  pgFingerprint,
  POSTGRES,
  uniqueName,
} from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";
import { runCli } from "./testing/run-cli.ts";

/**
 * `npx sqlguard restore` on the day the console is gone: artifacts copied out of storage (and one
 * read from S3) restored with the metadata database dropped and no server running.
 */
describe("sqlguard restore", () => {
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-cli-restore-"));
  const copied = path.join(work, "copied");
  const mariaDbs: string[] = [];
  const pgDbs: string[] = [];
  let mariaSource: string;
  let pgSource: string;
  let mariaBackup: BackupView;
  let pgBackup: BackupView;
  const s3Env = () => ({ AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" });

  beforeAll(async () => {
    s3 = await startS3rver();
    const app = await createTestApp();
    try {
      const admin = await app.as("ADMIN");
      const localDir = path.join(work, "local");
      const localId = await createTarget(admin, { name: "cli-local", kind: "LOCAL", path: localDir });
      const s3Id = await createTarget(admin, {
        name: "cli-s3",
        kind: "S3",
        bucket: s3.bucket,
        region: "us-east-1",
        endpoint: s3.endpoint,
        prefix: "team",
        forcePathStyle: true,
        accessKeyId: "S3RVER",
        secretAccessKey: "S3RVER",
      });
      const mariaId = await createServer(admin, { name: "maria-cli", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
      const profile = dataOf(await admin(`mutation { createDumpOptions(input: { name: "cli-custom", pgFormat: CUSTOM, compression: GZIP }) { id } }`)) as {
        createDumpOptions: { id: number };
      };
      const pgId = await createServer(admin, {
        name: "pg-cli",
        engine: "POSTGRESQL",
        host: "127.0.0.1",
        port: 5432,
        username: POSTGRES.user,
        dumpOptionsId: profile.createDumpOptions.id,
      });
      mariaSource = `${uniqueName("cli")} we;ird $(x)`;
      pgSource = uniqueName("clipg");
      mariaDbs.push(mariaSource);
      pgDbs.push(pgSource);
      await Promise.all([createMariadbSample(mariaSource, { rows: 60 }), createPgSample(pgSource)]);
      const [m] = await runBackup(admin, { serverId: mariaId, databases: [mariaSource], storageTargetIds: [localId, s3Id] });
      const [p] = await runBackup(admin, { serverId: pgId, databases: [pgSource], storageTargetIds: [localId] });
      [mariaBackup, pgBackup] = await Promise.all([waitForBackup(admin, m!.id), waitForBackup(admin, p!.id)]);
      fs.mkdirSync(copied);
      for (const b of [mariaBackup, pgBackup]) {
        const key = b.artifacts[0]!.key;
        fs.copyFileSync(path.join(localDir, key), path.join(copied, path.basename(key)));
        fs.copyFileSync(path.join(localDir, `${key}.manifest.json`), path.join(copied, `${path.basename(key)}.manifest.json`));
      }
    } finally {
      await app.close(); // drops the metadata database
    }
  });

  afterAll(async () => {
    await s3?.stop();
    for (const db of mariaDbs) await dropMariadbDatabase(db);
    for (const db of pgDbs) await dropPgDatabase(db);
    fs.rmSync(work, { recursive: true, force: true });
  });

  const file = (b: BackupView) => path.join(copied, path.basename(b.artifacts[0]!.key));

  it("restores a MariaDB artifact file into a named database, equal to the source", async () => {
    const target = uniqueName("cli_to");
    mariaDbs.push(target);
    const r = await runCli(["restore", "--file", file(mariaBackup), "--to", "mariadb://root@127.0.0.1:3306", "--database", target]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^restored into "${target}": \\d+ bytes read, SHA-256 ${mariaBackup.sha256} verified`));
    expect(await mariadbFingerprint(target)).toEqual(await mariadbFingerprint(mariaSource));
  });

  it("restores a PostgreSQL custom archive with a manifest kept elsewhere, the database named in the URL", async () => {
    const target = uniqueName("cli_pg");
    pgDbs.push(target);
    const manifest = path.join(work, "elsewhere.json");
    fs.copyFileSync(`${file(pgBackup)}.manifest.json`, manifest);
    const r = await runCli(["restore", "--file", file(pgBackup), "--manifest", manifest, "--to", `postgres://${POSTGRES.user}@127.0.0.1:5432/${target}`]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(await pgFingerprint(target)).toEqual(await pgFingerprint(pgSource));
  });

  it("restores straight from S3 into a new database named after the source", async () => {
    const key = `team/${mariaBackup.artifacts[0]!.key}`;
    const r = await runCli(["restore", "--from-s3", `s3://${s3.bucket}/${key}`, "--endpoint", s3.endpoint, "--to", "mysql://root@127.0.0.1"], s3Env());
    const database = /^restored into "(.+)":/.exec(r.stdout)?.[1];
    expect(r.code, r.stderr).toBe(0);
    expect(database).toMatch(/_restored_\d{8}_\d{6}$/);
    mariaDbs.push(database!);
    expect(database!.startsWith(mariaSource)).toBe(true);
    expect(await mariadbFingerprint(database!)).toEqual(await mariadbFingerprint(mariaSource));
  });

  it("refuses an existing database without --overwrite, a corrupt copy and a bad URL, leaving nothing behind", async () => {
    const existing = uniqueName("cli_exists");
    mariaDbs.push(existing);
    await mariadbExec([`CREATE DATABASE ${existing}`]);
    const exists = await runCli(["restore", "--file", file(mariaBackup), "--to", "mariadb://root@127.0.0.1", "--database", existing]);
    expect(exists.code).toBe(1);
    expect(exists.stderr).toMatch(/already exists \(pass --overwrite to replace it\)/);

    const corrupt = path.join(work, "corrupt.sql.zst");
    fs.copyFileSync(file(mariaBackup), corrupt);
    fs.copyFileSync(`${file(mariaBackup)}.manifest.json`, `${corrupt}.manifest.json`);
    flipByte(corrupt);
    const target = uniqueName("cli_corrupt");
    const bad = await runCli(["restore", "--file", corrupt, "--to", "mariadb://root@127.0.0.1", "--database", target]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/checksum mismatch: .*the new database "[^"]+" was dropped/);
    expect(await mariadbExec([`SHOW DATABASES LIKE '${target}'`])).toEqual([[]]);

    const usage = await runCli(["restore", "--file", corrupt, "--to", "ftp://host"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--to: unknown scheme "ftp:"/);
    const wrongEngine = await runCli(["restore", "--file", file(pgBackup), "--to", "mysql://root@127.0.0.1"]);
    expect(wrongEngine.code).toBe(2);
    expect(wrongEngine.stderr).toMatch(/--to: a POSTGRESQL backup needs a postgres:\/\/ URL/);
  });
});
