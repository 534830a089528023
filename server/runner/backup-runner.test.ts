import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type BackupOutcome, BackupsRepository, type BackupWithArtifacts } from "../db/backups.repository.ts";
import type { PrismaClient } from "../db/client.ts";
import { fakeEngine } from "../scheduler/testing/fake-engine.ts";
import { SecretBox } from "../secrets/secret-box.ts";
import { createStore } from "../storage/create-store.ts";
import { createServer, createTarget, listFiles, runBackup } from "../testing/backup-helpers.ts";
import { createTestApp } from "../testing/test-app.ts";
import { memoryLogger } from "../testing/test-db.ts";
import { artifactKey } from "./artifact-key.ts";
import { BackupRunner, type RunnerLimits } from "./backup-runner.ts";
import { BackupEvents } from "./events.ts";

type App = Awaited<ReturnType<typeof createTestApp>>;
let app: App | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await app?.close();
  app = undefined;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const LIMITS: RunnerLimits = { maxConcurrent: 2, stallMs: 60_000, timeoutMs: 600_000, maxAttempts: 1, retryBaseMs: 50, heartbeatMs: 100 };

/** The error a dropped metadata connection gives through Prisma (as seen with the MariaDB adapter). */
function connectionLost(): Error {
  return Object.assign(new Error("Invalid `prisma.$transaction()` invocation: read ECONNRESET"), { code: "ECONNRESET" });
}

/** A repository whose `finish` meets a metadata database that is down until `up()`. */
class OutageRepository extends BackupsRepository {
  finishCalls = 0;
  #down = true;
  #failures = Number.POSITIVE_INFINITY;

  constructor(prisma: PrismaClient, failures = Number.POSITIVE_INFINITY) {
    super(prisma);
    this.#failures = failures;
  }

  up(): void {
    this.#down = false;
  }

  override async finish(id: number, result: BackupOutcome): Promise<BackupWithArtifacts> {
    this.finishCalls++;
    if (this.#down && this.finishCalls <= this.#failures) throw connectionLost();
    return super.finish(id, result);
  }
}

/** The test app with a fake engine, one server and one local target, and a PENDING backup queued in no runner. */
async function setup(limits: Partial<RunnerLimits> = {}) {
  app = await createTestApp({ engine: fakeEngine(), limits: { ...LIMITS, ...limits }, instanceId: "runner-test" });
  const admin = await app.as("ADMIN");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-runner-"));
  dirs.push(dir);
  const targetId = await createTarget(admin, { name: "runner-local", kind: "LOCAL", path: dir });
  const serverId = await createServer(admin, { name: "fake-1", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
  const repo = new BackupsRepository(app.db.prisma);
  const pending = () =>
    repo.create({
      serverId,
      serverName: "fake-1",
      engine: "MARIADB",
      database: "app",
      scheduleId: null,
      scheduleName: null,
      trigger: "MANUAL",
      dueAt: null,
      compression: "ZSTD",
      instanceId: "runner-test",
      storageTargetIds: [targetId],
      keyOf: (b) => artifactKey({ ...b, backupId: b.id, format: "sql", compression: "ZSTD" }),
    });
  return { app, admin, dir, targetId, serverId, pending };
}

/** A runner of its own over the app's database, with the given repository. */
function runnerWith(a: App, repo: BackupsRepository, limits: Partial<RunnerLimits> = {}): BackupRunner {
  const secrets = new SecretBox(a.secretKey);
  return new BackupRunner({
    prisma: a.db.prisma,
    repo,
    secrets,
    storeFor: (t) => createStore(t, secrets),
    engine: fakeEngine(),
    events: new BackupEvents(),
    logger: memoryLogger().logger,
    instanceId: "runner-test",
    limits: { ...LIMITS, ...limits },
  });
}

describe("the backup runner and the metadata database", () => {
  it("records the outcome once the metadata database is back, however long the final write fails", async () => {
    const { app, dir, pending } = await setup();
    const backup = await pending();
    const repo = new OutageRepository(app.db.prisma, 3);
    const runner = runnerWith(app, repo);
    runner.enqueue([backup.id]);
    await runner.idle();
    expect(repo.finishCalls).toBe(4);
    const row = await repo.get(backup.id);
    expect(row).toMatchObject({ status: "SUCCEEDED", error: null });
    expect(row!.artifacts.map((a) => a.status)).toEqual(["STORED"]);
    expect(listFiles(dir).sort()).toEqual([row!.artifacts[0]!.key, `${row!.artifacts[0]!.key}.manifest.json`].sort());
  });

  it("on shutdown leaves an unrecordable backup RUNNING, and the recovery at the next start settles it SUCCEEDED", async () => {
    const { app, pending } = await setup();
    const backup = await pending();
    const repo = new OutageRepository(app.db.prisma);
    const runner = runnerWith(app, repo);
    runner.enqueue([backup.id]);
    await eventually(() => repo.finishCalls >= 2);
    // stop() ends the retries instead of waiting for the database forever.
    await runner.stop();
    expect((await repo.get(backup.id))!.status).toBe("RUNNING");
    expect(runner.holds(backup.id)).toBe(false);

    // "The next start": the recovery finds the committed artifact and manifest.
    expect(await app.interrupted.recover()).toEqual({ backups: [backup.id], restores: [], drills: [] });
    expect(await repo.get(backup.id)).toMatchObject({ status: "SUCCEEDED", error: null });
  });

  it("fails, with a clear message, a backup whose server password no longer decrypts", async () => {
    const { app, admin, targetId } = await setup();
    const serverId = await createServer(admin, { name: "rekeyed", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", password: "pw-1234" });
    await app.db.prisma.server.update({ where: { id: serverId }, data: { passwordEnc: new SecretBox(Buffer.alloc(32, 7)).seal("pw-1234") } });
    const [b] = await runBackup(admin, { serverId, databases: ["app"], storageTargetIds: [targetId] });
    await app.runner.idle();
    const row = await app.db.prisma.backup.findUniqueOrThrow({ where: { id: b!.id } });
    expect(row.status).toBe("FAILED");
    expect(row.error).toMatch(/^cannot decrypt the stored password of server rekeyed \(cannot decrypt a stored secret: the secret key differs/);
  });

  it("keeps a time limit longer than Node's timer limit (24.8 days) instead of firing it at once", async () => {
    const { app, admin, serverId, targetId } = await setup({ timeoutMs: 30 * 86_400_000 });
    const [b] = await runBackup(admin, { serverId, databases: ["app"], storageTargetIds: [targetId] });
    await app.runner.idle();
    expect(await app.db.prisma.backup.findUniqueOrThrow({ where: { id: b!.id } })).toMatchObject({ status: "SUCCEEDED", error: null });
  });
});

async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
