import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, createTarget, dataOf, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { freePort } from "../testing/server-process.ts";
import { createMariadbSample, dropMariadbDatabase, uniqueName } from "../testing/sample-databases.ts";
import { startS3rver, type S3rverHandle } from "../testing/s3rver.ts";
import { createTestApp } from "../testing/test-app.ts";

const DASHBOARD = `{ dashboard { databases { serverName database status missingCopies { target status } }
  recentFailures { id status } } }`;
const COPIES = `query($id: ID!) { backup(id: $id) { status error copyProblems { target status error } artifacts { status storageTarget { name } } } }`;
const REPAIR = `mutation($id: ID!) { repairBackup(id: $id) { repaired failed { target error } backup { id status } } }`;

/** The JSON log lines of the test app. */
const logged = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, any>);

async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Issue 13, items 1, 2 and 4 against real MariaDB, a real local target and the s3rver test S3:
 * an S3 outage makes a backup PARTIAL and its database DEGRADED with the missing target; uploads are
 * retried per target; repairBackup copies a checksum-verified copy back; a CORRUPT copy found by
 * verification degrades the database and is repaired from the other target.
 */
describe("copies tell the truth", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let operator: Awaited<ReturnType<typeof app.as>>;
  let viewer: Awaited<ReturnType<typeof app.as>>;
  let s3: S3rverHandle;
  let s3Port: number;
  const s3Dir = fs.mkdtempSync(path.join(os.tmpdir(), "truth-s3-"));
  const localDir = fs.mkdtempSync(path.join(os.tmpdir(), "truth-local-"));
  const db = uniqueName("truth");
  const serverName = uniqueName("truth-srv");
  let serverId: number;
  let localId: number;
  let s3Id: number;

  beforeAll(async () => {
    // Retries 0.8 s, then about 1.6 s later: long enough to bring S3 back between them.
    app = await createTestApp({ limits: { retryBaseMs: 800, maxAttempts: 3 }, autoRepairMs: 3_600_000 });
    admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    viewer = await app.as("VIEWER");
    await createMariadbSample(db, { rows: 50 });
    s3Port = await freePort();
    s3 = await startS3rver({ port: s3Port, dir: s3Dir });
    serverId = await createServer(admin, { name: serverName, engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", includeDatabases: [db] });
    localId = await createTarget(admin, { name: uniqueName("truth-local"), kind: "LOCAL", path: localDir });
    s3Id = await createTarget(admin, {
      name: uniqueName("truth-s3"),
      kind: "S3",
      bucket: s3.bucket,
      region: "us-east-1",
      endpoint: s3.endpoint,
      forcePathStyle: true,
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
    });
  });

  afterAll(async () => {
    await app?.close();
    await s3?.stop();
    await dropMariadbDatabase(db);
    fs.rmSync(s3Dir, { recursive: true, force: true });
    fs.rmSync(localDir, { recursive: true, force: true });
  });

  const row = async () => {
    const { dashboard } = dataOf(await viewer(DASHBOARD)) as { dashboard: any };
    return { dashboard, row: dashboard.databases.find((d: any) => d.serverName === serverName && d.database === db) };
  };

  it("an S3 outage: PARTIAL, retried per target, DEGRADED with the missing target, listed as a recent failure; repairBackup completes it", async () => {
    await s3.stop();
    const [b] = await runBackup(operator, { serverId, databases: [db], storageTargetIds: [localId, s3Id] });
    const done = await waitForBackup(operator, b!.id, undefined, 90_000);
    expect(done.status).toBe("PARTIAL");
    // Each retry of the S3 upload is logged with its attempt number.
    const retries = logged(app.logLines).filter((l) => l.msg === "upload to a storage target failed; retrying it" && l.backupId === b!.id);
    expect(retries.map((l) => l.attempt)).toEqual([2, 3]);

    const { dashboard, row: degraded } = await row();
    expect(degraded.status).toBe("DEGRADED");
    const s3Name = (await app.db.prisma.storageTarget.findUniqueOrThrow({ where: { id: s3Id } })).name;
    expect(degraded.missingCopies).toEqual([{ target: s3Name, status: "FAILED" }]);
    expect(dashboard.recentFailures).toContainEqual({ id: String(b!.id), status: "PARTIAL" });
    const before = dataOf(await viewer(COPIES, { id: b!.id })) as any;
    expect(before.backup.copyProblems).toMatchObject([{ target: s3Name, status: "FAILED" }]);

    // A viewer may not repair; with S3 still down an operator's repair reports why, and changes nothing.
    expect((await viewer(REPAIR, { id: b!.id })).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const down = dataOf(await operator(REPAIR, { id: b!.id })) as any;
    expect(down.repairBackup).toMatchObject({ repaired: [], backup: { status: "PARTIAL" } });
    expect(down.repairBackup.failed[0].target).toBe(s3Name);

    s3 = await startS3rver({ port: s3Port, dir: s3Dir });
    const repaired = dataOf(await operator(REPAIR, { id: b!.id })) as any;
    expect(repaired.repairBackup).toEqual({ repaired: [s3Name], failed: [], backup: { id: String(b!.id), status: "SUCCEEDED" } });
    const after = dataOf(await viewer(COPIES, { id: b!.id })) as any;
    expect(after.backup).toMatchObject({ status: "SUCCEEDED", error: null, copyProblems: [] });
    expect(after.backup.artifacts.map((a: any) => a.status)).toEqual(["STORED", "STORED"]);
    expect((await row()).row.status).toBe("OK");
    const audit = await app.db.prisma.auditLog.findFirst({ where: { action: "backup.repair", entityId: String(b!.id) }, orderBy: { id: "desc" } });
    expect(audit?.actor).toContain("test-operator");
    // The repaired object is the very artifact: same bytes as the local copy.
    const key = (await app.db.prisma.backupArtifact.findFirstOrThrow({ where: { backupId: b!.id, storageTargetId: s3Id } })).key;
    expect(fs.readFileSync(path.join(s3Dir, s3.bucket, `${key}._S3rver_object`))).toEqual(fs.readFileSync(path.join(localDir, key)));
  });

  it("retries an upload that failed while S3 was down and succeeds once S3 is back, within the same run", async () => {
    await s3.stop();
    const [b] = await runBackup(operator, { serverId, databases: [db], storageTargetIds: [localId, s3Id] });
    await waitFor(
      () => logged(app.logLines).some((l) => l.msg === "upload to a storage target failed; retrying it" && l.backupId === b!.id),
      "the first retry",
    );
    s3 = await startS3rver({ port: s3Port, dir: s3Dir });
    const done = await waitForBackup(operator, b!.id, undefined, 90_000);
    expect(done.status).toBe("SUCCEEDED");
    expect(logged(app.logLines).some((l) => l.msg === "upload to a storage target succeeded on retry" && l.backupId === b!.id)).toBe(true);
  });

  it("a copy verification finds CORRUPT degrades the database and shows on the backup; repair copies the good one back", async () => {
    const [b] = await runBackup(operator, { serverId, databases: [db], storageTargetIds: [localId, s3Id] });
    expect((await waitForBackup(operator, b!.id, undefined, 90_000)).status).toBe("SUCCEEDED");
    const local = await app.db.prisma.backupArtifact.findFirstOrThrow({ where: { backupId: b!.id, storageTargetId: localId } });
    const file = path.join(localDir, local.key);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length >> 1]! ^= 0xff;
    fs.writeFileSync(file, bytes);
    dataOf(await operator(`mutation($id: ID!) { verifyBackup(id: $id) { id } }`, { id: b!.id }));
    const localName = (await app.db.prisma.storageTarget.findUniqueOrThrow({ where: { id: localId } })).name;

    const { row: degraded } = await row();
    expect(degraded).toMatchObject({ status: "DEGRADED", missingCopies: [{ target: localName, status: "CORRUPT" }] });
    const damaged = dataOf(await viewer(COPIES, { id: b!.id })) as any;
    expect(damaged.backup.copyProblems).toMatchObject([{ target: localName, status: "CORRUPT" }]);

    const repaired = dataOf(await operator(REPAIR, { id: b!.id })) as any;
    expect(repaired.repairBackup).toMatchObject({ repaired: [localName], failed: [] });
    expect(fs.readFileSync(file)).not.toEqual(bytes);
    expect((await row()).row).toMatchObject({ status: "OK", missingCopies: [] });
  });

  it("refuses to spread a damaged copy: a source whose bytes no longer match the SHA-256 is not copied", async () => {
    const [b] = await runBackup(operator, { serverId, databases: [db], storageTargetIds: [localId, s3Id] });
    expect((await waitForBackup(operator, b!.id, undefined, 90_000)).status).toBe("SUCCEEDED");
    const p = app.db.prisma;
    const local = await p.backupArtifact.findFirstOrThrow({ where: { backupId: b!.id, storageTargetId: localId } });
    // The local copy is damaged but not yet known to be; the S3 copy is gone.
    const file = path.join(localDir, local.key);
    const bytes = fs.readFileSync(file);
    bytes[0]! ^= 0xff;
    fs.writeFileSync(file, bytes);
    await p.backupArtifact.updateMany({ where: { backupId: b!.id, storageTargetId: s3Id }, data: { status: "MISSING" } });
    const result = dataOf(await operator(REPAIR, { id: b!.id })) as any;
    expect(result.repairBackup.repaired).toEqual([]);
    expect(result.repairBackup.failed[0].error).toContain("does not match the backup's SHA-256");
    expect((await p.backupArtifact.findFirstOrThrow({ where: { backupId: b!.id, storageTargetId: s3Id } })).status).toBe("MISSING");
  });

  it("the sweeper repairs recent PARTIAL backups on its own", async () => {
    await s3.stop();
    const [b] = await runBackup(operator, { serverId, databases: [db], storageTargetIds: [localId, s3Id] });
    expect((await waitForBackup(operator, b!.id, undefined, 90_000)).status).toBe("PARTIAL");
    s3 = await startS3rver({ port: s3Port, dir: s3Dir });
    expect(await app.sweeper.repairRecent()).toBeGreaterThanOrEqual(1);
    expect((dataOf(await viewer(COPIES, { id: b!.id })) as any).backup.status).toBe("SUCCEEDED");
    expect(await app.db.prisma.auditLog.count({ where: { action: "backup.repair", actor: "system:auto-repair", entityId: String(b!.id) } })).toBe(1);
  });
});
