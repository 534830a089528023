import { execFileSync, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buffer } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreAndWait, eventually } from "../restore/testing/restore-helpers.ts";
import { SecretBox } from "../secrets/secret-box.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { createStore } from "../storage/create-store.ts";
import { createServer, createTarget, dataOf, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { startS3rver } from "../testing/s3rver.ts";
import { createMariadbSample, dropMariadbDatabase, mariadbFingerprint, uniqueName } from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";
import { parseHeader } from "./age-header.ts";
import { memoryLogger } from "../testing/test-db.ts";
import { EncryptionRewraps } from "./rewrap.ts";

type Job = { id: string; status: string; total: number; done: number; failed: number; error: string | null; keyIds: string[] };
const JOB = "id status total done failed error keyIds";

/**
 * rewrapBackups on real local and S3 (s3rver) targets: after a new recovery recipient is added and
 * the old one (and the instance key) retired, every artifact opens with the new keys only, checked
 * with Debian's age; the payload bytes are unchanged; a job interrupted mid-replacement and
 * resumed later loses nothing.
 */
describe("rewrapping encrypted backups", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-rewrap-"));
  const keyA = path.join(work, "a.txt");
  const keyB = path.join(work, "b.txt");
  const oldInstance = path.join(work, "old-instance.txt");
  const dbs: string[] = [];
  let source: string;
  const backupIds: number[] = [];

  const recipientOf = (file: string) => /public key: (age1\w+)/.exec(fs.readFileSync(file, "utf8"))![1]!;
  const addRecipient = async (label: string, file: string) =>
    Number(
      (
        dataOf(
          await admin(`mutation($l: String!, $r: String!) { addRecoveryRecipient(input: { label: $l, recipient: $r }) { id } }`, {
            l: label,
            r: recipientOf(file),
          }),
        ) as {
          addRecoveryRecipient: { id: number };
        }
      ).addRecoveryRecipient.id,
    );

  beforeAll(async () => {
    app = await createTestApp();
    s3 = await startS3rver();
    admin = await app.as("ADMIN");
    execFileSync("age-keygen", ["-o", keyA], { stdio: "pipe" });
    execFileSync("age-keygen", ["-o", keyB], { stdio: "pipe" });
    await addRecipient("old vault", keyA);
    const localId = await createTarget(admin, { name: "rw-local", kind: "LOCAL", path: path.join(work, "local") });
    const s3Id = await createTarget(admin, {
      name: "rw-s3",
      kind: "S3",
      bucket: s3.bucket,
      region: "us-east-1",
      endpoint: s3.endpoint,
      prefix: "rw",
      forcePathStyle: true,
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
    });
    const profile = (
      dataOf(await admin(`mutation { createDumpOptions(input: { name: "rw-encrypted", encryption: AGE }) { id } }`)) as { createDumpOptions: { id: number } }
    ).createDumpOptions.id;
    const serverId = await createServer(admin, {
      name: "maria-rw",
      engine: "MARIADB",
      host: "127.0.0.1",
      port: 3306,
      username: "root",
      dumpOptionsId: profile,
    });
    source = uniqueName("rw");
    dbs.push(source);
    await createMariadbSample(source, { rows: 40 });
    for (let i = 0; i < 2; i++) {
      const [b] = await runBackup(admin, { serverId, databases: [source], storageTargetIds: [localId, s3Id] });
      expect((await waitForBackup(admin, b!.id)).status).toBe("SUCCEEDED");
      backupIds.push(b!.id);
    }
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await s3?.stop();
    for (const db of dbs) await dropMariadbDatabase(db);
    fs.rmSync(work, { recursive: true, force: true });
  });

  const secrets = () => new SecretBox(app.secretKey);
  const artifacts = () =>
    app.db.prisma.backupArtifact.findMany({
      where: { backupId: { in: backupIds } },
      include: { storageTarget: true, backup: true, encryptionKeys: true },
      orderBy: { id: "asc" },
    });
  const storeOf = (target: Parameters<typeof createStore>[0]) => createStore(target, secrets(), { dataDir: app.dataDir });
  const read = async (store: ArtifactStore, key: string) => buffer(await store.get(key));
  /** Whether `age -d -i identity` opens the bytes, and the SQL it gives. */
  function opensWith(identity: string, bytes: Buffer): { ok: boolean; sql: string } {
    const file = path.join(work, `probe-${crypto.randomBytes(3).toString("hex")}.age`);
    fs.writeFileSync(file, bytes);
    const aged = spawnSync("age", ["-d", "-i", identity, file], { maxBuffer: 1 << 26 });
    fs.rmSync(file);
    if (aged.status !== 0) return { ok: false, sql: aged.stderr.toString() };
    return { ok: true, sql: spawnSync("zstd", ["-dc"], { input: aged.stdout, maxBuffer: 1 << 26 }).stdout.toString() };
  }
  const payloadOf = (bytes: Buffer) => bytes.subarray(parseHeader(bytes)!.length);

  /** A second job runner whose store stalls at the `nth` put of a key `match` accepts, until the job is stopped. */
  function stallingRewraps(match: (key: string) => boolean, nth: number) {
    let puts = 0;
    const stalled = { value: false };
    const stalling = (target: Parameters<typeof createStore>[0]): ArtifactStore => {
      const real = storeOf(target);
      return new Proxy(real, {
        get(store, prop) {
          if (prop !== "put") {
            const value = Reflect.get(store, prop) as unknown;
            return typeof value === "function" ? value.bind(store) : value;
          }
          return async (key: string, body: NodeJS.ReadableStream, options?: { signal?: AbortSignal }) => {
            if (match(key) && ++puts === nth) {
              stalled.value = true;
              await new Promise<void>((resolve) => options?.signal?.addEventListener("abort", () => resolve(), { once: true }));
              (body as unknown as { destroy(): void }).destroy();
              throw new Error("aborted");
            }
            return real.put(key, body as never, options as never);
          };
        },
      });
    };
    const rewraps = new EncryptionRewraps({
      prisma: app.db.prisma,
      secrets: secrets(),
      keys: app.services.encryptionKeys,
      storeFor: stalling,
      audit: { record: async () => {} } as never,
      logger: memoryLogger().logger,
      instanceId: `rewrap-victim-${nth}`,
      heartbeatMs: 200,
    });
    return { rewraps, stalled };
  }

  /** Starts rewrapBackups (resuming the stale job) and waits for its end. */
  async function rewrapAndWait(): Promise<Job> {
    const started = (dataOf(await admin(`mutation { rewrapBackups { ${JOB} } }`)) as { rewrapBackups: Job }).rewrapBackups;
    return eventually(async () => {
      const j = (dataOf(await admin(`query($id: ID!) { encryptionRewrap(id: $id) { ${JOB} } }`, { id: started.id })) as { encryptionRewrap: Job })
        .encryptionRewrap;
      return j.status !== "RUNNING" && j;
    }, "the rewrap to finish");
  }

  it("rewraps to the new recipient after the old one is retired; an interrupted job resumed later loses nothing", async () => {
    const before = await artifacts();
    expect(before).toHaveLength(4);
    const payloads = new Map<number, Buffer>();
    for (const a of before) {
      const bytes = await read(storeOf(a.storageTarget!), a.key);
      expect(opensWith(keyA, bytes).ok).toBe(true);
      payloads.set(a.id, payloadOf(bytes));
    }
    const oldInstanceRow = (await app.db.prisma.encryptionKey.findFirst({ where: { kind: "INSTANCE" } }))!;
    fs.writeFileSync(oldInstance, `${secrets().open(oldInstanceRow.identityEnc!)}\n`);
    expect(opensWith(oldInstance, await read(storeOf(before[0]!.storageTarget!), before[0]!.key)).ok).toBe(true);

    const idB = await addRecipient("new vault", keyB);
    const keys = (dataOf(await admin(`{ encryptionKeys { id kind label retiredAt } }`)) as { encryptionKeys: Array<{ id: number; label: string }> })
      .encryptionKeys;
    const idA = keys.find((k) => k.label === "old vault")!.id;
    dataOf(await admin(`mutation($id: ID!) { retireEncryptionKey(id: $id) { id } }`, { id: idA }));
    dataOf(await admin(`mutation($id: ID!) { retireEncryptionKey(id: $id) { id } }`, { id: oldInstanceRow.id }));

    // A second job runner whose store stalls replacing the second artifact, until it is stopped.
    const { rewraps: interrupted, stalled } = stallingRewraps((key) => key.endsWith(".age"), 2);
    const job = await interrupted.start("test-admin");
    await eventually(() => stalled.value, "the second replacement to stall");
    await interrupted.stop();
    const mid = await app.db.prisma.encryptionRewrap.findUniqueOrThrow({ where: { id: Number(job.id) } });
    expect(mid.status).toBe("RUNNING");
    expect(mid.done).toBe(1);
    const halfway = (await artifacts()).find((a) => a.rewrapSha256 !== null)!;
    expect(halfway).toBeDefined();
    // Its key still holds the old object (the record's SHA-256, opening with the retired key A).
    const stillOld = await read(storeOf(halfway.storageTarget!), halfway.key);
    expect(crypto.createHash("sha256").update(stillOld).digest("hex")).toBe(halfway.sha256 ?? halfway.backup.sha256);
    expect(opensWith(keyA, stillOld).ok).toBe(true);

    // A new rewrap while that one looks alive is refused; once its heartbeat is stale, it is resumed.
    const refused = await admin(`mutation { rewrapBackups { id } }`);
    expect(refused.errors?.[0]?.message).toMatch(/still running/);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const resumed = (dataOf(await admin(`mutation { rewrapBackups { ${JOB} } }`)) as { rewrapBackups: Job }).rewrapBackups;
    expect(resumed.id).toBe(String(job.id));
    const finished = await eventually(async () => {
      const j = (dataOf(await admin(`query($id: ID!) { encryptionRewrap(id: $id) { ${JOB} } }`, { id: job.id })) as { encryptionRewrap: Job }).encryptionRewrap;
      return j.status !== "RUNNING" && j;
    }, "the resumed rewrap to finish");
    expect(finished).toMatchObject({ status: "SUCCEEDED", total: 4, done: 4, failed: 0, error: null });
    const newInstance = (await app.db.prisma.encryptionKey.findFirst({ where: { kind: "INSTANCE", retiredAt: null } }))!;
    expect(newInstance.id).not.toBe(oldInstanceRow.id);
    expect(finished.keyIds.map(Number).sort()).toEqual([newInstance.id, idB].sort());

    for (const a of await artifacts()) {
      const store = storeOf(a.storageTarget!);
      const bytes = await read(store, a.key);
      const b = opensWith(keyB, bytes);
      expect(b.ok, `artifact ${a.id}: ${b.sql}`).toBe(true);
      expect(b.sql).toContain("CREATE TABLE `customers`");
      expect(opensWith(keyA, bytes).ok).toBe(false);
      expect(opensWith(oldInstance, bytes).ok).toBe(false);
      // Only the header changed; the record holds the new object's SHA-256 and size, and which keys open it.
      expect(payloadOf(bytes).equals(payloads.get(a.id)!)).toBe(true);
      expect(a.sha256).toBe(crypto.createHash("sha256").update(bytes).digest("hex"));
      expect(Number(a.sizeBytes)).toBe(bytes.length);
      expect(a.rewrapSha256).toBeNull();
      expect(a.encryptionKeys.map((k) => k.keyId).sort()).toEqual([newInstance.id, idB].sort());
      expect(await store.head(`${a.key}.rewrap`)).toBeNull();
      const manifest = JSON.parse((await read(store, `${a.key}.manifest.json`)).toString()) as {
        artifact: { sha256: string };
        encryption: { recipients: Array<{ keyId: number }> };
      };
      expect(manifest.artifact.sha256).toBe(a.sha256);
      expect(manifest.encryption.recipients.map((r) => r.keyId).sort()).toEqual([newInstance.id, idB].sort());
    }

    // Verification (SHA-256 against the record and the manifest) and a restore agree.
    for (const id of backupIds) {
      const verified = dataOf(await admin(`mutation($id: ID!) { verifyBackup(id: $id) { artifacts { verifyResult verifyDetail } } }`, { id })) as {
        verifyBackup: { artifacts: Array<{ verifyResult: string; verifyDetail: string | null }> };
      };
      for (const v of verified.verifyBackup.artifacts) expect(v.verifyResult, v.verifyDetail ?? "").toBe("OK");
    }
    const target = uniqueName("rw_to");
    dbs.push(target);
    const restored = await restoreAndWait(admin, { backupId: backupIds[1], database: target });
    expect(restored.status, restored.error ?? "").toBe("SUCCEEDED");
    expect(await mariadbFingerprint(target)).toEqual(await mariadbFingerprint(source));

    // A second run finds nothing to change: every artifact already opens with exactly these keys.
    const shas = (await artifacts()).map((a) => a.sha256);
    const again = (dataOf(await admin(`mutation { rewrapBackups { id } }`)) as { rewrapBackups: { id: number } }).rewrapBackups;
    await app.services.encryptionRewraps.idle();
    expect(await app.db.prisma.encryptionRewrap.findUniqueOrThrow({ where: { id: Number(again.id) } })).toMatchObject({ status: "SUCCEEDED", done: 4 });
    expect((await artifacts()).map((a) => a.sha256)).toEqual(shas);
    const audit = await app.db.prisma.auditLog.findMany({ where: { action: { startsWith: "encryption.rewrap" } }, orderBy: { id: "asc" } });
    expect(audit.map((e) => e.action)).toEqual(["encryption.rewrap.resume", "encryption.rewrap.finish", "encryption.rewrap.start", "encryption.rewrap.finish"]);
  }, 240_000);

  it("resumes a job stopped after an artifact was replaced but before its record: the record catches up, verification passes meanwhile", async () => {
    const keyC = path.join(work, "c.txt");
    execFileSync("age-keygen", ["-o", keyC], { stdio: "pipe" });
    const idC = await addRecipient("third vault", keyC);
    // Stalls writing the first artifact's manifest: its object already has the new header.
    const { rewraps, stalled } = stallingRewraps((key) => key.endsWith(".manifest.json"), 1);
    const job = await rewraps.start("test-admin");
    await eventually(() => stalled.value, "the manifest rewrite to stall");
    await rewraps.stop();
    const replaced = (await artifacts()).find((a) => a.rewrapSha256 !== null)!;
    const now = await read(storeOf(replaced.storageTarget!), replaced.key);
    expect(crypto.createHash("sha256").update(now).digest("hex")).toBe(replaced.rewrapSha256);
    expect(replaced.sha256).not.toBe(replaced.rewrapSha256);
    expect(opensWith(keyC, now).ok).toBe(true);
    // Object new, manifest and record old: verification takes either SHA-256 while a rewrap is under way.
    const verified = dataOf(
      await admin(`mutation($id: ID!) { verifyBackup(id: $id) { artifacts { id verifyResult verifyDetail } } }`, { id: replaced.backupId }),
    ) as { verifyBackup: { artifacts: Array<{ id: number; verifyResult: string; verifyDetail: string | null }> } };
    for (const v of verified.verifyBackup.artifacts) expect(v.verifyResult, v.verifyDetail ?? "").toBe("OK");

    await new Promise((resolve) => setTimeout(resolve, 700));
    const finished = await rewrapAndWait();
    expect(finished).toMatchObject({ id: String(job.id), status: "SUCCEEDED", total: 4, done: 4, failed: 0 });
    for (const a of await artifacts()) {
      const store = storeOf(a.storageTarget!);
      const bytes = await read(store, a.key);
      expect(opensWith(keyC, bytes).ok, `artifact ${a.id}`).toBe(true);
      expect(opensWith(keyB, bytes).ok, `artifact ${a.id}`).toBe(true);
      expect(a.sha256).toBe(crypto.createHash("sha256").update(bytes).digest("hex"));
      expect(a.rewrapSha256).toBeNull();
      expect(a.encryptionKeys.map((k) => k.keyId)).toContain(idC);
      const manifest = JSON.parse((await read(store, `${a.key}.manifest.json`)).toString()) as { artifact: { sha256: string; storedBytes: number } };
      expect(manifest.artifact).toMatchObject({ sha256: a.sha256, storedBytes: bytes.length });
    }
    // The one replaced before the stop kept its new header: it was finished, not rewritten again.
    const after = (await artifacts()).find((a) => a.id === replaced.id)!;
    expect(after.sha256).toBe(replaced.rewrapSha256);
  }, 120_000);
});
