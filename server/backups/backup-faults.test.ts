import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../db/connection.ts";
import { createServer, createTarget, listFiles, processesWith, allCommandLines, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { createMariadbSample, dropMariadbDatabase, MARIADB, mariadbExec, uniqueName } from "../testing/sample-databases.ts";
import { startS3rver } from "../testing/s3rver.ts";
import { createTestApp } from "../testing/test-app.ts";

/** Holds a WRITE lock on a table so a dump of it blocks after its first bytes: a hanging dump. */
async function lockTable(database: string, table: string) {
  const conn = await connect({ ...MARIADB, database });
  await conn.query(`LOCK TABLES ${table} WRITE`);
  return { release: () => conn.end() };
}

async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A backup's files on a local target: none may carry a final name after a failure. */
function finalFiles(dir: string): string[] {
  return listFiles(dir).filter((f) => !f.endsWith(".partial"));
}

describe("backup faults", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let operator: Awaited<ReturnType<typeof app.as>>;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-faults-"));
  const databases: string[] = [];
  let serverId: number;
  const PASSWORD = `pw-${Math.random().toString(36).slice(2)}-Secret`;
  const user = uniqueName("u");

  beforeAll(async () => {
    app = await createTestApp({ limits: { stallMs: 60_000 } });
    admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    // A user with a password: its password must never show in argv, logs or errors.
    await mariadbExec([`CREATE USER '${user}'@'%' IDENTIFIED BY '${PASSWORD}'`, `CREATE USER '${user}'@'localhost' IDENTIFIED BY '${PASSWORD}'`]);
    await mariadbExec([
      `GRANT SELECT, SHOW VIEW, TRIGGER, LOCK TABLES, EVENT, PROCESS, RELOAD, EXECUTE ON *.* TO '${user}'@'%'`,
      `GRANT SELECT, SHOW VIEW, TRIGGER, LOCK TABLES, EVENT, PROCESS, RELOAD, EXECUTE ON *.* TO '${user}'@'localhost'`,
    ]);
    serverId = await createServer(admin, { name: "maria-faults", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: user, password: PASSWORD });
  });

  afterAll(async () => {
    await app?.close();
    for (const db of databases) await dropMariadbDatabase(db);
    await mariadbExec([`DROP USER IF EXISTS '${user}'@'%'`, `DROP USER IF EXISTS '${user}'@'localhost'`]);
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function sample(label: string): Promise<string> {
    const name = uniqueName(label);
    databases.push(name);
    await createMariadbSample(name, { rows: 50 });
    return name;
  }

  async function localTarget(label: string): Promise<{ id: number; dir: string }> {
    const dir = path.join(work, label);
    return { id: await createTarget(admin, { name: label, kind: "LOCAL", path: dir }), dir };
  }

  it("fails the backup when the dump exits non-zero, even though the compressor succeeded", async () => {
    const db = await sample("badview");
    // A view over a dropped table makes mariadb-dump fail after it has written the tables before it.
    await mariadbExec(["CREATE TABLE gone (id INT)", "CREATE VIEW zz_broken AS SELECT id FROM gone", "DROP TABLE gone"], db);
    const target = await localTarget("t-badview");
    const [b] = await runBackup(operator, { serverId, databases: [db], storageTargetIds: [target.id] });
    const done = await waitForBackup(operator, b!.id);
    expect(done.status).toBe("FAILED");
    expect(done.error).toMatch(/the dump exited with code \d+/);
    expect(done.error).toMatch(/zz_broken|1356|invalid/i);
    expect(done.sha256).toBeNull();
    expect(done.artifacts[0]).toMatchObject({ status: "FAILED" });
    expect(listFiles(target.dir)).toEqual([]);
  });

  it("fails a dump killed mid-stream, keeps the password out of every command line, and leaves no file", async () => {
    const db = await sample("killed");
    const target = await localTarget("t-killed");
    const lock = await lockTable(db, "files");
    try {
      const [b] = await runBackup(operator, { serverId, databases: [db], storageTargetIds: [target.id] });
      const dump = await waitFor(() => processesWith(db).find((p) => /mariadb-dump|mysqldump/.test(p.argv)), "the dump process");
      await waitFor(() => listFiles(target.dir).some((f) => f.endsWith(".partial")) || undefined, "the partial file");
      expect(finalFiles(target.dir)).toEqual([]);
      expect(dump.argv).toContain(db);
      expect(allCommandLines()).not.toContain(PASSWORD);
      process.kill(dump.pid, "SIGKILL");
      const done = await waitForBackup(operator, b!.id);
      expect(done.status).toBe("FAILED");
      expect(done.error).toContain("killed by SIGKILL");
      expect(listFiles(target.dir)).toEqual([]);
    } finally {
      await lock.release();
    }
    expect(app.logLines.join("\n")).not.toContain(PASSWORD);
    const rows = await app.db.prisma.backup.findMany({ select: { error: true, logTail: true, tool: true } });
    expect(JSON.stringify(rows)).not.toContain(PASSWORD);
  });

  it("records PARTIAL when the S3 server dies mid-backup while the local target succeeds", async () => {
    const s3 = await startS3rver();
    try {
      const db = await sample("s3dies");
      const local = await localTarget("t-s3dies-local");
      const s3Id = await createTarget(admin, {
        name: "t-s3dies-s3",
        kind: "S3",
        bucket: s3.bucket,
        region: "us-east-1",
        endpoint: s3.endpoint,
        forcePathStyle: true,
        accessKeyId: "S3RVER",
        secretAccessKey: "S3RVER",
      });
      const lock = await lockTable(db, "files");
      let id: number;
      try {
        const [b] = await runBackup(operator, { serverId, databases: [db], storageTargetIds: [local.id, s3Id] });
        id = b!.id;
        await waitFor(() => listFiles(local.dir).some((f) => f.endsWith(".partial")) || undefined, "the local partial file");
        s3.kill();
      } finally {
        await lock.release();
      }
      const done = await waitForBackup(operator, id, undefined, 90_000);
      expect(done.status).toBe("PARTIAL");
      const byKind = Object.fromEntries(done.artifacts.map((a) => [a.storageTarget!.kind, a]));
      expect(byKind.LOCAL).toMatchObject({ status: "STORED", error: null });
      expect(byKind.S3!.status).toBe("FAILED");
      expect(byKind.S3!.error).toMatch(/ECONNREFUSED|unavailable|connect|socket/i);
      expect(done.error).toContain("target");
      expect(done.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(finalFiles(local.dir).sort()).toEqual([done.artifacts[0]!.key, `${done.artifacts[0]!.key}.manifest.json`].sort());
    } finally {
      await s3.stop();
    }
  });

  it("fails with a clear error when the local target's directory cannot be written", async () => {
    const db = await sample("unwritable");
    const blocker = path.join(work, "a-regular-file");
    fs.writeFileSync(blocker, "not a directory");
    const id = await createTarget(admin, { name: "t-unwritable", kind: "LOCAL", path: path.join(blocker, "backups") });
    const [b] = await runBackup(operator, { serverId, databases: [db], storageTargetIds: [id] });
    const done = await waitForBackup(operator, b!.id);
    expect(done.status).toBe("FAILED");
    expect(done.error).toContain(path.join(blocker, "backups"));
    expect(done.error).toMatch(/not a directory|permission|cannot/i);
    expect(done.artifacts[0]!.status).toBe("FAILED");
    expect(fs.readFileSync(blocker, "utf8")).toBe("not a directory");
  });

  it("refuses at once, without retrying, a database that does not exist", async () => {
    const target = await localTarget("t-missing");
    const [b] = await runBackup(operator, { serverId, databases: ["no_such_database_here"], storageTargetIds: [target.id] });
    const done = await waitForBackup(operator, b!.id);
    expect(done.status).toBe("FAILED");
    expect(done.attempt).toBe(1);
    expect(done.error).toContain("does not exist");
  });

  it("retries a refused connection with backoff up to the attempt limit, recording each attempt", async () => {
    const target = await localTarget("t-refused");
    const refused = await createServer(admin, { name: "maria-refused", engine: "MARIADB", host: "127.0.0.1", port: 1, username: "root" });
    const [b] = await runBackup(operator, { serverId: refused, databases: ["anything"], storageTargetIds: [target.id] });
    const done = await waitForBackup(operator, b!.id);
    expect(done.status).toBe("FAILED");
    expect(done.attempt).toBe(3);
    expect(done.error).toMatch(/refused/i);
    expect(app.logLines.filter((l) => l.includes("transient failure, retrying"))).toHaveLength(2);
  });

  it("fails at once, without retrying, when the password is wrong, and never echoes it", async () => {
    const target = await localTarget("t-denied");
    const denied = await createServer(admin, { name: "maria-denied", engine: "MARIADB", host: "127.0.0.1", username: user, password: "wrong-Password-123" });
    const [b] = await runBackup(operator, { serverId: denied, databases: ["anything"], storageTargetIds: [target.id] });
    const done = await waitForBackup(operator, b!.id);
    expect(done.status).toBe("FAILED");
    expect(done.attempt).toBe(1);
    expect(done.error).toMatch(/access denied/i);
    expect(done.error).not.toContain("wrong-Password-123");
  });

  it("cancels a running backup and leaves nothing behind", async () => {
    const db = await sample("cancel");
    const target = await localTarget("t-cancel");
    const lock = await lockTable(db, "files");
    try {
      const [b] = await runBackup(operator, { serverId, databases: [db], storageTargetIds: [target.id] });
      await waitFor(() => listFiles(target.dir).some((f) => f.endsWith(".partial")) || undefined, "the partial file");
      const cancelled = await operator(`mutation($id: ID!) { cancelBackup(id: $id) { id } }`, { id: b!.id });
      expect(cancelled.errors).toBeUndefined();
      const done = await waitForBackup(operator, b!.id);
      expect(done.status).toBe("CANCELLED");
      expect(listFiles(target.dir)).toEqual([]);
    } finally {
      await lock.release();
    }
  });

  it("a viewer cannot start a backup", async () => {
    const viewer = await app.as("VIEWER");
    const r = await viewer(`mutation($id: ID!) { runBackup(input: { serverId: $id }) { id } }`, { id: serverId });
    expect(r.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});

describe("stalled backups", () => {
  it("kills a dump that produces no data for the stall period and records it as stalled", async () => {
    const app = await createTestApp({ limits: { stallMs: 1500 } });
    const db = uniqueName("stall");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-stall-"));
    try {
      await createMariadbSample(db, { rows: 20 });
      const admin = await app.as("ADMIN");
      const serverId = await createServer(admin, { name: "maria-stall", engine: "MARIADB", host: "127.0.0.1", username: "root" });
      const target = await createTarget(admin, { name: "stall-local", kind: "LOCAL", path: dir });
      const lock = await lockTable(db, "files");
      try {
        const [b] = await runBackup(admin, { serverId, databases: [db], storageTargetIds: [target] });
        const done = await waitForBackup(admin, b!.id, undefined, 30_000);
        expect(done.status).toBe("FAILED");
        expect(done.error).toMatch(/stalled: no data for 2 s|stalled/);
        expect(listFiles(dir)).toEqual([]);
        expect(processesWith(db).filter((p) => /mariadb-dump|mysqldump/.test(p.argv))).toEqual([]);
      } finally {
        await lock.release();
      }
    } finally {
      await app.close();
      await dropMariadbDatabase(db);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
