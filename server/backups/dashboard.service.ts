import { requireRole, type Principal } from "../auth/roles.ts";
import type { PrismaClient } from "../db/client.ts";
import type { BackupEvents } from "../runner/events.ts";
import type { Backup, StorageTarget } from "../db/generated/client.ts";
import { nextDue } from "../scheduler/due-times.ts";
import { loadCoverage } from "../scheduler/coverage.ts";
import { assessHealth, type CoveringSchedule } from "../scheduler/overdue.ts";

export type DatabaseStatus = "OK" | "FAILING" | "OVERDUE" | "NEVER";

/** One protected database on the dashboard. */
export type DashboardDatabase = {
  serverId: number;
  serverName: string;
  database: string | null;
  status: DatabaseStatus;
  lastSuccessAt: Date | null;
  /** Seconds since the last success started (null without one). */
  ageSeconds: number | null;
  /** The shortest interval of its schedules: the recovery point objective it is held to. */
  rpoSeconds: number | null;
  expectedBy: Date | null;
  overdue: boolean;
  lastFailureAt: Date | null;
  lastError: string | null;
  nextRunAt: Date | null;
  schedules: string[];
};

export type StorageUsage = { target: StorageTarget; bytes: bigint; objects: number };

export type Dashboard = {
  generatedAt: Date;
  databases: DashboardDatabase[];
  running: Backup[];
  recentFailures: Backup[];
  totals: { backups: number; backups24h: number; successRate24h: number | null; successRate7d: number | null; storage: StorageUsage[] };
};

const STORAGE_TTL_MS = 30_000;
const DAY_MS = 86_400_000;

/**
 * The console's first page in one call: per server and database the last good backup and its
 * age against the RPO, the last failure, the next run; what runs now; recent failures; totals.
 * Every query reads an index (loose index scans per database, ranges on createdAt); the history
 * size and storage use per target read whole tables, so they are recomputed at most every 30 s
 * (the history size counts the backups created since from the events).
 */
export class DashboardService {
  #storage: { at: number; value: Promise<{ backups: number; storage: StorageUsage[] }> } | null = null;

  /** Backups recorded since the cached count was taken: counted from the events, not re-read. */
  #createdSince = 0;

  constructor(private readonly deps: { prisma: PrismaClient; graceMs: number; now?: () => Date; events?: BackupEvents }) {
    deps.events?.on((event) => {
      if (event.type === "CREATED") this.#createdSince++;
    });
  }

  async get(principal: Principal): Promise<Dashboard> {
    requireRole(principal, "VIEWER");
    const now = this.deps.now?.() ?? new Date();
    const [databases, running, recentFailures, totals] = await Promise.all([
      this.#databases(now),
      this.#running(),
      this.#recentFailures(now),
      this.#totals(now),
    ]);
    return { generatedAt: now, databases, running, recentFailures, totals };
  }

  async #databases(now: Date): Promise<DashboardDatabase[]> {
    const coverage = await loadCoverage(this.deps.prisma);
    // Next run and interval once per schedule, not per database.
    const timing = new Map<number, { next: Date | null; interval: number | null }>();
    const timeOf = (s: CoveringSchedule) => {
      if (!timing.has(s.id)) timing.set(s.id, { next: safe(() => nextDue(s.spec, now)), interval: safe(() => intervalSeconds(s.spec, now)) });
      return timing.get(s.id)!;
    };
    const out = coverage.map((entry): DashboardDatabase => {
      const { lastSuccessAt, lastFailureAt } = entry;
      const health = assessHealth(entry, now, this.deps.graceMs);
      const status: DatabaseStatus = !lastSuccessAt ? "NEVER" : health.overdue ? "OVERDUE" : lastFailureAt && lastFailureAt > lastSuccessAt ? "FAILING" : "OK";
      return {
        serverId: entry.serverId,
        serverName: entry.serverName,
        database: entry.database,
        status,
        lastSuccessAt,
        ageSeconds: lastSuccessAt ? Math.max(0, Math.round((now.getTime() - lastSuccessAt.getTime()) / 1000)) : null,
        rpoSeconds: minimum(entry.schedules.map((s) => timeOf(s).interval)),
        expectedBy: health.expectedBy,
        overdue: health.overdue,
        lastFailureAt,
        lastError: null,
        nextRunAt: earliest(entry.schedules.map((s) => timeOf(s).next)),
        schedules: health.schedules,
      };
    });
    await this.#attachErrors(out);
    const rank: Record<DatabaseStatus, number> = { OVERDUE: 0, FAILING: 1, NEVER: 2, OK: 3 };
    return out.sort(
      (a, b) => rank[a.status] - rank[b.status] || a.serverName.localeCompare(b.serverName) || (a.database ?? "").localeCompare(b.database ?? ""),
    );
  }

  /** The error of the last failure, for the databases whose last finished run failed. */
  async #attachErrors(rows: DashboardDatabase[]): Promise<void> {
    const failing = rows.filter((r) => r.lastFailureAt && (!r.lastSuccessAt || r.lastFailureAt > r.lastSuccessAt));
    if (failing.length === 0) return;
    const errors = await this.deps.prisma.backup.findMany({
      where: { OR: failing.map((r) => ({ serverId: r.serverId, database: r.database!, status: "FAILED" as const, startedAt: r.lastFailureAt! })) },
      select: { serverId: true, database: true, error: true },
    });
    for (const row of failing) row.lastError = errors.find((e) => e.serverId === row.serverId && e.database === row.database)?.error ?? null;
  }

  #running(): Promise<Backup[]> {
    return this.deps.prisma.backup.findMany({ where: { status: { in: ["RUNNING", "PENDING"] } }, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: 100 });
  }

  #recentFailures(now: Date): Promise<Backup[]> {
    return this.deps.prisma.backup.findMany({
      where: { status: "FAILED", createdAt: { gte: new Date(now.getTime() - 7 * DAY_MS) } },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: 10,
    });
  }

  async #totals(now: Date): Promise<Dashboard["totals"]> {
    const { prisma } = this.deps;
    const window = (ms: number) =>
      prisma.backup.groupBy({ by: ["status"], where: { createdAt: { gte: new Date(now.getTime() - ms) } }, _count: { _all: true } });
    const [day, week, scans] = await Promise.all([window(DAY_MS), window(7 * DAY_MS), this.#fullScans()]);
    return {
      backups: scans.backups + this.#createdSince,
      backups24h: sum(day),
      successRate24h: successRate(day),
      successRate7d: successRate(week),
      storage: scans.storage,
    };
  }

  /** The two totals that read whole tables (history size, storage use), cached for 30 s. */
  #fullScans(): Promise<{ backups: number; storage: StorageUsage[] }> {
    if (this.#storage && Date.now() - this.#storage.at < STORAGE_TTL_MS) return this.#storage.value;
    this.#createdSince = 0;
    const value = (async () => {
      const [total, targets, sums] = await Promise.all([
        this.deps.prisma.$queryRaw<Array<{ n: bigint }>>`SELECT COUNT(*) AS n FROM Backup`,
        this.deps.prisma.storageTarget.findMany({ orderBy: { name: "asc" } }),
        this.deps.prisma.backupArtifact.groupBy({ by: ["storageTargetId"], where: { status: "STORED" }, _sum: { sizeBytes: true }, _count: { _all: true } }),
      ]);
      const storage = targets.map((target) => {
        const row = sums.find((s) => s.storageTargetId === target.id);
        return { target, bytes: row?._sum.sizeBytes ?? 0n, objects: row?._count._all ?? 0 };
      });
      return { backups: Number(total[0]?.n ?? 0), storage };
    })();
    this.#storage = { at: Date.now(), value };
    value.catch(() => (this.#storage = null));
    return value;
  }
}

/** Seconds between the next two runs of a schedule. */
function intervalSeconds(spec: { expression: string; timezone: string }, now: Date): number | null {
  const first = nextDue(spec, now);
  const second = first ? nextDue(spec, first) : null;
  return first && second ? Math.round((second.getTime() - first.getTime()) / 1000) : null;
}

function safe<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch {
    return null;
  }
}

function earliest(dates: Array<Date | null>): Date | null {
  return dates.reduce<Date | null>((best, d) => (d && (!best || d < best) ? d : best), null);
}

function minimum(values: Array<number | null>): number | null {
  return values.reduce<number | null>((best, v) => (v !== null && (best === null || v < best) ? v : best), null);
}

type StatusCounts = Array<{ status: string; _count: { _all: number } }>;

function sum(rows: StatusCounts): number {
  return rows.reduce((n, r) => n + r._count._all, 0);
}

/** Succeeded (and partial) over finished runs, 0..1; null when none finished. */
function successRate(rows: StatusCounts): number | null {
  const count = (statuses: string[]) => rows.filter((r) => statuses.includes(r.status)).reduce((n, r) => n + r._count._all, 0);
  const good = count(["SUCCEEDED", "PARTIAL"]);
  const finished = good + count(["FAILED"]);
  return finished ? good / finished : null;
}
