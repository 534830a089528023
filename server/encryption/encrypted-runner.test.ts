import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { afterEach, describe, expect, it } from "vitest";
import { BackupsRepository } from "../db/backups.repository.ts";
import { fakeEngine } from "../scheduler/testing/fake-engine.ts";
import { SecretBox } from "../secrets/secret-box.ts";
import { createStore } from "../storage/create-store.ts";
import { createServer, createTarget, dataOf, listFiles, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { createTestApp } from "../testing/test-app.ts";
import { memoryLogger } from "../testing/test-db.ts";
import { artifactKey } from "../runner/artifact-key.ts";
import { BackupRunner } from "../runner/backup-runner.ts";
import { BackupEvents } from "../runner/events.ts";
import { AgeDecrypt } from "./age-stream.ts";

type App = Awaited<ReturnType<typeof createTestApp>>;
let app: App | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await app?.close();
  app = undefined;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const DUMP = "CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);\n";

/** The runner with a fake dump (no database server): one server on an `encryption: AGE` profile, one local target. */
async function setup() {
  app = await createTestApp({ engine: fakeEngine({ script: `printf '${DUMP.replace(/\n/g, "\\n")}'` }), instanceId: "enc-runner" });
  const admin = await app.as("ADMIN");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-enc-runner-"));
  dirs.push(dir);
  const targetId = await createTarget(admin, { name: "enc-local", kind: "LOCAL", path: dir });
  const profile = dataOf(await admin(`mutation { createDumpOptions(input: { name: "enc", encryption: AGE }) { id } }`)) as {
    createDumpOptions: { id: number };
  };
  const serverId = await createServer(admin, {
    name: "fake-enc",
    engine: "MARIADB",
    host: "127.0.0.1",
    port: 3306,
    username: "root",
    dumpOptionsId: profile.createDumpOptions.id,
  });
  return { app, admin, dir, targetId, serverId };
}

describe("the backup runner with encryption AGE", () => {
  it("stores an age file SQLGuard's own decrypting stream opens with the instance identity, back to the compressed dump", async () => {
    const { app, admin, dir, targetId, serverId } = await setup();
    const [b] = await runBackup(admin, { serverId, storageTargetIds: [targetId] });
    const done = await waitForBackup(admin, b!.id);
    expect(done.status).toBe("SUCCEEDED");
    const key = done.artifacts[0]!.key;
    expect(key).toMatch(/\.sql\.zst\.age$/);
    const [held] = await app.services.encryptionKeys.identities();
    const sealed = fs.readFileSync(path.join(dir, key));
    const compressed = await buffer(Readable.from([sealed]).pipe(new AgeDecrypt([held!.identity])));
    expect(execFileSync("zstd", ["-dc"], { input: compressed }).toString()).toBe(DUMP);
    // The raw size is the dump's; the stored size is the age file's (header, nonce and tags on top of zstd's output).
    expect(Number(done.rawBytes)).toBe(DUMP.length);
    expect(Number(done.storedBytes)).toBe(sealed.length);
    expect(sealed.length).toBeGreaterThan(compressed.length + 16);
    const row = await app.db.prisma.backup.findUniqueOrThrow({ where: { id: Number(done.id) }, include: { artifacts: { include: { encryptionKeys: true } } } });
    expect(row.encryption).toBe("AGE");
    expect(row.artifacts[0]!.encryptionKeys.map((k) => k.keyId)).toEqual([held!.id]);
  });

  it("fails the backup, leaving no artifact, when the runner has no encryption keys to encrypt to", async () => {
    const { app, dir, targetId, serverId } = await setup();
    const repo = new BackupsRepository(app.db.prisma);
    const backup = await repo.create({
      serverId,
      serverName: "fake-enc",
      engine: "MARIADB",
      database: "app",
      scheduleId: null,
      scheduleName: null,
      trigger: "MANUAL",
      dueAt: null,
      compression: "ZSTD",
      instanceId: "enc-runner",
      storageTargetIds: [targetId],
      keyOf: (b) => artifactKey({ ...b, backupId: b.id, format: "sql", compression: "ZSTD", encryption: "AGE" }),
    });
    const secrets = new SecretBox(app.secretKey);
    // A runner of its own, wired without the keys service.
    const runner = new BackupRunner({
      prisma: app.db.prisma,
      repo,
      secrets,
      storeFor: (t) => createStore(t, secrets),
      engine: fakeEngine(),
      events: new BackupEvents(),
      logger: memoryLogger().logger,
      instanceId: "enc-runner",
      limits: { maxConcurrent: 1, stallMs: 60_000, timeoutMs: 600_000, maxAttempts: 1, retryBaseMs: 50, heartbeatMs: 100 },
    });
    runner.enqueue([backup.id]);
    await runner.idle();
    const row = await repo.get(backup.id);
    expect(row).toMatchObject({ status: "FAILED", error: expect.stringMatching(/asks for encryption, but this runner has no encryption keys/) });
    expect(listFiles(dir)).toEqual([]);
    await runner.stop();
  });
});
