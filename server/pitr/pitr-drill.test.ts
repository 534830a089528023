import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../db/connection.ts";
import { LocalStore } from "../storage/local-store.ts";
import { createServer, createTarget, dataOf, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { startPrivateMariadb, type PrivateMariadb } from "../testing/private-mariadb.ts";
import { createTestApp } from "../testing/test-app.ts";
import { memoryLogger } from "../testing/test-db.ts";
import { requestRestore, waitForRestore, type RestoreView } from "../restore/testing/restore-helpers.ts";
import { ServerPitr } from "./pitr-supervisor.ts";
import { PitrService } from "./pitr-service.ts";
import { takeCheckpoints } from "./checkpoints.ts";
import { pickPitrPoint } from "../restore/pitr-drill.ts";
import { gtidState } from "./binlog-file.ts";
import { runRestoreCommand } from "../cli/cli-restore.ts";

/**
 * Restores to a GTID and to a binlog position, row-count checkpoints and point-in-time drills, on
 * a private MariaDB with its binlog on (never the shared one): a real dump, the real streamer and
 * archiver onto a local directory, replays with mariadb-binlog | mariadb.
 */
describe("restores to a GTID or position, and point-in-time drills (MariaDB)", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let source: PrivateMariadb;
  let serverId: number;
  let targetId: number;
  let backupId: number;
  let pitr: ServerPitr | null = null;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-pitr-drill-"));
  const log = memoryLogger();
  const store = new LocalStore({ basePath: path.join(work, "archive") });

  const sql = async (statements: string[], database = "shop") => {
    const c = await connect({ host: "127.0.0.1", port: source.port, user: "root", database }, { withDatabase: database !== "" });
    try {
      const out: unknown[] = [];
      for (const s of statements) out.push(await c.query(s));
      return out;
    } finally {
      await c.end();
    }
  };
  /** Every row in id order and CHECKSUM TABLE: equal only for exactly the same rows. */
  const state = async (database: string) => {
    const [rows, sum] = (await sql(["SELECT id, v, n FROM items ORDER BY id", "CHECKSUM TABLE items"], database)) as [unknown[], Array<{ Checksum: bigint }>];
    return { rows: JSON.stringify(rows), checksum: String(sum[0]!.Checksum) };
  };
  const position = async () => {
    const [[master], [gtid]] = (await sql(["SHOW MASTER STATUS", "SELECT @@gtid_binlog_pos AS g"])) as [[{ File: string; Position: bigint }], [{ g: string }]];
    return { file: master.File, position: Number(master.Position), gtid: gtid.g };
  };
  const serverRow = () => app.db.prisma.server.findUniqueOrThrow({ where: { id: serverId } });
  const startArchiving = async () => {
    pitr = new ServerPitr(
      {
        prisma: app.db.prisma,
        logger: log.logger,
        instanceId: "pitr-drill-test",
        spoolRoot: path.join(work, "spool"),
        connectionOf: (s) => ({ engine: s.engine, host: s.host, port: s.port, username: s.username, password: null, tls: false }),
        storeFor: () => store,
        tickMs: 250,
      },
      await serverRow(),
    );
    expect(await pitr.start()).toBe(true);
  };
  const stopArchiving = async () => {
    await pitr?.stop();
    pitr = null;
  };
  const waitFor = async <T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; log:\n${log.lines.slice(-8).join("")}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  /** Until the archive (a partial copy at least) holds the server's current position. */
  const archived = (at: { file: string; position: number }) =>
    waitFor(`the archive to reach ${at.file}:${at.position}`, async () => {
      const row = await app.db.prisma.pitrArchive.findFirst({ where: { serverId, file: at.file }, orderBy: { endPosition: "desc" } });
      return row && Number(row.endPosition) >= at.position ? row : null;
    });
  const conn = async () => {
    const s = await serverRow();
    return { engine: s.engine, host: s.host, port: s.port, username: s.username, password: null, tls: false };
  };
  const runDrill = async (checkpointId?: number) => {
    const result = await admin(
      `mutation($s: ID!, $c: ID) { runPitrDrill(serverId: $s, database: "shop", drillServerId: $s, checkpointId: $c) { id kind status stopAtPosition pointInTime } }`,
      { s: serverId, c: checkpointId ?? null },
    );
    const started = (dataOf(result) as { runPitrDrill: { id: number; kind: string; status: string; stopAtPosition: string } }).runPitrDrill;
    expect(started).toMatchObject({ kind: "PITR", status: "RUNNING" });
    await app.services.drills.idle();
    return app.db.prisma.restoreDrill.findUniqueOrThrow({ where: { id: Number(started.id) } });
  };

  beforeAll(async () => {
    app = await createTestApp();
    admin = await app.as("ADMIN");
    source = await startPrivateMariadb("pitr-drill-src", { binlog: { serverId: 21 } });
    targetId = await createTarget(admin, { name: "pitr-drill-local", kind: "LOCAL", path: path.join(work, "archive") });
    serverId = await createServer(admin, {
      name: "maria-pitr-drill",
      engine: "MARIADB",
      host: "127.0.0.1",
      port: source.port,
      username: "root",
      pitr: { enabled: true, rpoSeconds: 5, storageTargetIds: [String(targetId)] },
    });
    await sql(["CREATE DATABASE shop"], "");
    await sql([
      "CREATE TABLE items (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(40) NOT NULL, n INT NOT NULL)",
      "CREATE TABLE notes (id INT PRIMARY KEY AUTO_INCREMENT, t VARCHAR(40) NOT NULL)",
      ...Array.from({ length: 20 }, (_, i) => `INSERT INTO items (v, n) VALUES ('before-dump-${i}', ${i})`),
      "INSERT INTO notes (t) VALUES ('one'), ('two')",
    ]);
    const [b] = await runBackup(admin, { serverId, databases: ["shop"], storageTargetIds: [targetId] });
    const done = await waitForBackup(admin, b!.id);
    expect(done.status).toBe("SUCCEEDED");
    backupId = done.id;
    await startArchiving();
  }, 120_000);

  afterAll(async () => {
    await stopArchiving();
    await source?.close();
    await app?.close();
    fs.rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it("restores up to and including a GTID, and up to a binlog position, exactly; the transactions after are absent", async () => {
    await sql(Array.from({ length: 5 }, (_, i) => `INSERT INTO items (v, n) VALUES ('after-dump-${i}', ${100 + i})`));
    const atPosition = await position();
    const statePosition = await state("shop");
    // One transaction of several statements: restoring to its GTID must include all of it.
    await sql(["BEGIN", "UPDATE items SET n = n + 1000 WHERE id <= 10", "INSERT INTO items (v, n) VALUES ('in-the-gtid', 1)", "COMMIT"]);
    const atGtid = await position();
    const stateGtid = await state("shop");
    expect(gtidState(atGtid.gtid).get(0)!.seq).toBe(gtidState(atPosition.gtid).get(0)!.seq + 1n);
    await sql(["DELETE FROM items WHERE id % 2 = 0", "INSERT INTO items (v, n) VALUES ('after-the-gtid', 0)"]);
    const now = await state("shop");
    expect(now.rows).not.toBe(stateGtid.rows);
    await archived(await position());

    const byGtid = await requestRestore(admin, { backupId, database: "shop_at_gtid", stopAtGtid: atGtid.gtid });
    const r1 = await waitForRestore(admin, (dataOf(byGtid) as { restoreBackup: RestoreView }).restoreBackup.id);
    expect(r1.error).toBeNull();
    expect(r1.status).toBe("SUCCEEDED");
    expect(await state("shop_at_gtid")).toEqual(stateGtid);

    const byPosition = await requestRestore(admin, { backupId, database: "shop_at_pos", stopAtPosition: `${atPosition.file}:${atPosition.position}` });
    const r2 = await waitForRestore(admin, (dataOf(byPosition) as { restoreBackup: RestoreView }).restoreBackup.id);
    expect(r2.error).toBeNull();
    expect(await state("shop_at_pos")).toEqual(statePosition);
    expect(statePosition.rows).not.toBe(stateGtid.rows);
    const recorded = await app.db.prisma.restore.findUniqueOrThrow({ where: { id: Number(r2.id) } });
    expect(recorded.stopAtPosition).toBe(`${atPosition.file}:${atPosition.position}`);

    // The CLI, from the storage alone: the same GTID, and a refusal of two targets at once.
    const artifact = await app.db.prisma.backupArtifact.findFirstOrThrow({ where: { backupId, storageTargetId: targetId } });
    const out: string[] = [];
    const cli = (extra: string[], database: string) =>
      runRestoreCommand(
        ["--file", path.join(work, "archive", artifact.key), "--to", `mysql://root@127.0.0.1:${source.port}/${database}`, ...extra],
        {},
        { out: (l) => out.push(l), err: (l) => out.push(l) },
        new AbortController().signal,
      );
    expect(await cli(["--stop-at-gtid", atGtid.gtid], "shop_cli_gtid")).toBe(0);
    expect(out.join("\n")).toMatch(new RegExp(`replayed \\d+ binlog file\\(s\\) from .* to GTID ${atGtid.gtid}`));
    expect(await state("shop_cli_gtid")).toEqual(stateGtid);
    await expect(cli(["--stop-at-gtid", atGtid.gtid, "--stop-at-position", `${atPosition.file}:${atPosition.position}`], "shop_cli_two")).rejects.toThrow(
      /exclude each other/,
    );

    // Clear field errors: two targets at once, a malformed GTID or position, a GTID not yet written.
    const both = await requestRestore(admin, { backupId, database: "x1", stopAtGtid: atGtid.gtid, pointInTime: new Date().toISOString() });
    expect(both.errors?.[0]?.extensions?.field).toBe("stopAtGtid");
    expect(both.errors?.[0]?.message).toMatch(/exclude each other/);
    const badGtid = await requestRestore(admin, { backupId, database: "x2", stopAtGtid: "zero-1" });
    expect(badGtid.errors?.[0]?.extensions?.field).toBe("stopAtGtid");
    const badPosition = await requestRestore(admin, { backupId, database: "x3", stopAtPosition: "binlog-bin.000001" });
    expect(badPosition.errors?.[0]?.extensions?.field).toBe("stopAtPosition");
    const future = await requestRestore(admin, { backupId, database: "x4", stopAtGtid: "0-21-999999" });
    expect(future.errors?.[0]?.extensions?.field).toBe("stopAtGtid");
    expect(future.errors?.[0]?.message).toMatch(/does not hold GTID 0-21-999999/);
  }, 120_000);

  it("records row counts per table at the exact binlog position of one consistent snapshot", async () => {
    const before = await position();
    const [checkpoint] = await takeCheckpoints(app.db.prisma, await serverRow(), await conn());
    expect(checkpoint).toBeDefined();
    // Nothing was written in between: the snapshot's position is the server's current one.
    expect({ file: checkpoint!.binlogFile, position: Number(checkpoint!.binlogPosition) }).toEqual({ file: before.file, position: before.position });
    const [[items], [notes]] = (await sql(["SELECT COUNT(*) AS n FROM items", "SELECT COUNT(*) AS n FROM notes"])) as [[{ n: bigint }], [{ n: bigint }]];
    expect(checkpoint!.tableRows).toEqual({ items: Number(items.n), notes: Number(notes.n) });
    expect(checkpoint!.database).toBe("shop");
    expect(Math.abs(checkpoint!.takenAt.getTime() - Date.now())).toBeLessThan(60_000);
    const listed = dataOf(
      await admin(`query($s: ID!) { pitrCheckpoints(serverId: $s, database: "shop") { id binlogPosition tableRows } }`, { s: serverId }),
    ) as {
      pitrCheckpoints: Array<{ id: string; binlogPosition: string; tableRows: string }>;
    };
    expect(listed.pitrCheckpoints[0]).toEqual({
      id: String(checkpoint!.id),
      binlogPosition: `${before.file}:${before.position}`,
      tableRows: JSON.stringify(checkpoint!.tableRows),
    });
  }, 60_000);

  it("a point-in-time drill restores to a checkpoint and passes on a healthy chain, and fails on a row count that differs", async () => {
    await sql(["INSERT INTO notes (t) VALUES ('three')", "DELETE FROM items WHERE id < 5"]);
    const [second] = await takeCheckpoints(app.db.prisma, await serverRow(), await conn());
    await sql(["INSERT INTO items (v, n) VALUES ('after-checkpoint', 5)", "DELETE FROM notes"]);
    await archived(await position());

    const passed = await runDrill(second!.id);
    expect(passed.error).toBeNull();
    expect(passed).toMatchObject({ status: "PASSED", kind: "PITR", baseline: "CHECKPOINT", checkpointId: second!.id, scratchDropped: true });
    expect(passed.stopAtPosition).toBe(`${second!.binlogFile}:${second!.binlogPosition}`);
    expect(passed.pointInTime).toEqual(second!.takenAt);
    expect(passed.restoreMs).toBeGreaterThan(0);
    const tables = (passed.details as { tables: Array<{ name: string; expectedRows: number; actualRows: number }> }).tables;
    expect(tables.find((t) => t.name === "notes")).toMatchObject({ expectedRows: 3, actualRows: 3 });
    const [[scratch]] = (await sql([`SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${passed.scratchDatabase}'`], "")) as [
      [{ n: bigint }],
    ];
    expect(Number(scratch.n)).toBe(0);

    // A random checkpoint inside the window passes too.
    expect((await runDrill()).status).toBe("PASSED");

    // A checkpoint that says otherwise fails the drill, naming the table.
    await app.db.prisma.pitrCheckpoint.update({ where: { id: second!.id }, data: { tableRows: { ...(second!.tableRows as object), notes: 4 } } });
    const failed = await runDrill(second!.id);
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toMatch(/table notes has 3 rows, the checkpoint recorded 4/);
    await app.db.prisma.pitrCheckpoint.update({ where: { id: second!.id }, data: { tableRows: second!.tableRows as object } });

    const listed = dataOf(await admin(`{ restoreDrills(database: "shop") { nodes { id kind stopAtPosition pointInTime status } } }`)) as {
      restoreDrills: { nodes: Array<{ id: string; kind: string; stopAtPosition: string | null }> };
    };
    expect(listed.restoreDrills.nodes.find((d) => d.id === String(passed.id))).toMatchObject({ kind: "PITR", stopAtPosition: passed.stopAtPosition });
  }, 180_000);

  it("a schedule with point-in-time drills drills its backups to a checkpoint", async () => {
    const created = dataOf(
      await admin(`mutation($input: ScheduleInput!) { createSchedule(input: $input) { id } }`, {
        input: { name: "pitr-drills", cronExpression: "0 3 * * *", serverIds: [serverId], storageTargetIds: [targetId] },
      }),
    ) as { createSchedule: { id: number } };
    const scheduleId = Number(created.createSchedule.id);
    const set = dataOf(
      await admin(`mutation($s: ID!, $v: ID!) { setScheduleDrill(scheduleId: $s, input: { enabled: true, serverId: $v, pitr: true }) { drillPitr } }`, {
        s: scheduleId,
        v: serverId,
      }),
    ) as { setScheduleDrill: { drillPitr: boolean } };
    expect(set.setScheduleDrill.drillPitr).toBe(true);
    await app.db.prisma.backup.update({ where: { id: backupId }, data: { scheduleId } });
    const drill = await app.services.drills.runDrillFor(backupId);
    expect(drill).toMatchObject({ kind: "PITR", trigger: "AFTER_BACKUP", status: "PASSED", baseline: "CHECKPOINT" });
    expect(drill!.checkpointId).not.toBeNull();
  }, 120_000);

  it("a point-in-time drill past a broken chain fails, naming the break", async () => {
    await stopArchiving();
    await sql([
      "INSERT INTO items (v, n) VALUES ('unarchived', 1)",
      "FLUSH BINARY LOGS",
      "INSERT INTO items (v, n) VALUES ('unarchived-2', 2)",
      "FLUSH BINARY LOGS",
    ]);
    const [[master]] = (await sql(["SHOW MASTER STATUS"])) as [[{ File: string }]];
    await sql([`PURGE BINARY LOGS TO '${master.File}'`]);
    await startArchiving();
    await sql(["INSERT INTO items (v, n) VALUES ('after-purge', 3)"]);
    const [past] = await takeCheckpoints(app.db.prisma, await serverRow(), await conn());
    await archived({ file: past!.binlogFile, position: Number(past!.binlogPosition) });
    await waitFor("the break to be recorded", async () => app.db.prisma.pitrArchive.findFirst({ where: { serverId, breakReason: { not: null } } }));
    expect(await pickPitrPoint(app.db.prisma, serverId, "shop", { checkpointId: past!.id })).not.toBeNull();

    const failed = await runDrill(past!.id);
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toMatch(/point-in-time drill refused: .*broken at .*purged/);
    expect(failed.restoreMs).toBeNull();
  }, 120_000);

  it("the PITR service takes checkpoints on the servers it archives, when they are due", async () => {
    await stopArchiving();
    const service = new PitrService({
      prisma: app.db.prisma,
      logger: log.logger,
      instanceId: "pitr-drill-service",
      spoolRoot: path.join(work, "spool-service"),
      connectionOf: (s) => ({ engine: s.engine, host: s.host, port: s.port, username: s.username, password: null, tls: false }),
      storeFor: () => store,
      checkpointMs: 60 * 60_000,
    });
    try {
      // The lease of the stopped archiver runs out first.
      await app.db.prisma.pitrStream.update({ where: { serverId }, data: { leaseUntil: new Date(0) } });
      const before = await app.db.prisma.pitrCheckpoint.count({ where: { serverId } });
      // The newest checkpoint is older than checkpointMs: one more.
      await app.db.prisma.pitrCheckpoint.updateMany({ where: { serverId }, data: { createdAt: new Date(Date.now() - 2 * 60 * 60_000) } });
      await service.reconcile();
      expect(await app.db.prisma.pitrCheckpoint.count({ where: { serverId } })).toBe(before + 1);
      // Not due again within the interval.
      await service.reconcile();
      expect(await app.db.prisma.pitrCheckpoint.count({ where: { serverId } })).toBe(before + 1);
    } finally {
      await service.stop();
    }
  }, 60_000);
});
