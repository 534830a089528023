import type { Principal } from "../../auth/roles.ts";
import type { DashboardService, DatabaseStatus } from "../../backups/dashboard.service.ts";
import { runOutcome } from "../../backups/outcome.ts";
import type { PrismaClient } from "../../db/client.ts";

const DAY_MS = 86_400_000;
/** Statuses that were a recovery point when they ended (DELETED: retention removed one since). */
const POINT_STATUSES = ["SUCCEEDED", "PARTIAL", "DELETED"] as const;
/** The report reads the dashboard as a viewer would. */
const REPORT_PRINCIPAL: Principal = { userId: 0, username: "weekly-report", role: "VIEWER", via: "token" };

/** One database's week. */
export type ReportDatabase = {
  server: string;
  database: string | null;
  status: DatabaseStatus;
  lastGoodAt: Date | null;
  rpoSeconds: number | null;
  /** Share of the week (0..1) the newest recovery point was younger than the RPO plus the overdue grace; null without an RPO. */
  rpoCompliance: number | null;
  succeeded: number;
  failed: number;
  drillsPassed: number;
  drillsRun: number;
  lastError: string | null;
};

/** One storage target's bytes at the report's time of day on each of the last seven days (oldest first). */
export type ReportStorage = { target: string; kind: string; days: Array<{ label: string; bytes: number }>; growthBytes: number };

export type WeeklyReport = {
  from: Date;
  to: Date;
  timezone: string;
  databases: ReportDatabase[];
  storage: ReportStorage[];
  totals: { databases: number; ok: number; problems: number; succeeded: number; failed: number; drillsPassed: number; drillsRun: number };
};

/**
 * The share of [from, to) during which the newest recovery point (by start time) was at most
 * `rpoMs` old. `starts` are the recovery points' start times, any order, including ones before
 * `from`; `since` (the database's first run) moves the start of the window later.
 */
export function rpoCompliance(starts: Date[], rpoMs: number, from: Date, to: Date, since: Date | null = null): number {
  const begin = Math.max(from.getTime(), since?.getTime() ?? 0);
  const end = to.getTime();
  if (end <= begin) return 1;
  const times = starts.map((d) => d.getTime()).sort((a, b) => a - b);
  let covered = 0;
  times.forEach((t, i) => {
    const a = Math.max(t, begin);
    const b = Math.min(t + rpoMs, times[i + 1] ?? Number.POSITIVE_INFINITY, end);
    if (b > a) covered += b - a;
  });
  return covered / (end - begin);
}

/** The day label of an instant in a time zone, e.g. "Mon 2026-11-30". */
export function dayLabel(at: Date, timezone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", { timeZone: timezone, weekday: "short", year: "numeric", month: "2-digit", day: "2-digit" })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.weekday} ${parts.year}-${parts.month}-${parts.day}`;
}

/**
 * Gathers the week before `to`: every protected database's status and last good backup (as the
 * dashboard judges them), its runs, RPO compliance and restore drills; each storage target's bytes
 * on each of the last seven days. Reads only the metadata database.
 */
export async function collectWeeklyReport(
  deps: { prisma: PrismaClient; dashboard: Pick<DashboardService, "get">; graceMs: number },
  to: Date,
  timezone: string,
): Promise<WeeklyReport> {
  const { prisma } = deps;
  const from = new Date(to.getTime() - 7 * DAY_MS);
  const lookBack = new Date(from.getTime() - 35 * DAY_MS);
  const [dashboard, runs, points, drills] = await Promise.all([
    deps.dashboard.get(REPORT_PRINCIPAL),
    prisma.backup.findMany({
      where: { startedAt: { gte: from, lt: to }, status: { in: ["SUCCEEDED", "PARTIAL", "FAILED", "DELETED"] } },
      select: { serverId: true, database: true, status: true, error: true, startedAt: true },
    }),
    prisma.backup.findMany({
      where: { startedAt: { gte: lookBack, lt: to }, status: { in: [...POINT_STATUSES] } },
      select: { serverId: true, database: true, startedAt: true, createdAt: true },
    }),
    prisma.restoreDrill.findMany({
      where: { startedAt: { gte: from, lt: to }, status: { in: ["PASSED", "FAILED"] } },
      select: { sourceServerName: true, database: true, status: true },
    }),
  ]);
  const key = (serverId: number | null, database: string | null) => `${serverId}\u0000${database}`;
  const group = <T extends { serverId: number | null; database: string }>(rows: T[]) => {
    const map = new Map<string, T[]>();
    for (const row of rows) map.set(key(row.serverId, row.database), [...(map.get(key(row.serverId, row.database)) ?? []), row]);
    return map;
  };
  const runsBy = group(runs);
  const pointsBy = group(points);
  const databases = dashboard.databases.map((d): ReportDatabase => {
    const mine = runsBy.get(key(d.serverId, d.database)) ?? [];
    const outcomes = mine.map((r) => runOutcome(r.status, r.error));
    const myPoints = (pointsBy.get(key(d.serverId, d.database)) ?? []).filter((p) => p.startedAt);
    const firstSeen = [...mine.map((r) => r.startedAt), ...myPoints.map((p) => p.startedAt)]
      .filter((t): t is Date => t != null)
      .reduce<Date | null>((a, b) => (a && a < b ? a : b), null);
    const hadPointBefore = myPoints.some((p) => p.startedAt! < from);
    const myDrills = drills.filter((x) => x.sourceServerName === d.serverName && x.database === d.database);
    return {
      server: d.serverName,
      database: d.database,
      status: d.status,
      lastGoodAt: d.lastSuccessAt,
      rpoSeconds: d.rpoSeconds,
      rpoCompliance:
        d.rpoSeconds == null || d.database == null
          ? null
          : rpoCompliance(
              myPoints.map((p) => p.startedAt!),
              d.rpoSeconds * 1000 + deps.graceMs,
              from,
              to,
              hadPointBefore ? null : firstSeen,
            ),
      succeeded: outcomes.filter((o) => o === "SUCCESS").length,
      failed: outcomes.filter((o) => o === "FAILURE" || o === "PARTIAL").length,
      drillsPassed: myDrills.filter((x) => x.status === "PASSED").length,
      drillsRun: myDrills.length,
      lastError: d.lastError,
    };
  });
  const storage = await storageByDay(prisma, to, timezone);
  const problems = databases.filter((d) => ["FAILING", "OVERDUE", "DEGRADED", "NEVER"].includes(d.status)).length;
  return {
    from,
    to,
    timezone,
    databases,
    storage,
    totals: {
      databases: databases.length,
      ok: databases.filter((d) => d.status === "OK").length,
      problems,
      succeeded: databases.reduce((n, d) => n + d.succeeded, 0),
      failed: databases.reduce((n, d) => n + d.failed, 0),
      drillsPassed: databases.reduce((n, d) => n + d.drillsPassed, 0),
      drillsRun: databases.reduce((n, d) => n + d.drillsRun, 0),
    },
  };
}

/** Each target's stored bytes at `to` minus 6..0 days: copies stored by then and not yet deleted (one sum per day, in SQL). */
async function storageByDay(prisma: PrismaClient, to: Date, timezone: string): Promise<ReportStorage[]> {
  const points = Array.from({ length: 7 }, (_, i) => new Date(to.getTime() - (6 - i) * DAY_MS));
  const [targets, sums] = await Promise.all([
    prisma.storageTarget.findMany({ orderBy: { name: "asc" }, select: { id: true, name: true, kind: true } }),
    Promise.all(
      points.map((at) =>
        prisma.backupArtifact.groupBy({
          by: ["storageTargetId"],
          where: { storedAt: { lte: at }, sizeBytes: { not: null }, OR: [{ deletedAt: null }, { deletedAt: { gt: at } }] },
          _sum: { sizeBytes: true },
        }),
      ),
    ),
  ]);
  return targets.map((t) => {
    const days = points.map((at, i) => ({
      label: dayLabel(at, timezone),
      bytes: Number(sums[i]!.find((g) => g.storageTargetId === t.id)?._sum.sizeBytes ?? 0),
    }));
    return { target: t.name, kind: t.kind, days, growthBytes: days[6]!.bytes - days[0]!.bytes };
  });
}
