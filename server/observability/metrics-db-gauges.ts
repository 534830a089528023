import type { Principal } from "../auth/roles.ts";
import { nextRuns } from "../catalog/cron.ts";
import type { PrismaClient } from "../db/client.ts";
import type { KeptCopies } from "./metrics-loader.ts";
import type { DatabaseLabels, SqlguardMetrics } from "./metrics.ts";

/** A schedule as the next-run source sees it. */
export type ScheduleSpec = { id: number; name: string; cronExpression: string; timezone: string };

/** Overdue flags per database, e.g. from the scheduler's BackupHealthService. */
export type OverdueSource = () => Promise<Array<{ server: string; database: string | null; overdue: boolean }>>;
/** The next due time of a schedule, e.g. the live cron job's. */
export type NextRunSource = (schedule: ScheduleSpec) => Date | null;

/** Without a scheduler: the cron expression's next fire time (null when it no longer parses). */
export const cronNextRun: NextRunSource = (s) => {
  try {
    return nextRuns(s.cronExpression, s.timezone, 1)[0] ?? null;
  } catch {
    return null;
  }
};

/** The principal the metrics read the backup health as. */
const METRICS_READER: Principal = { userId: 0, username: "metrics", role: "VIEWER", via: "session" };

/** The scheduler's BackupHealthService (overdue per database) as an OverdueSource. */
export function overdueFromHealth(health: {
  list(principal: Principal): Promise<Array<{ serverName: string; database: string | null; overdue: boolean }>>;
}): OverdueSource {
  return async () => (await health.list(METRICS_READER)).map((h) => ({ server: h.serverName, database: h.database, overdue: h.overdue }));
}

/**
 * Reads the gauges that mirror the metadata database as it is now (running backups, storage use
 * and verification per target, next runs, overdue) and sets them all at once, so a scrape never
 * sees half of a refresh. Every query runs on an index and reads only kept or problem artifacts,
 * never the history. Verification: 0 for a database and target with a CORRUPT or MISSING kept
 * artifact, 1 for the targets of each database's newest success (`kept`, from the collector).
 */
export async function refreshDbGauges(
  prisma: PrismaClient,
  metrics: SqlguardMetrics,
  sources: { overdue: OverdueSource; nextRunAt: NextRunSource },
  kept: KeptCopies,
): Promise<void> {
  const running = await prisma.backup.count({ where: { status: "RUNNING" } });
  metrics.setJobsQueued("backup", await prisma.backup.count({ where: { status: "PENDING" } }));
  metrics.setJobsQueued("restore", await prisma.restore.count({ where: { status: "PENDING" } }));
  metrics.setJobsQueued("drill", await prisma.restoreDrill.count({ where: { status: "PENDING" } }));
  metrics.setJobsQueued("verification", await prisma.backupArtifact.count({ where: { verifyRequestedAt: { not: null } } }));
  const storage: Array<{ target: string; bytes: number; objects: number }> = [];
  const bad = new Map<string, DatabaseLabels & { target: string; ok: boolean }>();
  for (const t of await prisma.storageTarget.findMany({ select: { id: true, name: true } })) {
    // One target at a time, so each query is a range of the (storageTargetId, status) index.
    const held = await prisma.backupArtifact.aggregate({
      where: { storageTargetId: t.id, status: { in: ["STORED", "CORRUPT"] } },
      _count: true,
      _sum: { sizeBytes: true },
    });
    storage.push({ target: t.name, bytes: Number(held._sum.sizeBytes ?? 0), objects: held._count });
    const broken = await prisma.backupArtifact.findMany({
      where: { storageTargetId: t.id, status: { in: ["CORRUPT", "MISSING"] }, backup: { serverId: { not: null } } },
      select: { backup: { select: { database: true, server: { select: { name: true } } } } },
    });
    for (const { backup: b } of broken) {
      if (b.server) bad.set(`${b.server.name}\u0000${b.database}\u0000${t.name}`, { server: b.server.name, database: b.database, target: t.name, ok: false });
    }
  }
  const schedules = await prisma.schedule.findMany({ where: { enabled: true }, select: { id: true, name: true, cronExpression: true, timezone: true } });
  const overdue = await sources.overdue();

  const verification = new Map(bad);
  for (const { server, database, targets } of kept.values()) {
    for (const target of targets) {
      const key = `${server}\u0000${database}\u0000${target}`;
      if (!verification.has(key)) verification.set(key, { server, database, target, ok: true });
    }
  }
  metrics.setRunning(running);
  metrics.setStorage(storage);
  for (const r of storage) {
    // New targets get their counters at zero, so increase() sees their first error.
    metrics.recordUploadErrors(r.target, 0);
    metrics.recordRetentionDeleted(r.target, 0);
  }
  metrics.setVerification([...verification.values()]);
  metrics.setNextRuns(
    schedules.flatMap((s) => {
      const at = sources.nextRunAt(s);
      return at ? [{ schedule: s.name, at }] : [];
    }),
  );
  metrics.setOverdue(overdue.map((o) => ({ server: o.server, database: o.database ?? "", overdue: o.overdue })));
}
