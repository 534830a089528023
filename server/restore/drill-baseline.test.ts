import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../db/connection.ts";
import { TABLE_STATS_FORMAT } from "../runner/table-stats.ts";
import { createServer, createTarget, dataOf, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import {
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
import { eventually } from "./testing/restore-helpers.ts";

type DrillView = { id: number; status: string; baseline: string | null; error: string | null; details: string | null };
type TableCheck = { name: string; expectedRows: number | null; actualRows: number | null; status: string };

/** Writes to a table as fast as it can until stopped: a busy production database. */
function busyWriter(insert: () => Promise<unknown>) {
  let stop = false;
  let writes = 0;
  const done = (async () => {
    while (!stop) {
      await insert();
      writes++;
    }
  })();
  return {
    get writes() {
      return writes;
    },
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

/**
 * Drill baselines come from the dump's own snapshot: the rows are counted in the dump while the
 * drill restores it, so a database written to while it is backed up no longer fails its drill.
 */
describe("drill baselines on a busy database", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let localId: number;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-drill-baseline-"));
  const mariaDbs: string[] = [];
  const pgDbs: string[] = [];

  beforeAll(async () => {
    app = await createTestApp();
    admin = await app.as("ADMIN");
    localId = await createTarget(admin, { name: "db-local", kind: "LOCAL", path: path.join(work, "local") });
  });

  afterAll(async () => {
    await app?.close();
    for (const db of mariaDbs) await dropMariadbDatabase(db);
    for (const db of pgDbs) await dropPgDatabase(db);
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function drillingSchedule(name: string, serverId: number, verifyId: number): Promise<number> {
    const r = dataOf(
      await admin(`mutation($input: ScheduleInput!) { createSchedule(input: $input) { id } }`, {
        input: { name, cronExpression: "0 3 * * *", serverIds: [serverId], storageTargetIds: [localId] },
      }),
    ) as { createSchedule: { id: number } };
    dataOf(
      await admin(`mutation($id: ID!, $s: ID!) { setScheduleDrill(scheduleId: $id, input: { enabled: true, serverId: $s }) { id } }`, {
        id: r.createSchedule.id,
        s: verifyId,
      }),
    );
    return Number(r.createSchedule.id);
  }

  async function drillsOf(backupId: number): Promise<DrillView[]> {
    const r = dataOf(await admin(`query($b: ID!) { backup(id: $b) { drills { id status baseline error details } } }`, { b: backupId })) as {
      backup: { drills: DrillView[] };
    };
    return r.backup.drills;
  }

  /** Runs the schedule's backup while `writer` writes, then waits for its after-backup drill. */
  async function backupWhileBusy(serverId: number, scheduleId: number, database: string, writer: ReturnType<typeof busyWriter>) {
    await eventually(() => writer.writes >= 20, "the writer to be writing");
    const server = await app.db.prisma.server.findUniqueOrThrow({ where: { id: serverId }, include: { dumpOptions: true } });
    const [queued] = await app.services.backups.queue({
      server,
      databases: [database],
      storageTargetIds: [localId],
      schedule: { id: scheduleId, name: "busy" },
      trigger: "SCHEDULED",
      dueAt: new Date(),
    });
    const done = await waitForBackup(admin, queued!.id);
    const writesDuringBackup = writer.writes;
    await writer.stop();
    expect(done.status).toBe("SUCCEEDED");
    const drill = await eventually(async () => (await drillsOf(queued!.id)).find((d) => d.status !== "RUNNING"), "the drill");
    return { drill, writesDuringBackup };
  }

  it("MariaDB: a drill of a backup taken while rows were being inserted passes, with the dump's own counts", async () => {
    const source = uniqueName("busy");
    mariaDbs.push(source);
    await createMariadbSample(source, { rows: 200 });
    const mariaId = await createServer(admin, { name: "maria-busy", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
    const verifyId = await createServer(admin, {
      name: "maria-busy-verify",
      engine: "MARIADB",
      host: "127.0.0.1",
      username: "root",
      includeDatabases: ["none"],
    });
    const scheduleId = await drillingSchedule("busy-maria", mariaId, verifyId);
    const conn = await connect({ ...MARIADB, database: source });
    const writer = busyWriter(() => conn.query("INSERT INTO customers (name) VALUES ('written during the backup')"));
    let result: Awaited<ReturnType<typeof backupWhileBusy>>;
    try {
      result = await backupWhileBusy(mariaId, scheduleId, source, writer);
    } finally {
      await writer.stop();
      await conn.end();
    }
    const { drill } = result;
    expect(drill.error).toBeNull();
    expect(drill).toMatchObject({ status: "PASSED", baseline: "CAPTURED" });
    const tables = (JSON.parse(drill.details!) as { tables: TableCheck[] }).tables;
    const customers = tables.find((t) => t.name === "customers")!;
    // The source kept changing before and after the dump's snapshot, which the dump's count sits between.
    const [[{ n }]] = (await mariadbExec(["SELECT COUNT(*) AS n FROM customers"], source)) as [[{ n: bigint }]];
    expect(customers.expectedRows).toBeGreaterThan(200);
    expect(customers.expectedRows).toBeLessThan(Number(n));
    expect(customers).toMatchObject({ actualRows: customers.expectedRows, status: "OK" });
    // The trigger's rows came from the same snapshot: one audit row per customer.
    expect(tables.find((t) => t.name === "audit")).toMatchObject({ expectedRows: customers.expectedRows, status: "OK" });
  });

  it("PostgreSQL: a drill of a backup taken while rows were being inserted passes, with the dump's own counts", async () => {
    const source = uniqueName("busy_pg");
    pgDbs.push(source);
    await createPgSample(source);
    const pgId = await createServer(admin, { name: "pg-busy", engine: "POSTGRESQL", host: POSTGRES.host, port: POSTGRES.port, username: POSTGRES.user });
    const scheduleId = await drillingSchedule("busy-pg", pgId, pgId);
    const client = new pg.Client({ ...POSTGRES, database: source });
    await client.connect();
    const writer = busyWriter(() => client.query("INSERT INTO items (name) VALUES ('written during the backup')"));
    let result: Awaited<ReturnType<typeof backupWhileBusy>>;
    try {
      result = await backupWhileBusy(pgId, scheduleId, source, writer);
    } finally {
      await writer.stop();
      await client.end();
    }
    const { drill } = result;
    expect(drill.error).toBeNull();
    expect(drill).toMatchObject({ status: "PASSED", baseline: "CAPTURED" });
    const tables = (JSON.parse(drill.details!) as { tables: TableCheck[] }).tables;
    const items = tables.find((t) => t.name === "public.items")!;
    const [[{ n }]] = (await pgExec(["SELECT count(*)::int AS n FROM items"], source)) as [[{ n: number }]];
    expect(items.expectedRows).toBeGreaterThan(300);
    expect(items.expectedRows).toBeLessThan(n);
    expect(items).toMatchObject({ actualRows: items.expectedRows, status: "OK" });
    // The trigger's rows came from the same snapshot: one log row per item.
    expect(tables.find((t) => t.name === "public.log")).toMatchObject({ expectedRows: items.expectedRows, status: "OK" });
  });

  it("fails a drill whose restore does not end with every row of the dump", async () => {
    const source = uniqueName("lossy");
    mariaDbs.push(source);
    await mariadbExec([`CREATE DATABASE ${source}`, `CREATE TABLE ${source}.t (id INT PRIMARY KEY)`]);
    const serverId = await createServer(admin, { name: "maria-lossy", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
    const [b] = await runBackup(admin, { serverId, databases: [source], storageTargetIds: [localId] });
    const backup = await waitForBackup(admin, b!.id);
    // An artifact whose restore deletes a row the dump holds (as a trigger or an INSERT IGNORE could).
    const sql = "CREATE TABLE t (id INT PRIMARY KEY);\nINSERT INTO `t` VALUES (1),(2),(3);\nDELETE FROM t WHERE id = 2;\n";
    const artifact = execFileSync("zstd", ["-c", "-q"], { input: sql });
    fs.writeFileSync(path.join(work, "local", backup.artifacts[0]!.key), artifact);
    const sha256 = crypto.createHash("sha256").update(artifact).digest("hex");
    await app.db.prisma.backup.update({
      where: { id: backup.id },
      data: {
        sha256,
        storedBytes: artifact.length,
        tableStats: { format: TABLE_STATS_FORMAT, capturedAt: new Date().toISOString(), tables: [{ name: "t", rows: null }], objects: [] },
      },
    });
    await app.db.prisma.backupArtifact.updateMany({ where: { backupId: Number(backup.id) }, data: { sizeBytes: artifact.length } });
    const verifyId = await createServer(admin, {
      name: "maria-lossy-verify",
      engine: "MARIADB",
      host: "127.0.0.1",
      username: "root",
      includeDatabases: ["none"],
    });
    dataOf(await admin(`mutation($b: ID!, $s: ID!) { runRestoreDrill(backupId: $b, serverId: $s) { id } }`, { b: backup.id, s: verifyId }));
    const drill = await eventually(async () => (await drillsOf(backup.id)).find((d) => d.status !== "RUNNING"), "the drill");
    expect(drill).toMatchObject({ status: "FAILED", baseline: "CAPTURED", error: "table t has 2 rows, the dump holds 3" });
  });
});
