import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../db/connection.ts";
import { firstMysqlProgram } from "../process/programs.ts";
import { tcpClientPorts } from "../process/sockets.ts";
import { buildRestoreCommands } from "../restore/restore-command.ts";
import { streamRestore } from "../restore/restore-stream.ts";
import { detectRestoreTools } from "../restore/restore-tools.ts";
import { eventually } from "../restore/testing/restore-helpers.ts";
import { createServer, createTarget, dataOf, listFiles, processesWith, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { descendants, fakeProgram, isRunning, withPathFirst } from "../testing/processes.ts";
import {
  addBulkTable,
  createMariadbSample,
  createPgSample,
  dropMariadbDatabase,
  dropPgDatabase,
  MARIADB,
  mariadbExec,
  pgExec,
  POSTGRES,
  uniqueName,
} from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";

/**
 * The fault matrix, against real processes and servers: a full disk, a dump killed, zstd killed
 * mid-stream, a compressor that fails on start. Each ends in a FAILED record that names the cause,
 * no file, no child process, and no session left on the database server, even one waiting for a
 * lock (the dumps here are held by a table lock, as a dump of a busy table would be).
 */
describe("process faults", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let mariaId: number;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-process-faults-"));
  const mounts: string[] = [];
  const mariaDbs: string[] = [];
  const pgDbs: string[] = [];

  beforeAll(async () => {
    app = await createTestApp({ limits: { maxAttempts: 1, stallMs: 120_000 } });
    admin = await app.as("ADMIN");
    mariaId = await createServer(admin, { name: "maria-pf", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
  });

  afterAll(async () => {
    await app?.close();
    for (const dir of mounts) execFileSync("umount", [dir]);
    for (const db of mariaDbs) await dropMariadbDatabase(db);
    for (const db of pgDbs) await dropPgDatabase(db);
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function mariaSample(label: string): Promise<string> {
    const name = uniqueName(label);
    mariaDbs.push(name);
    await createMariadbSample(name, { rows: 50 });
    return name;
  }

  async function localTarget(label: string, dir = path.join(work, label)): Promise<{ id: number; dir: string }> {
    return { id: await createTarget(admin, { name: label, kind: "LOCAL", path: dir }), dir };
  }

  /** Holds a WRITE lock on a table: a dump reaching it waits, with its snapshot open, as on a busy server. */
  async function lockTable(database: string, table: string) {
    const conn = await connect({ ...MARIADB, database });
    const [{ id }] = (await conn.query("SELECT CONNECTION_ID() AS id")) as [{ id: number }];
    await conn.query(`LOCK TABLES ${table} WRITE`);
    return { id: Number(id), release: () => conn.end() };
  }

  /** Sessions on the MariaDB server in `database`, other than the test's own. */
  async function sessionsIn(database: string, except: number[]): Promise<Array<{ id: number; state: string }>> {
    const [rows] = (await mariadbExec([`SELECT ID AS id, STATE AS state FROM information_schema.PROCESSLIST WHERE DB = '${database}'`])) as [
      Array<{ id: number; state: string }>,
    ];
    return rows.filter((r) => !except.includes(Number(r.id)) && Number(r.id) !== 0);
  }

  const dumpsOf = (database: string) => processesWith(database).filter((p) => /mariadb-dump|mysqldump|pg_dump/.test(p.argv));

  /** The dump's session waits for the lock, and the dump holds its TCP connection (which the runner samples). */
  async function dumpWaitingOnLock(database: string, lockId: number): Promise<{ pid: number }> {
    await eventually(async () => (await sessionsIn(database, [lockId])).some((s) => /lock/i.test(s.state)), "the dump's session to wait for the lock");
    // The one connected to the server (not a `--version` check).
    const dump = await eventually(() => descendants(process.pid, "mariadb-dump").find((p) => tcpClientPorts(p.pid).length > 0), "the dump process");
    // The runner samples the dump's client port every 50 ms; give it several chances.
    await new Promise((r) => setTimeout(r, 300));
    return dump;
  }

  async function expectNothingLeft(database: string, except: number[], dir?: string): Promise<void> {
    expect(dumpsOf(database)).toEqual([]);
    expect(descendants(process.pid).map((p) => p.comm)).toEqual([]);
    if (dir) expect(listFiles(dir)).toEqual([]);
    await eventually(async () => (await sessionsIn(database, except)).length === 0, "the dump's session to be gone from the processlist");
  }

  it("a full disk: FAILED with 'no space left on device', no partial file, no child, no session", async () => {
    const db = await mariaSample("full");
    await addBulkTable(db, 4); // random bytes: the artifact cannot fit in 1 MiB
    const dir = fs.mkdtempSync(path.join(work, "full-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
    mounts.push(dir);
    const target = await localTarget("pf-full", dir);
    const [b] = await runBackup(admin, { serverId: mariaId, databases: [db], storageTargetIds: [target.id] });
    const done = await waitForBackup(admin, b!.id);
    expect(done.status).toBe("FAILED");
    expect(done.error).toMatch(/no space left on device/);
    expect(done.error).not.toMatch(/aborted/);
    expect(done.artifacts[0]).toMatchObject({ status: "FAILED", error: expect.stringMatching(/no space left on device/) });
    await expectNothingLeft(db, [], dir);
  });

  it("the dump killed (SIGKILL) while it waits for a lock: FAILED naming the signal, its session ended on the server", async () => {
    const db = await mariaSample("killdump");
    const target = await localTarget("pf-killdump");
    const lock = await lockTable(db, "files");
    try {
      const [b] = await runBackup(admin, { serverId: mariaId, databases: [db], storageTargetIds: [target.id] });
      const dump = await dumpWaitingOnLock(db, lock.id);
      process.kill(dump.pid, "SIGKILL");
      const done = await waitForBackup(admin, b!.id, undefined, 20_000);
      expect(done).toMatchObject({ status: "FAILED", error: "the dump was killed by SIGKILL" });
      // The lock is still held: the session did not end by itself, the runner ended it.
      await expectNothingLeft(db, [lock.id], target.dir);
    } finally {
      await lock.release();
    }
  });

  it("zstd killed (SIGKILL) mid-stream: FAILED naming zstd, not the dump's broken pipe; the dump stopped, its session ended", async () => {
    const db = await mariaSample("killzstd");
    const target = await localTarget("pf-killzstd");
    const lock = await lockTable(db, "files");
    try {
      const [b] = await runBackup(admin, { serverId: mariaId, databases: [db], storageTargetIds: [target.id] });
      const dump = await dumpWaitingOnLock(db, lock.id);
      const [zstd] = descendants(process.pid, "zstd");
      expect(zstd).toBeDefined();
      process.kill(zstd!.pid, "SIGKILL");
      const done = await waitForBackup(admin, b!.id, undefined, 20_000);
      expect(done).toMatchObject({ status: "FAILED", error: "the compressor (zstd) was killed by SIGKILL" });
      expect(isRunning(dump.pid)).toBe(false);
      await expectNothingLeft(db, [lock.id], target.dir);
    } finally {
      await lock.release();
    }
  });

  it("a compressor that fails on start: FAILED with its own words, the dump stopped", async () => {
    const db = await mariaSample("nozstd");
    const target = await localTarget("pf-nozstd");
    const lock = await lockTable(db, "files");
    const bin = fakeProgram("zstd", "echo 'zstd: cannot allocate its window' >&2; exit 1");
    try {
      const done = await withPathFirst(bin, async () => {
        const [b] = await runBackup(admin, { serverId: mariaId, databases: [db], storageTargetIds: [target.id] });
        return waitForBackup(admin, b!.id, undefined, 20_000);
      });
      expect(done).toMatchObject({ status: "FAILED", error: "the compressor (zstd) exited with code 1: zstd: cannot allocate its window" });
      await expectNothingLeft(db, [lock.id], target.dir);
    } finally {
      await lock.release();
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });

  it("a gzip profile at level 19 (saved before validation checked the merged row): FAILED at once, no dump started", async () => {
    const db = await mariaSample("gzip19");
    const target = await localTarget("pf-gzip19");
    const profile = dataOf(await admin(`mutation { createDumpOptions(input: { name: "pf-gzip", compression: GZIP, compressionLevel: 9 }) { id } }`)) as {
      createDumpOptions: { id: number };
    };
    await app.db.prisma.dumpOptions.update({ where: { id: Number(profile.createDumpOptions.id) }, data: { compressionLevel: 19 } });
    const serverId = await createServer(admin, {
      name: "maria-pf-gzip",
      engine: "MARIADB",
      host: "127.0.0.1",
      port: 3306,
      username: "root",
      dumpOptionsId: profile.createDumpOptions.id,
    });
    const lock = await lockTable(db, "files");
    try {
      const [b] = await runBackup(admin, { serverId, databases: [db], storageTargetIds: [target.id] });
      const done = await waitForBackup(admin, b!.id, undefined, 20_000);
      expect(done).toMatchObject({ status: "FAILED", error: "compression level 19 must be between 1 and 9 for GZIP" });
      await expectNothingLeft(db, [lock.id], target.dir);
    } finally {
      await lock.release();
    }
  });

  it("pg_dump killed while it waits for a lock: FAILED naming the signal, its backend terminated", async () => {
    const db = uniqueName("pf_pg");
    pgDbs.push(db);
    await createPgSample(db);
    const pgId = await createServer(admin, { name: "pg-pf", engine: "POSTGRESQL", host: POSTGRES.host, port: POSTGRES.port, username: POSTGRES.user });
    const target = await localTarget("pf-pg");
    const locker = new pg.Client({ ...POSTGRES, database: db });
    await locker.connect();
    // Read outside the locking transaction: inside one, pg_stat_activity is a cached snapshot.
    const backends = async () =>
      (await pgExec([`SELECT pid, wait_event_type FROM pg_stat_activity WHERE datname = '${db}' AND application_name = 'sqlguard'`]))[0] as Array<{
        pid: number;
        wait_event_type: string | null;
      }>;
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
      const [b] = await runBackup(admin, { serverId: pgId, databases: [db], storageTargetIds: [target.id] });
      await eventually(async () => (await backends()).some((r) => r.wait_event_type === "Lock"), "pg_dump's backend to wait for the lock");
      const dump = await eventually(() => descendants(process.pid, "pg_dump").find((p) => tcpClientPorts(p.pid).length > 0), "pg_dump");
      // The runner samples the dump's client port every 50 ms; give it several chances.
      await new Promise((r) => setTimeout(r, 300));
      process.kill(dump.pid, "SIGKILL");
      const done = await waitForBackup(admin, b!.id, undefined, 20_000);
      expect(done).toMatchObject({ status: "FAILED", error: "the dump was killed by SIGKILL" });
      expect(descendants(process.pid)).toEqual([]);
      await eventually(async () => (await backends()).length === 0, "pg_dump's backend to be terminated");
      expect(listFiles(target.dir)).toEqual([]);
    } finally {
      await locker.end();
    }
  });

  it("a restore stage that ignores its closed pipes is still stopped when the restore fails", async () => {
    const db = uniqueName("pf_restore");
    mariaDbs.push(db);
    await mariadbExec([`CREATE DATABASE ${db}`]);
    const commands = buildRestoreCommands(
      { ...MARIADB, engine: "MARIADB", password: null, tls: false, username: "root" },
      db,
      "sql",
      await detectRestoreTools(),
    );
    // Stands for a pg_restore or decompressor blocked elsewhere: closing its input does not end it.
    const stubborn = { command: "sh", args: ["-c", "trap '' PIPE TERM HUP; exec sleep 600"], env: {}, description: "stubborn" };
    const data = Buffer.from("CREATE TABLE t (id int);\n");
    const error = await streamRestore({
      source: Readable.from([data]),
      expectedSha256: crypto.createHash("sha256").update("something else").digest("hex"),
      compression: "NONE",
      commands: { ...commands, converter: stubborn },
      signal: new AbortController().signal,
    }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^checksum mismatch/);
    expect(descendants(process.pid)).toEqual([]);
  });

  it("a client program that hangs on --version is killed, not waited for", async () => {
    const bin = fakeProgram("mariadb-dump", "trap '' TERM; exec sleep 600");
    try {
      expect(await firstMysqlProgram(["mariadb-dump"], bin)).toBeNull();
      expect(descendants(process.pid)).toEqual([]);
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });
});
