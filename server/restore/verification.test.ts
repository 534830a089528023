import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, createTarget, dataOf, runBackup, waitForBackup, type BackupView } from "../testing/backup-helpers.ts";
import { startS3rver } from "../testing/s3rver.ts";
import {
  createMariadbSample,
  createPgSample,
  dropMariadbDatabase,
  dropPgDatabase,
  mariadbExec,
  pgExec,
  pgFingerprint,
  POSTGRES,
  uniqueName,
} from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";
import { AuditLog } from "../audit/audit-log.ts";
import { createLogger } from "../observability/logger.ts";
import { systemClock } from "../scheduler/clock.ts";
import { S3Store } from "../storage/s3-store.ts";
import { RestoreEvents, type RestoreEvent } from "./events.ts";
import { VerificationService } from "./verification.service.ts";
import { flipByte, restoreAndWait } from "./testing/restore-helpers.ts";

const ARTIFACT_FIELDS = `artifacts { id status error verifiedAt verifyResult verifyDetail storageTarget { id kind } }`;
type ArtifactView = {
  id: number;
  status: string;
  error: string | null;
  verifiedAt: string | null;
  verifyResult: string | null;
  verifyDetail: string | null;
  storageTarget: { id: number; kind: string };
};

/** A byte flipped in a stored artifact, a deleted object, a tampered manifest: found, marked, never restored. */
describe("checksum verification", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let operator: Awaited<ReturnType<typeof app.as>>;
  let localDir: string;
  let localId: number;
  let s3Id: number;
  let mariaId: number;
  let pgId: number;
  const events: RestoreEvent[] = [];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-verify-"));
  const mariaDbs: string[] = [];
  const pgDbs: string[] = [];

  beforeAll(async () => {
    app = await createTestApp();
    app.restore.events.on((e) => events.push(e));
    s3 = await startS3rver();
    admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    localDir = path.join(work, "local");
    localId = await createTarget(admin, { name: "vf-local", kind: "LOCAL", path: localDir });
    s3Id = await createTarget(admin, {
      name: "vf-s3",
      kind: "S3",
      bucket: s3.bucket,
      region: "us-east-1",
      endpoint: s3.endpoint,
      forcePathStyle: true,
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
    });
    mariaId = await createServer(admin, { name: "maria-vf", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
    pgId = await createServer(admin, { name: "pg-vf", engine: "POSTGRESQL", host: "127.0.0.1", port: 5432, username: POSTGRES.user });
  });

  afterAll(async () => {
    await app?.close();
    await s3?.stop();
    for (const db of mariaDbs) await dropMariadbDatabase(db);
    for (const db of pgDbs) await dropPgDatabase(db);
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function backup(serverId: number, database: string, targets: number[]): Promise<BackupView> {
    const [b] = await runBackup(operator, { serverId, databases: [database], storageTargetIds: targets });
    const done = await waitForBackup(operator, b!.id);
    expect(done.status).toBe("SUCCEEDED");
    return done;
  }

  async function verify(id: number): Promise<ArtifactView[]> {
    return (
      dataOf(await operator(`mutation($id: ID!) { verifyBackup(id: $id) { ${ARTIFACT_FIELDS} } }`, { id })) as { verifyBackup: { artifacts: ArtifactView[] } }
    ).verifyBackup.artifacts;
  }

  const onTarget = (artifacts: ArtifactView[], id: number) => artifacts.find((a) => Number(a.storageTarget.id) === id)!;

  it("marks a flipped byte CORRUPT, fails a restore from it loudly before anything is kept, and reports it for the metric", async () => {
    const source = uniqueName("vf");
    mariaDbs.push(source);
    await createMariadbSample(source, { rows: 100 });
    const b = await backup(mariaId, source, [localId, s3Id]);
    const ok = await verify(b.id);
    expect(ok.map((a) => [a.status, a.verifyResult])).toEqual([
      ["STORED", "OK"],
      ["STORED", "OK"],
    ]);
    expect(ok.every((a) => a.verifiedAt !== null)).toBe(true);

    flipByte(path.join(localDir, b.artifacts.find((a) => a.storageTarget?.id === localId)!.key));
    const target = uniqueName("vf_into");
    mariaDbs.push(target);
    const failed = await restoreAndWait(operator, { backupId: b.id, storageTargetId: localId, database: target });
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toMatch(/^checksum mismatch: the artifact's SHA-256 is [0-9a-f]{64}, the backup recorded [0-9a-f]{64}/);
    expect(failed.error).toContain("was dropped");
    expect(await mariadbExec([`SHOW DATABASES LIKE '${target}'`])).toEqual([[]]);

    const artifacts = await verify(b.id);
    expect(onTarget(artifacts, localId)).toMatchObject({
      status: "CORRUPT",
      verifyResult: "CORRUPT",
      verifyDetail: expect.stringMatching(/^checksum mismatch/),
    });
    expect(onTarget(artifacts, s3Id)).toMatchObject({ status: "STORED", verifyResult: "OK", verifyDetail: null });
    const again = await restoreAndWait(operator, { backupId: b.id, storageTargetId: localId, database: target });
    expect(again.error).toMatch(/^checksum mismatch/);

    const statuses = await app.services.verification.statuses();
    const mine = statuses
      .filter((s) => s.database === source)
      .map((s) => [s.storageTargetName, s.result])
      .sort();
    expect(mine).toEqual([
      ["vf-local", "CORRUPT"],
      ["vf-s3", "OK"],
    ]);
    expect(events.filter((e) => e.type === "VERIFIED" && e.backupId === b.id).map((e) => (e as { result: string }).result)).toEqual([
      "OK",
      "OK",
      "CORRUPT",
      "OK",
    ]);
  });

  it("marks a deleted object MISSING and a tampered manifest MANIFEST_PROBLEM; a repaired copy is STORED again", async () => {
    const source = uniqueName("vf_gone");
    mariaDbs.push(source);
    await mariadbExec([`CREATE DATABASE ${source}`, `CREATE TABLE ${source}.t (id INT PRIMARY KEY)`, `INSERT INTO ${source}.t VALUES (1), (2)`]);
    const b = await backup(mariaId, source, [localId, s3Id]);
    const key = b.artifacts[0]!.key;
    const s3Store = new S3Store({
      bucket: s3.bucket,
      region: "us-east-1",
      endpoint: s3.endpoint,
      forcePathStyle: true,
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
    });
    await s3Store.delete(key);
    const manifestFile = path.join(localDir, `${key}.manifest.json`);
    const original = fs.readFileSync(manifestFile, "utf8");
    fs.writeFileSync(manifestFile, original.replace(/"sha256": "[0-9a-f]+"/, `"sha256": "${"0".repeat(64)}"`));

    const artifacts = await verify(b.id);
    expect(onTarget(artifacts, s3Id)).toMatchObject({ status: "MISSING", verifyResult: "MISSING", error: expect.stringContaining("missing") });
    expect(onTarget(artifacts, localId)).toMatchObject({
      status: "STORED",
      verifyResult: "MANIFEST_PROBLEM",
      verifyDetail: expect.stringMatching(/manifest records SHA-256 0{64}/),
    });

    fs.writeFileSync(manifestFile, original);
    expect(onTarget(await verify(b.id), localId)).toMatchObject({ status: "STORED", verifyResult: "OK" });
    const audit = dataOf(await admin(`query($id: String!) { auditLog(entityType: "backup", entityId: $id) { nodes { action } } }`, { id: String(b.id) })) as {
      auditLog: { nodes: Array<{ action: string }> };
    };
    expect(audit.auditLog.nodes.map((a) => a.action)).toEqual(["backup.verify", "backup.verify"]);
  });

  it("verifies every stored artifact not verified within the interval in the periodic pass, and only those", async () => {
    const source = uniqueName("vfpg");
    pgDbs.push(source);
    await createPgSample(source);
    const b = await backup(pgId, source, [localId]);
    const pass = await app.services.verification.runPass();
    expect(pass.checked).toBeGreaterThanOrEqual(1);
    const row = await app.db.prisma.backupArtifact.findFirstOrThrow({ where: { backupId: Number(b.id) } });
    expect(row).toMatchObject({ status: "STORED", verifyResult: "OK" });
    expect(row.verifiedAt).not.toBeNull();
    // Everything was just verified: the next pass has nothing to do.
    expect((await app.services.verification.runPass()).checked).toBe(0);
  });

  it("restores nothing from a corrupt artifact over an existing PostgreSQL database: verified before it is touched", async () => {
    const source = uniqueName("vfpg_src");
    const existing = uniqueName("vfpg_keep");
    pgDbs.push(source, existing);
    await createPgSample(source);
    await pgExec([`CREATE DATABASE ${existing}`]);
    await pgExec(["CREATE TABLE keep (id int PRIMARY KEY)", "INSERT INTO keep VALUES (1), (2), (3)"], existing);
    const before = await pgFingerprint(existing);
    const b = await backup(pgId, source, [localId]);
    // A flipped byte near the end: zstd decodes most of the stream before it can tell.
    const file = path.join(localDir, b.artifacts[0]!.key);
    flipByte(file, fs.statSync(file).size - 10);
    const failed = await restoreAndWait(admin, { backupId: b.id, serverId: pgId, database: existing, overwrite: true });
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toMatch(/^checksum mismatch: .*the existing database was not touched/);
    expect(await pgFingerprint(existing)).toEqual(before);
  });

  it("queues verifyBackup on an api instance for an instance that runs jobs: claimed once, a dead claimer's lapsed claim taken again, the answer waits for the results", async () => {
    const source = uniqueName("vf_q");
    mariaDbs.push(source);
    await createMariadbSample(source, { rows: 20 });
    const b = await backup(mariaId, source, [localId, s3Id]);
    const prisma = app.db.prisma;
    const localArtifact = b.artifacts.find((a) => Number(a.storageTarget?.id) === localId)!;
    const s3Artifact = b.artifacts.find((a) => Number(a.storageTarget?.id) === s3Id)!;
    flipByte(path.join(localDir, localArtifact.key));
    const api = (queuedWaitMs: number) =>
      new VerificationService({
        prisma,
        // An api instance never reads an artifact itself.
        storeFor: () => {
          throw new Error("the api instance read an artifact");
        },
        audit: new AuditLog(prisma),
        events: new RestoreEvents(),
        logger: createLogger({ level: "silent", pretty: false }),
        clock: systemClock,
        intervalMs: 0,
        instanceId: "vf-api",
        claims: false,
        queuedWaitMs,
      });
    const principal = { userId: 1, username: "vf-operator", role: "OPERATOR" as const, via: "session" as const };
    const row = (id: number) => prisma.backupArtifact.findUniqueOrThrow({ where: { id: Number(id) } });

    // Nobody claims: the answer comes after the wait, each copy still queued and never read.
    const queued = await api(300).verifyBackup(principal, Number(b.id));
    expect(queued.artifacts.map((a) => [a.verifyRequestedAt !== null, a.verifyResult])).toEqual([
      [true, null],
      [true, null],
    ]);
    // The S3 copy is being read by a live instance, the local one was claimed by an instance that died.
    await prisma.backupArtifact.update({
      where: { id: Number(s3Artifact.id) },
      data: { verifyClaimedBy: "vf-other", verifyClaimExpiresAt: new Date(Date.now() + 60_000) },
    });
    await prisma.backupArtifact.update({
      where: { id: Number(localArtifact.id) },
      data: { verifyClaimedBy: "vf-dead", verifyClaimExpiresAt: new Date(Date.now() - 1000) },
    });
    expect(await app.restore.verification.claimVerifications()).toBe(1);
    expect(await row(localArtifact.id)).toMatchObject({ status: "CORRUPT", verifyResult: "CORRUPT", verifyRequestedAt: null, verifyClaimedBy: null });
    expect(await row(s3Artifact.id)).toMatchObject({ verifyResult: null, verifyClaimedBy: "vf-other" });
    expect((await row(s3Artifact.id)).verifyRequestedAt).not.toBeNull();
    // Its claim lapses: taken, read, cleared.
    await prisma.backupArtifact.update({ where: { id: Number(s3Artifact.id) }, data: { verifyClaimExpiresAt: new Date(Date.now() - 1) } });
    expect(await app.restore.verification.claimVerifications()).toBe(1);
    expect(await row(s3Artifact.id)).toMatchObject({ status: "STORED", verifyResult: "OK", verifyRequestedAt: null, verifyClaimedBy: null });
    expect(await app.restore.verification.claimVerifications()).toBe(0);

    // With an instance claiming: the api's answer carries the fresh results.
    app.restore.verification.startClaiming(50);
    const before = (await row(s3Artifact.id)).verifiedAt!;
    const answered = await api(60_000).verifyBackup(principal, Number(b.id));
    const s3Now = answered.artifacts.find((a) => a.id === Number(s3Artifact.id))!;
    expect(s3Now).toMatchObject({ verifyResult: "OK", verifyRequestedAt: null });
    expect(s3Now.verifiedAt!.getTime()).toBeGreaterThan(before.getTime());
    expect(answered.artifacts.find((a) => a.id === Number(localArtifact.id))).toMatchObject({ verifyResult: "CORRUPT", verifyRequestedAt: null });
    const audit = await prisma.auditLog.findMany({ where: { entityType: "backup", entityId: String(b.id), action: "backup.verify" } });
    expect(audit.map((a) => (a.after as { queued: number[] }).queued.length)).toEqual([2, 2]);
  });
});
