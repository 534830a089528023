import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalStore } from "../../storage/local-store.ts";
import { createServer, createTarget, dataOf, processesWith, runBackup, waitForBackup } from "../../testing/backup-helpers.ts";
import { chownPostgres, pgCtlStart, pgCtlStop, psqlAt, startPrivatePostgres, type PrivatePostgres } from "../../testing/private-postgres.ts";
import { freePort } from "../../testing/server-process.ts";
import { createTestApp } from "../../testing/test-app.ts";
import { memoryLogger } from "../../testing/test-db.ts";
import { verifyArchives } from "../verify-archives.ts";
import type { BaseBackupPosition } from "./base-backup.ts";
import { SqlguardMetrics } from "../../observability/metrics.ts";
import { requestRestore, waitForRestore, type RestoreView } from "../../restore/testing/restore-helpers.ts";
import { PitrService } from "../pitr-service.ts";
import { runRestoreCommand } from "../../cli/cli-restore.ts";
import { takePgCheckpoints } from "./pg-checkpoints.ts";
import { PgServerPitr, slotNameFor } from "./receiver.ts";
import { PgPitrRefusedError, planPgRestore, prepareDataDir, waitForPromotion } from "./restore-to-time.ts";
import { parseSegment } from "./wal.ts";
import { archiveRecipientsFrom } from "../archive-crypto.ts";
import { parseIdentityFile } from "../../encryption/age-keys.ts";

/**
 * PostgreSQL point-in-time recovery end to end on a private PostgreSQL 15 (never the shared one):
 * the real slot and pg_receivewal, pg_basebackup onto a local target, and a restore to T into a
 * new data directory started on a free port.
 */
describe("point-in-time recovery (PostgreSQL)", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let source: PrivatePostgres;
  let serverId: number;
  let pitr: PgServerPitr | null = null;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-pgpitr-"));
  fs.chmodSync(work, 0o755);
  const log = memoryLogger();
  const store = new LocalStore({ basePath: path.join(work, "archive") });
  const recoveryKey = path.join(work, "recovery.key");
  /** Opens encrypted archives with the recovery identity only this test holds. */
  const recovery = () => ({ identities: parseIdentityFile(fs.readFileSync(recoveryKey, "utf8")), noIdentity: () => "the recovery key does not open it" });
  const restoredDirs: string[] = [];
  let T: Date;
  let target: number;
  let dumpId: number;
  let atT: { sum: string; count: string };

  const serverRow = () => app.db.prisma.server.findUniqueOrThrow({ where: { id: serverId } });
  const connectionOf = (s: { engine: "POSTGRESQL" | string; host: string; port: number; username: string }) =>
    ({ engine: s.engine, host: s.host, port: s.port, username: s.username, password: null, tls: false }) as never;
  /** Every row in id order, hashed, and the count: equal only for exactly the same rows. */
  const state = async (port: number, database = "shop") => {
    const [sum, count] = (
      await psqlAt(port, "SELECT coalesce(md5(string_agg(id || ':' || v || ':' || n, ',' ORDER BY id)), '-'), count(*) FROM items", database)
    ).split("|");
    return { sum: sum!, count: count! };
  };
  const status = async () =>
    (
      dataOf(
        await admin(`query($id: ID!) { server(id: $id) { pitr { enabled lagSeconds recoverableFrom recoverableTo broken brokenReason } } }`, { id: serverId }),
      ) as {
        server: { pitr: { enabled: boolean; recoverableFrom: string | null; recoverableTo: string | null; broken: boolean; brokenReason: string | null } };
      }
    ).server.pitr;
  const warningOf = async () =>
    (
      dataOf(await admin(`query($id: ID!) { server(id: $id) { pitr { broken warning } } }`, { id: serverId })) as {
        server: { pitr: { broken: boolean; warning: string | null } };
      }
    ).server.pitr;
  const waitFor = async <T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 40_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; log:\n${log.lines.slice(-8).join("")}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const nextSecond = async () => {
    const t = new Date(Math.ceil((Date.now() + 1) / 1000) * 1000);
    await new Promise((r) => setTimeout(r, t.getTime() - Date.now() + 20));
    return t;
  };
  /** Restores to `at` into a new data directory, starts it on a free port, returns the port. */
  const restoreTo = async (at: Date) => {
    const plan = await planPgRestore(app.db.prisma, serverId, at);
    const dataDir = path.join(work, `restored-${restoredDirs.length}`, "data");
    restoredDirs.push(dataDir);
    const port = await freePort();
    const prepared = await prepareDataDir(plan, async () => store, dataDir, { port, decryption: recovery() });
    expect(prepared.startCommand).toContain(`-D ${dataDir}`);
    await chownPostgres(path.dirname(dataDir));
    const logFile = path.join(path.dirname(dataDir), "server.log");
    await pgCtlStart(dataDir, port, path.dirname(dataDir), logFile);
    await waitForPromotion(port, logFile);
    return { port, plan };
  };

  beforeAll(async () => {
    app = await createTestApp();
    admin = await app.as("ADMIN");
    // logical: the row-count checkpoints of point-in-time drills need exported snapshots at an exact LSN.
    source = await startPrivatePostgres("pgpitr-src", { walLevel: "logical" });
    const targetId = await createTarget(admin, { name: "pgpitr-local", kind: "LOCAL", path: path.join(work, "archive") });
    execFileSync("age-keygen", ["-o", recoveryKey], { stdio: "pipe" });
    const recipient = /public key: (age1\w+)/.exec(fs.readFileSync(recoveryKey, "utf8"))![1]!;
    dataOf(await admin(`mutation($r: String!) { addRecoveryRecipient(input: { label: "pgpitr-vault", recipient: $r }) { id } }`, { r: recipient }));
    serverId = await createServer(admin, {
      name: "pg-pitr",
      engine: "POSTGRESQL",
      host: "127.0.0.1",
      port: source.port,
      username: "postgres",
    });
    // PITR on PostgreSQL through the API, as for MariaDB.
    dataOf(
      await admin(`mutation($id: ID!, $input: ServerUpdateInput!) { updateServer(id: $id, input: $input) { id } }`, {
        id: serverId,
        input: { pitr: { enabled: true, rpoSeconds: 5, storageTargetIds: [String(targetId)] } },
      }),
    );
    expect(await serverRow()).toMatchObject({ pitrEnabled: true, pitrRpoSeconds: 5, pitrStorageTargetIds: [targetId] });
    target = targetId;
    await source.psql("CREATE DATABASE shop");
    await source.psql("CREATE TABLE items (id serial PRIMARY KEY, v text NOT NULL, n int NOT NULL)", "shop");
    await source.psql("INSERT INTO items (v, n) SELECT 'before-base-' || i, i FROM generate_series(1, 20) i", "shop");
  }, 120_000);

  afterAll(async () => {
    await pitr?.stop();
    for (const d of restoredDirs) await pgCtlStop(d);
    await source?.close();
    await app?.close();
    fs.rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it("streams WAL through its own slot, takes a base backup with its start LSN, and restores to T exactly across WAL switches, a source restart and a switch to encrypted archives", async () => {
    pitr = new PgServerPitr(
      {
        prisma: app.db.prisma,
        logger: log.logger,
        instanceId: "pgpitr-test",
        spoolRoot: path.join(work, "spool"),
        connectionOf: connectionOf as never,
        storeFor: () => store,
        tickMs: 250,
        archiveRecipients: archiveRecipientsFrom(app.db.prisma, app.services.encryptionKeys),
      },
      await serverRow(),
    );
    expect(await pitr.start()).toBe(true);
    expect(await pitr.checkSlot()).toBe("reserved");
    // The receiver runs with the slot, synchronously, lz4; no password anywhere in argv.
    const receiver = await waitFor(
      "pg_receivewal",
      async () => (await source.psql(`SELECT active FROM pg_replication_slots WHERE slot_name = '${slotNameFor(serverId)}'`)) === "t",
    );
    expect(receiver).toBe(true);

    // PITR just turned on: the first base backup is taken at once, without waiting for a schedule.
    const backup = await waitFor(
      "the first base backup",
      () => app.db.prisma.backup.findFirst({ where: { serverId, database: "(cluster)", status: "SUCCEEDED" }, include: { artifacts: true } }),
      90_000,
    );
    const position = backup.position as BaseBackupPosition;
    expect(backup.trigger).toBe("SCHEDULED");
    expect(await pitr.baseBackupDue()).toBeNull();
    // A logical dump of the database (the backup a user names for a restore to a time).
    const [dump] = await runBackup(admin, { serverId, databases: ["shop"], storageTargetIds: [target] });
    dumpId = (await waitForBackup(admin, dump!.id)).id;
    // A scheduled backup after the newest base backup makes the next one due.
    await app.db.prisma.backup.create({
      data: {
        serverId,
        serverName: "pg-pitr",
        engine: "POSTGRESQL",
        database: "shop",
        trigger: "SCHEDULED",
        status: "FAILED",
        compression: "ZSTD",
        error: "a schedule's tick (test row)",
      },
    });
    expect(await pitr.baseBackupDue()).toMatch(/scheduled backup \d+ started after the newest base backup/);
    // The server's dump profile turns encryption on: the next base backup and WAL are age files (the first base backup stays plain).
    const sealed = (
      dataOf(await admin(`mutation { createDumpOptions(input: { name: "pg-sealed", encryption: AGE }) { id } }`)) as { createDumpOptions: { id: string } }
    ).createDumpOptions.id;
    dataOf(await admin(`mutation($id: ID!, $p: ID!) { updateServer(id: $id, input: { dumpOptionsId: $p }) { id } }`, { id: serverId, p: sealed }));
    await pitr.baseBackup();
    const second = await app.db.prisma.backup.findFirstOrThrow({
      where: { serverId, database: "(cluster)", status: "SUCCEEDED" },
      orderBy: { id: "desc" },
      include: { artifacts: { include: { encryptionKeys: true } } },
    });
    expect(second.encryption).toBe("AGE");
    expect(second.artifacts[0]!.key).toMatch(/\/base\/\d{8}T\d{6}Z\.tar\.zst\.age$/);
    expect(second.artifacts[0]!.encryptionKeys).toHaveLength(2);
    const sealedBase = fs.readFileSync(path.join(work, "archive", second.artifacts[0]!.key));
    expect(sealedBase.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    expect(createHash("sha256").update(sealedBase).digest("hex")).toBe(second.sha256);
    expect(backup.artifacts[0]!.key).toMatch(/\.tar\.zst$/);
    expect(await app.db.prisma.backup.count({ where: { serverId, database: "(cluster)", status: "SUCCEEDED" } })).toBe(2);
    expect(await pitr.baseBackupDue()).toBeNull();
    expect(position).toMatchObject({ kind: "pg-base", timeline: 1, startLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/) });
    expect(parseSegment(position.startSegment)).not.toBeNull();
    const stored = fs.readFileSync(path.join(work, "archive", backup.artifacts[0]!.key));
    expect(createHash("sha256").update(stored).digest("hex")).toBe(backup.sha256);
    const manifest = JSON.parse(fs.readFileSync(path.join(work, "archive", `${backup.artifacts[0]!.key}.manifest.json`), "utf8")) as BaseBackupPosition;
    expect(manifest.startLsn).toBe(position.startLsn);

    await source.psql("INSERT INTO items (v, n) SELECT 'after-base-' || i, 100 + i FROM generate_series(1, 10) i", "shop");
    await source.psql("SELECT pg_switch_wal()");
    await source.psql("UPDATE items SET n = n + 1000 WHERE id <= 5", "shop");
    // The source restarts in the middle: pg_receivewal exits with it, comes back through the backoff, and the chain holds.
    const receiverPid = async () =>
      Number((await source.psql(`SELECT active_pid FROM pg_replication_slots WHERE slot_name = '${slotNameFor(serverId)}'`)) || 0);
    const beforeRestart = await receiverPid();
    expect(beforeRestart).toBeGreaterThan(0);
    await pgCtlStop(source.datadir);
    await pgCtlStart(source.datadir, source.port, source.dir, path.join(source.dir, "server.log"));
    await source.psql("INSERT INTO items (v, n) VALUES ('after-restart', 55)", "shop");
    await waitFor(
      "pg_receivewal to reconnect after the restart",
      async () => {
        const pid = await receiverPid();
        return pid > 0 && pid !== beforeRestart;
      },
      60_000,
    );
    await source.psql("SELECT pg_switch_wal()");
    await source.psql("INSERT INTO items (v, n) VALUES ('just-before-T', 7)", "shop");
    T = await nextSecond();
    atT = await state(source.port);
    await new Promise((r) => setTimeout(r, 1100));
    await source.psql("DELETE FROM items WHERE id % 2 = 0", "shop");
    await source.psql("INSERT INTO items (v, n) VALUES ('after-T', 0)", "shop");
    expect((await state(source.port)).sum).not.toBe(atT.sum);
    await source.psql("SELECT pg_switch_wal()");

    const window = await waitFor("the window to reach past T", async () => {
      const s = await status();
      return s.recoverableTo && new Date(s.recoverableTo).getTime() > T.getTime() ? s : null;
    });
    expect(window).toMatchObject({ enabled: true, broken: false });
    expect(new Date(window.recoverableFrom!).getTime()).toBeLessThan(T.getTime());
    const segments = await app.db.prisma.pitrArchive.findMany({ where: { serverId, partial: false } });
    expect(segments.length).toBeGreaterThanOrEqual(3);
    expect(segments.every((s) => s.breakReason === null)).toBe(true);
    const sealedSegments = segments.filter((s) => s.key.endsWith(".lz4.age"));
    expect(sealedSegments.length).toBeGreaterThanOrEqual(1);
    for (const s of sealedSegments) {
      const bytes = fs.readFileSync(path.join(work, "archive", s.key));
      expect(bytes.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(s.sha256);
      expect(JSON.parse(fs.readFileSync(path.join(work, "archive", `${s.key}.manifest.json`), "utf8")).encryption.format).toBe("age-v1");
    }
    const seg = segments.find((s) => parseSegment(s.file))!;
    const segManifest = JSON.parse(fs.readFileSync(path.join(work, "archive", `${seg.key}.manifest.json`), "utf8"));
    expect(segManifest).toMatchObject({ kind: "sqlguard-wal", timeline: 1, segment: seg.file, sha256: seg.sha256 });
    expect(
      createHash("sha256")
        .update(fs.readFileSync(path.join(work, "archive", seg.key)))
        .digest("hex"),
    ).toBe(seg.sha256);

    const { port } = await restoreTo(T);
    const restored = await state(port);
    expect(restored).toEqual(atT);
    // The DELETE after T is absent, the writes before it all there.
    expect(await psqlAt(port, "SELECT count(*) FROM items WHERE v = 'after-T' OR v = 'just-before-T'", "shop")).toBe("1");

    // Through the API: restoreBackup({ pointInTime }) names the dump; the database at T lands in the server as a new database.
    const requested = await requestRestore(admin, { backupId: dumpId, database: "shop_at_t", pointInTime: T.toISOString() });
    const restore = (dataOf(requested) as { restoreBackup: RestoreView }).restoreBackup;
    const ended = await waitForRestore(admin, restore.id, undefined, 180_000);
    expect(ended.error).toBeNull();
    expect(ended.status).toBe("SUCCEEDED");
    expect(ended.sourceDatabase).toBe("shop");
    expect(ended.sha256).toMatch(/^[0-9a-f]{64}$/);
    // The restore started from the newest base backup before T, not from the dump.
    const row = await app.db.prisma.restore.findUniqueOrThrow({ where: { id: Number(restore.id) } });
    expect((await app.db.prisma.backup.findUniqueOrThrow({ where: { id: row.backupId! } })).database).toBe("(cluster)");
    expect(await state(source.port, "shop_at_t")).toEqual(atT);
    // No temporary instance or directory is left behind.
    expect(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(`sqlguard-pitr-restore-${restore.id}-`))).toEqual([]);
    expect(processesWith(`sqlguard-pitr-restore-${restore.id}-`)).toEqual([]);

    // The CLI, from the storage alone: into a server through a temporary instance, and as a ready data directory.
    const artifact = await app.db.prisma.backupArtifact.findFirstOrThrow({ where: { backupId: dumpId } });
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    const file = path.join(work, "archive", artifact.key);
    const cliTo = ["--file", file, "--to", `postgres://postgres@127.0.0.1:${source.port}/shop_cli`, "--point-in-time", T.toISOString()];
    // The archive it needs is encrypted: without an identity the CLI refuses before it fetches anything.
    await expect(runRestoreCommand(cliTo, {}, io, new AbortController().signal)).rejects.toThrow(/^--identity: the point-in-time archive is encrypted \(age\)/);
    const code = await runRestoreCommand([...cliTo, "--identity", recoveryKey], {}, io, new AbortController().signal);
    expect(out.join("\n")).toMatch(/restored shop as of .* into "shop_cli"/);
    expect(code).toBe(0);
    expect(await state(source.port, "shop_cli")).toEqual(atT);
    const cliDir = path.join(work, "cli-restored", "data");
    restoredDirs.push(cliDir);
    out.length = 0;
    expect(
      await runRestoreCommand(
        ["--file", file, "--point-in-time", T.toISOString(), "--data-dir", cliDir, "--identity", recoveryKey],
        {},
        io,
        new AbortController().signal,
      ),
    ).toBe(0);
    const start = out.find((l) => l.trim().startsWith("pg_ctl -D "));
    expect(start?.trim()).toBe(`pg_ctl -D ${cliDir} -l ${cliDir}.log start`);
    expect(fs.existsSync(path.join(cliDir, "recovery.signal"))).toBe(true);
    await chownPostgres(path.dirname(cliDir));
    const cliPort = await freePort();
    await pgCtlStart(cliDir, cliPort, path.dirname(cliDir), `${cliDir}.log`);
    await waitForPromotion(cliPort, `${cliDir}.log`);
    expect(await state(cliPort)).toEqual(atT);

    // The metrics show the window.
    const metrics = new SqlguardMetrics();
    const service = new PitrService({
      prisma: app.db.prisma,
      logger: log.logger,
      instanceId: "pgpitr-metrics",
      spoolRoot: path.join(work, "spool-metrics"),
      connectionOf: connectionOf as never,
      storeFor: () => store,
      metrics,
    });
    await service.reconcile();
    await service.stop();
    const text = await metrics.render();
    expect(text).toMatch(/sqlguard_pitr_recoverable_to_timestamp_seconds\{server="pg-pitr"\} \d+/);
    expect(text).toMatch(/sqlguard_pitr_chain_broken\{server="pg-pitr"\} 0/);
  }, 180_000);

  it("a point-in-time drill restores a checkpoint's exact LSN, taken under concurrent writes, in a temporary instance and compares every table; a wrong count fails it", async () => {
    const prisma = app.db.prisma;
    await source.psql("CREATE TABLE notes (id serial PRIMARY KEY, t text)", "shop");
    await source.psql("INSERT INTO notes (t) VALUES ('one'), ('two')", "shop");
    // Commits go on while the checkpoint's snapshot is taken: only an exact LSN makes the counts agree.
    let writing = true;
    const load = (async () => {
      for (let i = 0; writing; i++) await source.psql(`INSERT INTO items (v, n) VALUES ('during-checkpoint-${i}', ${i})`, "shop");
    })();
    await new Promise((r) => setTimeout(r, 300));
    const [checkpoint] = await takePgCheckpoints(prisma, await serverRow(), connectionOf(await serverRow()));
    await new Promise((r) => setTimeout(r, 300));
    writing = false;
    await load;
    expect(checkpoint).toMatchObject({ database: "shop", binlogFile: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/) });
    const recorded = checkpoint!.tableRows as Record<string, number>;
    expect(Object.keys(recorded).sort()).toEqual(["public.items", "public.notes"]);
    expect(recorded["public.notes"]).toBe(2);
    expect(Number(await source.psql("SELECT count(*) FROM items", "shop"))).toBeGreaterThan(recorded["public.items"]!);
    // Destroyed since: the drill restores the state at the checkpoint, not now.
    await source.psql("DELETE FROM notes", "shop");
    await source.psql("SELECT pg_switch_wal()");
    await waitFor(
      "the WAL after the checkpoint to be archived",
      async () => (await planPgRestore(prisma, serverId, checkpoint!.takenAt).catch(() => null)) !== null,
    );

    const drill = async (checkpointId: number) => {
      const started = (
        dataOf(
          await admin(
            `mutation($s: ID!, $c: ID) { runPitrDrill(serverId: $s, database: "shop", drillServerId: $s, checkpointId: $c) { id kind status stopAtPosition database } }`,
            { s: serverId, c: checkpointId },
          ),
        ) as { runPitrDrill: { id: string; kind: string; status: string; stopAtPosition: string; database: string } }
      ).runPitrDrill;
      expect(started).toMatchObject({ kind: "PITR", status: "RUNNING", stopAtPosition: checkpoint!.binlogFile, database: "shop" });
      await app.services.drills.idle();
      return prisma.restoreDrill.findUniqueOrThrow({ where: { id: Number(started.id) } });
    };
    const passed = await drill(checkpoint!.id);
    expect(passed, passed.error ?? "").toMatchObject({ status: "PASSED", baseline: "CHECKPOINT", error: null });
    expect(passed.restoreMs).toBeGreaterThan(0);
    expect(JSON.stringify(passed.details)).toContain(`at LSN ${checkpoint!.binlogFile}`);
    // The temporary instance is gone: no directory, no postmaster.
    expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(`sqlguard-pitr-drill-${passed.id}-`))).toEqual([]);
    expect(await processesWith(`sqlguard-pitr-drill-${passed.id}-`)).toEqual([]);

    await prisma.pitrCheckpoint.update({ where: { id: checkpoint!.id }, data: { tableRows: { ...recorded, "public.items": recorded["public.items"]! + 1 } } });
    const failed = await drill(checkpoint!.id);
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toContain("public.items");
    await prisma.pitrCheckpoint.update({ where: { id: checkpoint!.id }, data: { tableRows: recorded } });

    // A transaction left open on the source holds the slot's creation back: the checkpoint gives up
    // after its timeout, records nothing, and leaves no slot behind.
    const { default: pg } = await import("pg");
    const open = new pg.Client({ host: "127.0.0.1", port: source.port, user: "postgres", database: "shop" });
    await open.connect();
    try {
      await open.query("BEGIN");
      await open.query("INSERT INTO notes (t) VALUES ('uncommitted')");
      const before = await prisma.pitrCheckpoint.count();
      const timedOut = await takePgCheckpoints(prisma, await serverRow(), connectionOf(await serverRow()), { slotTimeoutMs: 1500 }).catch((e: Error) => e);
      expect(timedOut).toBeInstanceOf(Error);
      expect((timedOut as Error).message).toMatch(/gave up after 1\.5 s: a transaction running on the server holds back its temporary replication slot/);
      expect(await prisma.pitrCheckpoint.count()).toBe(before);
      await waitFor(
        "the temporary slot to go",
        async () => (await source.psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'sqlguard_ckpt_%'")) === "0",
      );
    } finally {
      await open.query("ROLLBACK").catch(() => {});
      await open.end();
    }
  });

  it("a restore past the newest archived WAL is refused saying why", async () => {
    await expect(planPgRestore(app.db.prisma, serverId, new Date(Date.now() + 60_000))).rejects.toThrow(/in the future/);
    const at = new Date(Date.now() - 10);
    await source.psql("SELECT 1");
    const error = await planPgRestore(app.db.prisma, serverId, new Date(at.getTime() + 5000)).catch((e: Error) => e);
    // Either still in the future or after the archive's end: both refusals, both explained.
    expect(error).toBeInstanceOf(PgPitrRefusedError);
  });

  it("a deleted archive segment breaks the chain visibly and a restore past it is refused", async () => {
    const plan = await planPgRestore(app.db.prisma, serverId, T);
    const start = parseSegment(plan.base.startSegment)!;
    const victim = (await app.db.prisma.pitrArchive.findMany({ where: { serverId, partial: false } }))
      .filter((a) => parseSegment(a.file) && parseSegment(a.file)!.segno > start.segno && a.lastEventAt! < T)
      .sort((a, b) => a.file.localeCompare(b.file))[0]!;
    expect(victim).toBeDefined();
    fs.rmSync(path.join(work, "archive", victim.key));
    const reasons = await verifyArchives(app.db.prisma, serverId, () => store);
    expect(reasons.join()).toContain(`the archive of WAL file ${victim.file}`);
    const s = await status();
    expect(s.broken).toBe(true);
    expect(s.brokenReason).toContain(victim.file);
    const refused = await planPgRestore(app.db.prisma, serverId, T).catch((e: Error) => e);
    expect(refused).toBeInstanceOf(PgPitrRefusedError);
    expect((refused as Error).message).toMatch(new RegExp(`chain is broken before .*${victim.file}.*missing from storage`));
    // The API refuses it too, naming the field and the break, and records nothing.
    const before = await app.db.prisma.restore.count();
    const viaApi = await requestRestore(admin, { backupId: dumpId, database: "shop_past_break", pointInTime: T.toISOString() });
    expect(viaApi.errors?.[0]?.extensions?.field).toBe("pointInTime");
    expect(viaApi.errors?.[0]?.message).toMatch(new RegExp(`${victim.file}.*missing from storage`));
    expect(await app.db.prisma.restore.count()).toBe(before);
  });

  it("a slot whose wal_status leaves reserved shows as a warning; a lost slot breaks the chain", async () => {
    expect(await pitr!.checkSlot()).toBe("reserved");
    expect((await warningOf()).warning).toBeNull();
    await pitr!.stop();
    await waitFor(
      "the slot to be released",
      async () => (await source.psql(`SELECT active FROM pg_replication_slots WHERE slot_name = '${slotNameFor(serverId)}'`)) === "f",
    );
    await source.psql(`SELECT pg_drop_replication_slot('${slotNameFor(serverId)}')`);
    expect(await pitr!.checkSlot()).toBeNull();
    const s = await warningOf();
    expect(s.warning).toMatch(new RegExp(`replication slot ${slotNameFor(serverId)} has wal_status \\(missing\\), not reserved: the slot is gone`));
    expect(s.broken).toBe(true);
    expect(log.lines.join("")).toMatch(/not reserved: the WAL receiver lags/);
  });
});
