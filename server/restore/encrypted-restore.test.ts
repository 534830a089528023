import { execFileSync, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseHeader } from "../encryption/age-header.ts";
import { runCli } from "../cli/testing/run-cli.ts";
import { createServer, createTarget, dataOf, runBackup, waitForBackup, type BackupView } from "../testing/backup-helpers.ts";
import { startS3rver } from "../testing/s3rver.ts";
import {
  addBulkTable,
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
import { createTestDatabase } from "../testing/test-db.ts";
import { fingerprintOf } from "../encryption/age-keys.ts";
import { eventually, restoreAndWait } from "./testing/restore-helpers.ts";

const SEALED_CHUNK = 64 * 1024 + 16;

/**
 * Encrypted backups (dump options `encryption: AGE`) read back on the real servers: restores into
 * new databases, refusals of altered artifacts with the target left as it was, and the recovery
 * identity restoring through the CLI once the instance key is gone from the metadata.
 */
describe("restoring encrypted backups", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-encread-"));
  const localDir = path.join(work, "local");
  const recoveryKey = path.join(work, "recovery.txt");
  const mariaDbs: string[] = [];
  const pgDbs: string[] = [];
  let mariaSource: string;
  let pgSource: string;
  let maria: BackupView;
  let pg: BackupView;
  let pgParallel: BackupView;
  let s3Id: number;
  let mariaId: number;

  beforeAll(async () => {
    app = await createTestApp();
    s3 = await startS3rver();
    admin = await app.as("ADMIN");
    execFileSync("age-keygen", ["-o", recoveryKey], { stdio: "pipe" });
    const recipient = /public key: (age1\w+)/.exec(fs.readFileSync(recoveryKey, "utf8"))![1]!;
    dataOf(await admin(`mutation($r: String!) { addRecoveryRecipient(input: { label: "vault", recipient: $r }) { id } }`, { r: recipient }));
    const localId = await createTarget(admin, { name: "enc-local", kind: "LOCAL", path: localDir });
    s3Id = await createTarget(admin, {
      name: "enc-s3",
      kind: "S3",
      bucket: s3.bucket,
      region: "us-east-1",
      endpoint: s3.endpoint,
      prefix: "enc",
      forcePathStyle: true,
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
    });
    const profile = (
      dataOf(await admin(`mutation { createDumpOptions(input: { name: "encrypted", encryption: AGE }) { id } }`)) as { createDumpOptions: { id: number } }
    ).createDumpOptions.id;
    mariaId = await createServer(admin, {
      name: "maria-enc",
      engine: "MARIADB",
      host: "127.0.0.1",
      port: 3306,
      username: "root",
      dumpOptionsId: profile,
    });
    const pgId = await createServer(admin, {
      name: "pg-enc",
      engine: "POSTGRESQL",
      host: "127.0.0.1",
      port: 5432,
      username: POSTGRES.user,
      dumpOptionsId: profile,
    });
    const parallel = (
      dataOf(await admin(`mutation { createDumpOptions(input: { name: "encrypted-parallel", engine: PARALLEL, threads: 2, encryption: AGE }) { id } }`)) as {
        createDumpOptions: { id: number };
      }
    ).createDumpOptions.id;
    const pgParallelId = await createServer(admin, {
      name: "pg-enc-par",
      engine: "POSTGRESQL",
      host: "127.0.0.1",
      port: 5432,
      username: POSTGRES.user,
      dumpOptionsId: parallel,
    });
    mariaSource = uniqueName("encm");
    pgSource = uniqueName("encp");
    mariaDbs.push(mariaSource);
    pgDbs.push(pgSource);
    await Promise.all([createMariadbSample(mariaSource, { rows: 60 }), createPgSample(pgSource)]);
    // Several 64 KiB chunks, so that chunks can be reordered.
    await addBulkTable(mariaSource, 1);
    const [m] = await runBackup(admin, { serverId: mariaId, databases: [mariaSource], storageTargetIds: [localId, s3Id] });
    const [p] = await runBackup(admin, { serverId: pgId, databases: [pgSource], storageTargetIds: [localId] });
    const [q] = await runBackup(admin, { serverId: pgParallelId, databases: [pgSource], storageTargetIds: [localId] });
    [maria, pg, pgParallel] = await Promise.all([waitForBackup(admin, m!.id), waitForBackup(admin, p!.id), waitForBackup(admin, q!.id)]);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await s3?.stop();
    for (const db of mariaDbs) await dropMariadbDatabase(db);
    for (const db of pgDbs) await dropPgDatabase(db);
    fs.rmSync(work, { recursive: true, force: true });
  });

  const localTargetOf = (b: BackupView) => b.artifacts.find((a) => a.storageTarget?.kind === "LOCAL")!;
  const fileOf = (b: BackupView) => path.join(localDir, localTargetOf(b).key);

  it("stores age files that the recovery identity opens with stock age", () => {
    for (const b of [maria, pg, pgParallel]) {
      expect(b.status, b.error ?? "").toBe("SUCCEEDED");
      expect(b.artifacts[0]!.key).toMatch(/\.age$/);
      expect(fs.readFileSync(fileOf(b)).subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    }
    const opened = spawnSync("age", ["-d", "-i", recoveryKey, fileOf(maria)], { maxBuffer: 1 << 26 });
    expect(opened.status).toBe(0);
    expect(spawnSync("zstd", ["-dc"], { input: opened.stdout, maxBuffer: 1 << 26 }).stdout.toString()).toContain("CREATE TABLE `bulk`");
  });

  it("restores encrypted MariaDB (local and S3 copies) and PostgreSQL backups into new databases with equal tables", async () => {
    const fromLocal = uniqueName("encm_to");
    const fromS3 = uniqueName("encm_s3");
    const pgTarget = uniqueName("encp_to");
    mariaDbs.push(fromLocal, fromS3);
    pgDbs.push(pgTarget);
    const [a, b, c] = await Promise.all([
      restoreAndWait(admin, { backupId: maria.id, database: fromLocal }),
      restoreAndWait(admin, { backupId: maria.id, database: fromS3, storageTargetId: s3Id }),
      restoreAndWait(admin, { backupId: pg.id, database: pgTarget }),
    ]);
    for (const r of [a, b, c]) expect(r.status, r.error ?? "").toBe("SUCCEEDED");
    const expected = await mariadbFingerprint(mariaSource);
    expect(await mariadbFingerprint(fromLocal)).toEqual(expected);
    expect(await mariadbFingerprint(fromS3)).toEqual(expected);
    expect(await pgFingerprint(pgTarget)).toEqual(await pgFingerprint(pgSource));
  }, 120_000);

  it("restores an encrypted PARALLEL (pg_dump -Fd tar) backup: decrypted into the spool, loaded with pg_restore --jobs", async () => {
    expect(localTargetOf(pgParallel).key).toMatch(/\.tar\.zst\.age$/);
    const target = uniqueName("encpar_to");
    pgDbs.push(target);
    const r = await restoreAndWait(admin, { backupId: pgParallel.id, database: target });
    expect(r.status, r.error ?? "").toBe("SUCCEEDED");
    expect(await pgFingerprint(target)).toEqual(await pgFingerprint(pgSource));
  }, 90_000);

  it("drills an encrypted backup: decrypted with the instance key, PASSED against the captured tables", async () => {
    dataOf(await admin(`mutation($b: ID!, $s: ID!) { runRestoreDrill(backupId: $b, serverId: $s) { id } }`, { b: maria.id, s: mariaId }));
    const drill = await eventually(
      async () => {
        const d = await app.db.prisma.restoreDrill.findFirst({ where: { backupId: Number(maria.id) }, orderBy: { id: "desc" } });
        return (d && d.status !== "RUNNING" && d) || undefined;
      },
      "the drill to finish",
      60_000,
    );
    expect(drill.status, drill.error ?? "").toBe("PASSED");
    expect(drill.scratchDropped).toBe(true);
  }, 90_000);

  /** The artifact altered three ways: one bit flipped, two chunks swapped, cut at a chunk boundary. */
  function tamperedCopies(file: string): Record<string, Buffer> {
    const data = fs.readFileSync(file);
    const header = parseHeader(data)!;
    const payload = header.length + 16;
    expect(data.length - payload).toBeGreaterThan(3 * SEALED_CHUNK);
    const flipped = Buffer.from(data);
    flipped[payload + SEALED_CHUNK + 100] = flipped[payload + SEALED_CHUNK + 100]! ^ 0x01;
    const swapped = Buffer.from(data);
    data.copy(swapped, payload, payload + SEALED_CHUNK, payload + 2 * SEALED_CHUNK);
    data.copy(swapped, payload + SEALED_CHUNK, payload, payload + SEALED_CHUNK);
    const truncated = data.subarray(0, payload + 2 * SEALED_CHUNK);
    return { flipped, swapped, truncated };
  }

  it("refuses flipped, reordered and truncated artifacts (restore and age -d), leaving the target unchanged", async () => {
    const file = fileOf(maria);
    const original = fs.readFileSync(file);
    const existing = uniqueName("encm_keep");
    mariaDbs.push(existing);
    await mariadbExec([`CREATE DATABASE ${existing}`, `CREATE TABLE ${existing}.kept (id INT PRIMARY KEY)`, `INSERT INTO ${existing}.kept VALUES (7)`]);
    const before = await mariadbFingerprint(existing);
    const artifactId = localTargetOf(maria).id;
    try {
      for (const [how, bytes] of Object.entries(tamperedCopies(file))) {
        fs.writeFileSync(file, bytes);
        const aged = spawnSync("age", ["-d", "-i", recoveryKey, file], { maxBuffer: 1 << 26 });
        expect(aged.status, how).not.toBe(0);
        // The record's checksum made to match the altered bytes: only decryption can tell now.
        const sha256 = crypto.createHash("sha256").update(bytes).digest("hex");
        await app.db.prisma.backupArtifact.update({ where: { id: artifactId }, data: { sha256, status: "STORED" } });
        const fresh = uniqueName("encm_bad");
        const created = await restoreAndWait(admin, { backupId: maria.id, database: fresh, storageTargetId: localTargetOf(maria).storageTarget?.id });
        expect(created.status, how).toBe("FAILED");
        expect(created.error, how).toMatch(/fails authentication|cut short/);
        expect(created.error, how).toMatch(/was dropped/);
        expect(await mariadbExec([`SHOW DATABASES LIKE '${fresh}'`])).toEqual([[]]);
        const over = await restoreAndWait(admin, {
          backupId: maria.id,
          database: existing,
          overwrite: true,
          storageTargetId: localTargetOf(maria).storageTarget?.id,
        });
        expect(over.status, how).toBe("FAILED");
        expect(over.targetState, how).toBe("UNTOUCHED");
        expect(await mariadbFingerprint(existing), how).toEqual(before);
      }
      // The checksum as recorded at backup time: an altered artifact is a checksum mismatch, marked CORRUPT.
      await app.db.prisma.backupArtifact.update({ where: { id: artifactId }, data: { sha256: null } });
      const mismatch = await restoreAndWait(admin, {
        backupId: maria.id,
        database: uniqueName("encm_mm"),
        storageTargetId: localTargetOf(maria).storageTarget?.id,
      });
      expect(mismatch.error).toMatch(/checksum mismatch/);
    } finally {
      fs.writeFileSync(file, original);
      await app.db.prisma.backupArtifact.update({ where: { id: artifactId }, data: { sha256: null, status: "STORED", error: null } });
    }
  }, 240_000);

  it("recover-metadata records encrypted backups as such, linking the recipients the new metadata database knows", async () => {
    const db = await createTestDatabase();
    try {
      const recipient = /public key: (age1\w+)/.exec(fs.readFileSync(recoveryKey, "utf8"))![1]!;
      const vault = await db.prisma.encryptionKey.create({
        data: { kind: "RECOVERY", label: "vault again", recipient, fingerprint: fingerprintOf(recipient) },
      });
      const r = await runCli(["recover-metadata", "--local", localDir, "--database-url", db.url, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as { backups: Array<{ backupId: number; action: string; encrypted: boolean }> };
      expect(report.backups.map((b) => [b.backupId, b.action, b.encrypted]).sort()).toEqual(
        [
          [maria.id, "create", true],
          [pg.id, "create", true],
          [pgParallel.id, "create", true],
        ].sort(),
      );
      const rebuilt = await db.prisma.backup.findMany({ include: { artifacts: { include: { encryptionKeys: true } } }, orderBy: { id: "asc" } });
      for (const b of rebuilt) {
        expect(b.encryption).toBe("AGE");
        expect(b.artifacts[0]!.key).toMatch(/\.age$/);
        expect(b.artifacts[0]!.encryptionKeys.map((k) => k.keyId)).toEqual([vault.id]);
      }
    } finally {
      await db.drop();
    }
  }, 60_000);

  it("with the instance key gone from the metadata, names the keys that open it, and the CLI restores with the recovery identity", async () => {
    const copy = path.join(work, path.basename(fileOf(pg)));
    fs.copyFileSync(fileOf(pg), copy);
    fs.copyFileSync(`${fileOf(pg)}.manifest.json`, `${copy}.manifest.json`);
    const keys = await app.db.prisma.encryptionKey.findMany({ orderBy: { id: "asc" } });
    const instance = keys.find((k) => k.kind === "INSTANCE")!;
    const recovery = keys.find((k) => k.kind === "RECOVERY")!;
    await app.db.prisma.encryptionKey.update({ where: { id: Number(instance.id) }, data: { identityEnc: null } });

    const refused = uniqueName("encp_noid");
    const viaApi = await restoreAndWait(admin, { backupId: pg.id, database: refused });
    expect(viaApi.status).toBe("FAILED");
    expect(viaApi.error).toContain("no identity this instance holds opens this encrypted artifact");
    expect(viaApi.error).toContain(`#${recovery.id} (recovery key "vault", fingerprint ${recovery.fingerprint})`);
    expect(viaApi.error).toContain(`fingerprint ${instance.fingerprint}`);
    expect(viaApi.targetState).toBe("UNTOUCHED");

    const target = uniqueName("encp_cli");
    pgDbs.push(target);
    const url = `postgres://${POSTGRES.user}@127.0.0.1:5432/${target}`;
    const without = await runCli(["restore", "--file", copy, "--to", url]);
    expect(without.code).toBe(2);
    expect(without.stderr).toContain("--identity: the artifact is encrypted (age)");
    expect(without.stderr).toContain(recovery.fingerprint);
    const wrongKey = path.join(work, "other.txt");
    execFileSync("age-keygen", ["-o", wrongKey], { stdio: "pipe" });
    const wrong = await runCli(["restore", "--file", copy, "--to", url, "--identity", wrongKey]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`no identity in ${wrongKey} opens this encrypted artifact`);
    const r = await runCli(["restore", "--file", copy, "--to", url, "--identity", recoveryKey]);
    expect(r.code, r.stderr).toBe(0);
    expect(await pgFingerprint(target)).toEqual(await pgFingerprint(pgSource));

    // Straight from S3, with the recovery identity.
    const s3Key = `enc/${maria.artifacts.find((a) => a.storageTarget?.kind === "S3")!.key}`;
    const fromS3 = uniqueName("encm_clis3");
    mariaDbs.push(fromS3);
    const viaS3 = await runCli(
      [
        "restore",
        "--from-s3",
        `s3://${s3.bucket}/${s3Key}`,
        "--endpoint",
        s3.endpoint,
        "--to",
        "mariadb://root@127.0.0.1",
        "--database",
        fromS3,
        "--identity",
        recoveryKey,
      ],
      { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" },
    );
    expect(viaS3.code, viaS3.stderr).toBe(0);
    expect(await mariadbFingerprint(fromS3)).toEqual(await mariadbFingerprint(mariaSource));
  }, 120_000);
});
