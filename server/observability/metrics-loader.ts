import { isSuccess, runOutcome } from "../backups/outcome.ts";
import type { PrismaClient } from "../db/client.ts";
import { MANUAL_SCHEDULE, type RunStatus, type SqlguardMetrics } from "./metrics.ts";

/** Statuses a run can end with, as they appear in the `status` label. */
export const RUN_STATUS: Readonly<Record<string, RunStatus>> = {
  SUCCEEDED: "succeeded",
  PARTIAL: "partial",
  FAILED: "failed",
  CANCELLED: "cancelled",
  SKIPPED: "skipped",
};

/**
 * How the runner's message begins when no target stored a backup (storageFailure() in
 * server/runner/backup-pipeline.ts): the record keeps no rawBytes then, only this error.
 */
export const ALL_TARGETS_FAILED = "no storage target stored the backup";

/** Whether a finished backup's never-stored artifacts are upload errors (its dump reached the targets). */
export function reachedStorage(b: { rawBytes: bigint | null; error: string | null }): boolean {
  return b.rawBytes != null || (b.error?.startsWith(ALL_TARGETS_FAILED) ?? false);
}

/** Per database (`serverId\0database`), the targets holding a copy of its newest successful backup. */
export type KeptCopies = Map<string, { server: string; database: string; targets: string[] }>;
/** Databases whose last status, or newest success, an event recorded while the load ran: the event's is newer. */
export type Touched = { status: Set<string>; success: Set<string> };

type Count = bigint | number;
type Names = { servers: Map<number, string>; schedules: Map<number, string> };

/**
 * Sets from the metadata database what must not reset on a restart: the run and upload-error
 * counters up to `snapshotAt` (the collector counts what finishes from then on), the retention
 * counter, and per database of an existing server its last status, last success and size.
 * Definitions, shared with the collector: a run counts once finished, a DELETED backup as the
 * success it was (partial when it recorded an error); an upload error is a FAILED artifact of a
 * backup that reached the targets (reachedStorage); a retention deletion is an artifact retention
 * marked DELETED (a failed upload's leftover counts too).
 * Labels carry current server and schedule names. Records retention removed (failed runs after
 * their grace period) are no longer counted: Prometheus sees a counter reset, which rate() handles.
 */
export async function loadMetrics(prisma: PrismaClient, target: SqlguardMetrics, snapshotAt: Date, kept: KeptCopies, touched: Touched): Promise<void> {
  // Everything is read first and applied at the end: a load that fails half-way changes nothing.
  const ops: Array<() => void> = [];
  const metrics = deferred(target, ops);
  const names: Names = {
    servers: new Map((await prisma.server.findMany({ select: { id: true, name: true } })).map((s) => [s.id, s.name])),
    schedules: new Map((await prisma.schedule.findMany({ select: { id: true, name: true } })).map((s) => [s.id, s.name])),
  };
  const targets = new Map((await prisma.storageTarget.findMany({ select: { id: true, name: true } })).map((t) => [t.id, t.name]));
  for (const name of targets.values()) {
    metrics.recordUploadErrors(name, 0);
    metrics.recordRetentionDeleted(name, 0);
  }
  // One pass over the history, grouped by ids (names are mapped here, cheaper than joins).
  const runs = await prisma.$queryRaw<
    Array<{
      serverId: number | null;
      serverName: string;
      database: string;
      scheduleId: number | null;
      scheduleName: string | null;
      status: string;
      clean: Count;
      n: Count;
    }>
  >`
    SELECT serverId, serverName, \`database\`, scheduleId, scheduleName, status, error IS NULL AS clean, COUNT(*) AS n
    FROM Backup
    WHERE status IN ('SUCCEEDED', 'PARTIAL', 'FAILED', 'CANCELLED', 'SKIPPED', 'DELETED') AND COALESCE(finishedAt, createdAt) < ${snapshotAt}
    GROUP BY 1, 2, 3, 4, 5, 6, 7`;
  for (const r of runs) {
    // A DELETED run counts as the outcome it had (outcome.ts).
    const outcome = runOutcome(r.status, Number(r.clean) ? null : "error");
    const status = r.status === "DELETED" ? (outcome === "SUCCESS" ? "succeeded" : "partial") : RUN_STATUS[r.status];
    const server = (r.serverId !== null && names.servers.get(r.serverId)) || r.serverName;
    const schedule = (r.scheduleId !== null && names.schedules.get(r.scheduleId)) || r.scheduleName || MANUAL_SCHEDULE;
    if (status) metrics.recordRuns({ server, database: r.database, schedule }, status, Number(r.n));
  }
  for (const [id, name] of targets) {
    const uploadErrors = await prisma.$queryRaw<Array<{ n: Count }>>`
      SELECT COUNT(*) AS n FROM BackupArtifact a JOIN Backup b ON b.id = a.backupId
      WHERE a.storageTargetId = ${id} AND a.status = 'FAILED' AND a.storedAt IS NULL AND b.status IN ('SUCCEEDED', 'PARTIAL', 'FAILED')
        AND b.finishedAt < ${snapshotAt} AND (b.rawBytes IS NOT NULL OR b.error LIKE ${`${ALL_TARGETS_FAILED}%`})`;
    metrics.recordUploadErrors(name, Number(uploadErrors[0]?.n ?? 0));
    metrics.recordRetentionDeleted(
      name,
      await prisma.backupArtifact.count({ where: { storageTargetId: id, status: "DELETED", deletedAt: { lt: snapshotAt } } }),
    );
  }
  await loadLatest(prisma, target, names, targets, { kept, touched }, ops);
  for (const op of ops) op();
}

/** The metrics, with each record call queued in `ops` instead of applied. */
function deferred(metrics: SqlguardMetrics, ops: Array<() => void>): SqlguardMetrics {
  return new Proxy(metrics, {
    get: (target, key) => {
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === "function" && String(key).startsWith("record") ? (...args: unknown[]) => void ops.push(() => value.apply(target, args)) : value;
    },
  });
}

/**
 * Per (server, database): the newest finished run's outcome and the newest success, each through
 * the (serverId, database, createdAt) index; what an event recorded meanwhile is newer and stays.
 */
async function loadLatest(
  prisma: PrismaClient,
  metrics: SqlguardMetrics,
  names: Names,
  targets: Map<number, string>,
  { kept, touched }: { kept: KeptCopies; touched: Touched },
  ops: Array<() => void>,
): Promise<void> {
  const pairs = await prisma.$queryRaw<
    Array<{ serverId: number; database: string }>
  >`SELECT DISTINCT serverId, \`database\` FROM Backup WHERE serverId IS NOT NULL`;
  const newest = { orderBy: [{ createdAt: "desc" as const }, { id: "desc" as const }] };
  for (const { serverId, database } of pairs) {
    const server = names.servers.get(serverId);
    if (!server) continue;
    const labels = { server, database };
    const key = `${serverId}\u0000${database}`;
    const last = await prisma.backup.findFirst({
      where: { serverId, database, status: { in: ["SUCCEEDED", "PARTIAL", "FAILED"] } },
      ...newest,
      select: { status: true },
    });
    const success = await prisma.backup.findFirst({
      where: { serverId, database, status: { in: ["SUCCEEDED", "PARTIAL"] } },
      ...newest,
      include: { artifacts: true },
    });
    ops.push(() => {
      if (last && !touched.status.has(key)) metrics.recordLastStatus(labels, isSuccess(runOutcome(last.status)));
      if (!success) return;
      if (success.startedAt) metrics.recordLastSuccess(labels, success.startedAt);
      if (touched.success.has(key)) return;
      if (success.storedBytes != null) metrics.recordSize(labels, success.compression.toLowerCase(), Number(success.storedBytes));
      const held = success.artifacts.flatMap((a) =>
        a.storageTargetId !== null && ["STORED", "CORRUPT", "MISSING"].includes(a.status) ? (targets.get(a.storageTargetId) ?? []) : [],
      );
      kept.set(key, { server, database, targets: held });
    });
  }
}
