import { Readable } from "node:stream";
import type { Principal } from "../../auth/roles.ts";
import type { BackupStatus } from "../../db/generated/enums.ts";
import { MANIFEST_SUFFIX } from "../../runner/artifact-key.ts";
import { BackupEvents } from "../../runner/events.ts";
import { ManualClock } from "../../scheduler/clock.ts";
import { StorageError } from "../../storage/artifact-store.ts";
import { MemoryStore } from "../../testing/memory-store.ts";
import { createTestDatabase, memoryLogger } from "../../testing/test-db.ts";
import { RetentionSweeper } from "../sweeper.ts";

/** A MemoryStore whose deletes fail while `failDeletes` is set (a storage outage). */
export class FlakyStore extends MemoryStore {
  failDeletes = false;

  override async delete(key: string): Promise<void> {
    if (this.failDeletes) throw new StorageError("UNAVAILABLE", `delete ${key}: simulated outage`, true);
    await super.delete(key);
  }
}

/** A caller with the operator role, for the role-checked sweeper methods. */
export const OPERATOR: Principal = { userId: 1, username: "op", role: "OPERATOR", via: "session" };
/** Milliseconds, for simulated time. */
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

type ArtifactSpec = { target: number; status?: "STORED" | "FAILED" | "PENDING"; leftover?: boolean };
/** A backup row to insert: its time, status and artifacts (SUCCEEDED on t1 by default). */
export type BackupSpec = { database?: string; server?: number; status?: BackupStatus; at: Date; artifacts?: ArtifactSpec[]; scheduleId?: number };

/**
 * A fresh metadata database with two storage targets (backed by in-memory stores), one hourly
 * schedule and two servers, a sweeper on a ManualClock, and a factory for backup rows whose STORED
 * artifacts (and manifests) really exist in the stores.
 */
export async function retentionFixture(start = new Date("2026-03-01T00:00:00Z")) {
  const db = await createTestDatabase();
  const prisma = db.prisma;
  const clock = new ManualClock(start);
  const stores = new Map<number, FlakyStore>();
  const targets: number[] = [];
  for (const name of ["t1", "t2"]) {
    const t = await prisma.storageTarget.create({ data: { name, kind: "LOCAL", path: `/nonexistent/${name}` } });
    stores.set(t.id, new FlakyStore());
    targets.push(t.id);
  }
  const schedule = await prisma.schedule.create({ data: { name: "hourly", cronExpression: "0 * * * *", timezone: "UTC" } });
  const servers: number[] = [];
  for (const name of ["db1", "db2"]) {
    servers.push(
      (
        await prisma.server.create({
          data: { name, engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", labels: {}, includeDatabases: [], excludeDatabases: [] },
        })
      ).id,
    );
  }
  const events = new BackupEvents();
  const { logger, lines } = memoryLogger();
  const sweeper = new RetentionSweeper({ prisma, storeFor: (t) => stores.get(t.id)!, events, logger, clock, failedGraceMs: 7 * DAY, intervalMs: HOUR });
  events.on((event) => sweeper.onBackupEvent(event));

  /** Inserts a backup (SUCCEEDED on t1 unless told otherwise); returns its id. */
  async function backup(spec: BackupSpec): Promise<number> {
    const status = spec.status ?? "SUCCEEDED";
    const serverId = spec.server ?? servers[0]!;
    const database = spec.database ?? "shop";
    const finished = status !== "PENDING" && status !== "RUNNING";
    const row = await prisma.backup.create({
      data: {
        serverId,
        serverName: serverId === servers[0] ? "db1" : "db2",
        engine: "MARIADB",
        database,
        scheduleId: spec.scheduleId ?? schedule.id,
        scheduleName: "hourly",
        trigger: "SCHEDULED",
        dueAt: spec.at,
        status,
        compression: "ZSTD",
        startedAt: spec.at,
        finishedAt: finished ? new Date(spec.at.getTime() + 60_000) : null,
      },
    });
    const defaults: ArtifactSpec[] =
      status === "SKIPPED"
        ? []
        : [
            {
              target: targets[0]!,
              status: status === "SUCCEEDED" || status === "PARTIAL" ? "STORED" : status === "RUNNING" || status === "PENDING" ? "PENDING" : "FAILED",
            },
          ];
    for (const a of spec.artifacts ?? defaults) {
      const key = `${serverId}/${database}/hourly/${row.id}.sql.zst`;
      await prisma.backupArtifact.create({ data: { backupId: row.id, storageTargetId: a.target, key, status: a.status ?? "STORED" } });
      const store = stores.get(a.target)!;
      if ((a.status ?? "STORED") === "STORED" || a.leftover) await store.put(key, Readable.from([Buffer.from(`dump ${row.id}`)]));
      if ((a.status ?? "STORED") === "STORED") await store.put(key + MANIFEST_SUFFIX, Readable.from([Buffer.from("{}")]));
    }
    return row.id;
  }

  /**
   * Inserts many backups of server db1, database "shop", each STORED on t1 (SUCCEEDED) or FAILED
   * there, in a few queries: for long simulations.
   */
  async function bulk(specs: Array<{ at: Date; status: "SUCCEEDED" | "FAILED" }>): Promise<void> {
    const rows = specs.map((b) => ({
      serverId: servers[0]!,
      serverName: "db1",
      engine: "MARIADB" as const,
      database: "shop",
      scheduleId: schedule.id,
      scheduleName: "hourly",
      trigger: "SCHEDULED" as const,
      dueAt: b.at,
      status: b.status,
      compression: "ZSTD" as const,
      startedAt: b.at,
      finishedAt: new Date(b.at.getTime() + 60_000),
    }));
    await prisma.backup.createMany({ data: rows });
    const created = await prisma.backup.findMany({
      where: { dueAt: { in: specs.map((b) => b.at) }, database: "shop", serverId: servers[0] },
      select: { id: true, status: true },
    });
    const keyOf = (id: number) => `${servers[0]}/shop/hourly/${id}.sql.zst`;
    await prisma.backupArtifact.createMany({
      data: created.map((b) => ({
        backupId: b.id,
        storageTargetId: targets[0]!,
        key: keyOf(b.id),
        status: b.status === "SUCCEEDED" ? ("STORED" as const) : ("FAILED" as const),
      })),
    });
    const store = stores.get(targets[0]!)!;
    for (const b of created.filter((c) => c.status === "SUCCEEDED")) {
      store.objects.set(keyOf(b.id), Buffer.from(`dump ${b.id}`));
      store.objects.set(keyOf(b.id) + MANIFEST_SUFFIX, Buffer.from("{}"));
    }
  }

  /** Sets the rule of the schedule on a target (defaults: no limit, minKeep 1). */
  function rule(target: number, fields: Record<string, number | boolean | null>) {
    const data = {
      keepForever: false,
      maxAgeDays: null,
      keepLast: null,
      gfsHourly: null,
      gfsDaily: null,
      gfsWeekly: null,
      gfsMonthly: null,
      gfsYearly: null,
      minKeep: 1,
      ...fields,
    };
    return prisma.retentionRule.upsert({
      where: { scheduleId_storageTargetId: { scheduleId: schedule.id, storageTargetId: target } },
      create: { scheduleId: schedule.id, storageTargetId: target, ...data },
      update: data,
    });
  }

  /** Status of each backup, by id. */
  async function statuses(ids: number[]): Promise<Array<string | undefined>> {
    const rows = await prisma.backup.findMany({ where: { id: { in: ids } }, select: { id: true, status: true } });
    return ids.map((id) => rows.find((r) => r.id === id)?.status);
  }

  return { db, prisma, clock, stores, targets, schedule, servers, events, sweeper, logLines: lines, backup, bulk, rule, statuses, close: () => db.drop() };
}
