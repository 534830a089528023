import { requireRole, type Principal } from "../auth/roles.ts";
import type { PrismaClient } from "../db/client.ts";
import type { BackupEvents } from "../runner/events.ts";
import type { Backup, StorageTarget } from "../db/generated/client.ts";
import { nextDue } from "../scheduler/due-times.ts";
import { loadCoverage } from "../scheduler/coverage.ts";
import { assessHealth, type CoveringSchedule } from "../scheduler/overdue.ts";
import type { ComponentHealth } from "../observability/health-monitor.ts";
import { acknowledgementHolds } from "./acknowledgements.ts";
import { copyProblems, type BackupCopies, type CopyProblem } from "./copy-health.ts";
import { successRate, tally } from "./outcome.ts";

export type DatabaseStatus = "OK" | "FAILING" | "OVERDUE" | "DEGRADED" | "NEVER" | "ACKNOWLEDGED" | "DROPPED";

/** One protected database on the dashboard. */
export type DashboardDatabase = {
  serverId: number;
  serverName: string;
  /** The server's labels now, in key order. */
  serverLabels: Array<{ key: string; value: string }>;
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
  /** The targets its newest good backup should be on but has no intact copy on (DEGRADED). */
  missingCopies: CopyProblem[];
  /** ACKNOWLEDGED: who acknowledged its problem, when, and why. */
  acknowledgement: { at: Date; by: string; note: string | null } | null;
};

/** One day of the success-rate chart (UTC day), by the one definition of success (outcome.ts). */
export type DailyRuns = { day: string; succeeded: number; finished: number; rate: number | null };

export type StorageUsage = { target: StorageTarget; bytes: bigint; objects: number };

export type Dashboard = {
  generatedAt: Date;
  databases: DashboardDatabase[];
  running: Backup[];
  recentFailures: Backup[];
  totals: { backups: number; backups24h: number; successRate24h: number | null; successRate7d: number | null; storage: StorageUsage[] };
  /** The last 14 days, oldest first; days without a finished run are left out. */
  daily: DailyRuns[];
  /** Reachability of every enabled server and storage target, from the periodic health checks. */
  components: ComponentHealth[];
};

const STORAGE_TTL_MS = 30_000;
const DAY_MS = 86_400_000;
/** Ids per `IN` lookup: MariaDB takes at most 65,535 placeholders in one statement. */
const LOOKUP_CHUNK = 10_000;

const keyOf = (serverId: number, database: string | null) => `${serverId}\u0000${database}`;

/** A database's newest failed run (its error) and newest good one (SUCCEEDED or PARTIAL). */
type NewestRuns = { failed?: { error: string | null }; good?: { id: number; startedAt: Date; scheduleId: number | null } };

const CHART_DAYS = 14;
/** States an acknowledgement can settle. */
const PROBLEMS = new Set<DatabaseStatus>(["FAILING", "OVERDUE", "DEGRADED"]);

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

  constructor(
    private readonly deps: {
      prisma: PrismaClient;
      graceMs: number;
      now?: () => Date;
      events?: BackupEvents;
      /** The last health check of every server and storage target (server/observability/health-monitor.ts). */
      components?: () => ComponentHealth[];
    },
  ) {
    deps.events?.on((event) => {
      if (event.type === "CREATED") this.#createdSince++;
    });
  }

  async get(principal: Principal): Promise<Dashboard> {
    requireRole(principal, "VIEWER");
    const now = this.deps.now?.() ?? new Date();
    const [databases, running, recentFailures, totals, daily] = await Promise.all([
      this.#databases(now),
      this.#running(),
      this.#recentFailures(now),
      this.#totals(now),
      this.#daily(now),
    ]);
    return { generatedAt: now, databases, running, recentFailures, totals, daily, components: this.deps.components?.() ?? [] };
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
        serverLabels: entry.serverLabels,
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
        missingCopies: [],
        acknowledgement: null,
      };
    });
    const newest = await this.#newestRuns();
    this.#attachErrors(out, newest);
    await this.#attachCopies(out, newest);
    await this.#settle(out);
    const rank: Record<DatabaseStatus, number> = { OVERDUE: 0, FAILING: 1, DEGRADED: 2, NEVER: 3, OK: 4, ACKNOWLEDGED: 5, DROPPED: 6 };
    return out.sort(
      (a, b) => rank[a.status] - rank[b.status] || a.serverName.localeCompare(b.serverName) || (a.database ?? "").localeCompare(b.database ?? ""),
    );
  }

  /**
   * Problems that no longer need attention: a database the last health check did not find on its
   * (reachable) server is DROPPED; a problem an operator acknowledged, with no run since, is ACKNOWLEDGED.
   */
  async #settle(rows: DashboardDatabase[]): Promise<void> {
    const present = new Map<number, Set<string>>();
    for (const c of this.deps.components?.() ?? []) if (c.kind === "SERVER" && c.up && c.databases) present.set(c.id, new Set(c.databases));
    const problems = rows.filter((r) => r.database !== null && PROBLEMS.has(r.status));
    // One row per acknowledged database: all of them for the servers with a problem, whatever their number.
    const servers = [...new Set(problems.map((r) => r.serverId))];
    const acks = new Map(
      (servers.length ? await this.deps.prisma.databaseAcknowledgement.findMany({ where: { serverId: { in: servers } } }) : []).map((a) => [
        keyOf(a.serverId, a.database),
        a,
      ]),
    );
    for (const row of rows) {
      if (row.database === null) continue;
      if (present.get(row.serverId) && !present.get(row.serverId)!.has(row.database)) {
        row.status = "DROPPED";
        continue;
      }
      if (!PROBLEMS.has(row.status)) continue;
      const ack = acks.get(keyOf(row.serverId, row.database));
      if (ack && acknowledgementHolds(ack, [row.lastSuccessAt, row.lastFailureAt])) {
        row.status = "ACKNOWLEDGED";
        row.acknowledgement = { at: ack.acknowledgedAt, by: ack.acknowledgedBy, note: ack.note };
      }
    }
  }

  /**
   * The newest run of each database per final status, in one query: the latest start time per
   * (status, server, database) from a loose scan of the (status, serverId, database, startedAt)
   * index, joined back on that index for the row. Costs one index lookup per database and status,
   * whatever the history holds, and no statement grows with the number of databases.
   */
  async #newestRuns(): Promise<Map<string, NewestRuns>> {
    const rows = await this.deps.prisma.$queryRaw<
      Array<{ id: number; status: string; serverId: number; database: string; error: string | null; startedAt: Date; scheduleId: number | null }>
    >`
      SELECT STRAIGHT_JOIN b.id, b.status, b.serverId, b.\`database\`, b.error, b.startedAt, b.scheduleId FROM (
        SELECT status, serverId, \`database\`, MAX(startedAt) AS at FROM Backup
        WHERE status IN ('SUCCEEDED', 'PARTIAL', 'FAILED') AND serverId IS NOT NULL
        GROUP BY status, serverId, \`database\`
      ) m
      -- Left to itself the optimizer joins on (status, serverId): every row of the server per database.
      JOIN Backup b FORCE INDEX (Backup_status_serverId_database_startedAt_idx)
        ON b.status = m.status AND b.serverId = m.serverId AND b.\`database\` = m.\`database\` AND b.startedAt = m.at
      ORDER BY b.id DESC`;
    // The good one is the latest start of SUCCEEDED and PARTIAL (the dashboard's lastSuccessAt); a tie goes to the later record.
    const out = new Map<string, NewestRuns>();
    for (const r of rows) {
      const k = keyOf(Number(r.serverId), r.database);
      const entry = out.get(k) ?? {};
      if (r.status === "FAILED") entry.failed ??= { error: r.error };
      else if (!entry.good || r.startedAt > entry.good.startedAt)
        entry.good = { id: Number(r.id), startedAt: r.startedAt, scheduleId: r.scheduleId === null ? null : Number(r.scheduleId) };
      out.set(k, entry);
    }
    return out;
  }

  /** The error of the last failure, for the databases whose last finished run failed. */
  #attachErrors(rows: DashboardDatabase[], newest: Map<string, NewestRuns>): void {
    for (const row of rows) {
      if (row.lastFailureAt && (!row.lastSuccessAt || row.lastFailureAt > row.lastSuccessAt))
        row.lastError = newest.get(keyOf(row.serverId, row.database))?.failed?.error ?? null;
    }
  }

  /**
   * The copies of each database's newest good backup: a target it should be on (one it was
   * written to, or one its schedule names now) without an intact copy (a failed upload, or a copy
   * verification found CORRUPT or MISSING) makes an otherwise OK database DEGRADED.
   */
  async #attachCopies(rows: DashboardDatabase[], newest: Map<string, NewestRuns>): Promise<void> {
    const { prisma } = this.deps;
    const wanted = new Map<number, { row: DashboardDatabase; scheduleId: number | null }>();
    for (const row of rows) {
      const good = row.lastSuccessAt && row.database !== null ? newest.get(keyOf(row.serverId, row.database))?.good : undefined;
      if (good) wanted.set(good.id, { row, scheduleId: good.scheduleId });
    }
    if (!wanted.size) return;
    // Flat reads (no nested includes): the few targets and schedules once, the artifacts by backup id.
    const targets = new Map((await prisma.storageTarget.findMany({ select: { id: true, name: true } })).map((t) => [t.id, t]));
    const scheduleIds = [...new Set([...wanted.values()].flatMap((w) => (w.scheduleId === null ? [] : [w.scheduleId])))];
    const named = new Map<number, Array<{ storageTarget: { id: number; name: string } }>>();
    for (const link of scheduleIds.length ? await prisma.scheduleStorageTarget.findMany({ where: { scheduleId: { in: scheduleIds } } }) : []) {
      const target = targets.get(link.storageTargetId);
      if (target) named.set(link.scheduleId, [...(named.get(link.scheduleId) ?? []), { storageTarget: target }]);
    }
    const ids = [...wanted.keys()];
    const artifacts = new Map<number, BackupCopies["artifacts"]>();
    for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
      const found = await prisma.backupArtifact.findMany({
        where: { backupId: { in: ids.slice(i, i + LOOKUP_CHUNK) } },
        select: { backupId: true, storageTargetId: true, status: true, error: true },
      });
      for (const a of found) {
        const list = artifacts.get(a.backupId) ?? [];
        list.push({ ...a, storageTarget: a.storageTargetId === null ? null : (targets.get(a.storageTargetId) ?? null) });
        artifacts.set(a.backupId, list);
      }
    }
    for (const [id, { row, scheduleId }] of wanted) {
      row.missingCopies = copyProblems({
        artifacts: artifacts.get(id) ?? [],
        schedule: scheduleId === null ? null : { storageTargets: named.get(scheduleId) ?? [] },
      });
      if (row.missingCopies.length && row.status === "OK") row.status = "DEGRADED";
    }
  }

  #running(): Promise<Backup[]> {
    return this.deps.prisma.backup.findMany({ where: { status: { in: ["RUNNING", "PENDING"] } }, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: 100 });
  }

  #recentFailures(now: Date): Promise<Backup[]> {
    return this.deps.prisma.backup.findMany({
      where: { status: { in: ["FAILED", "PARTIAL"] }, createdAt: { gte: new Date(now.getTime() - 7 * DAY_MS) } },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: 10,
    });
  }

  async #totals(now: Date): Promise<Dashboard["totals"]> {
    const { prisma } = this.deps;
    const window = (ms: number) =>
      prisma.$queryRaw<Array<{ status: string; clean: number | bigint; n: number | bigint }>>`
        SELECT status, error IS NULL AS clean, COUNT(*) AS n FROM Backup WHERE createdAt >= ${new Date(now.getTime() - ms)} GROUP BY 1, 2`;
    const [day, week, scans] = await Promise.all([window(DAY_MS), window(7 * DAY_MS), this.#fullScans()]);
    const rows = (r: typeof day) => r.map((x) => ({ status: x.status, clean: Number(x.clean) === 1, n: Number(x.n) }));
    return {
      backups: scans.backups + this.#createdSince,
      backups24h: rows(day).reduce((n, r) => n + r.n, 0),
      successRate24h: successRate(tally(rows(day))),
      successRate7d: successRate(tally(rows(week))),
      storage: scans.storage,
    };
  }

  /** Runs per UTC day over the last 14 days, judged by outcome.ts like the cards. */
  async #daily(now: Date): Promise<DailyRuns[]> {
    const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - (CHART_DAYS - 1) * DAY_MS);
    const found = await this.deps.prisma.$queryRaw<Array<{ day: string; status: string; clean: number | bigint; n: number | bigint }>>`
      SELECT DATE_FORMAT(createdAt, '%Y-%m-%d') AS day, status, error IS NULL AS clean, COUNT(*) AS n
      FROM Backup WHERE createdAt >= ${from} GROUP BY 1, 2, 3 ORDER BY 1`;
    const days = new Map<string, Array<{ status: string; clean: boolean; n: number }>>();
    for (const r of found) {
      const list = days.get(r.day) ?? [];
      list.push({ status: r.status, clean: Number(r.clean) === 1, n: Number(r.n) });
      days.set(r.day, list);
    }
    return [...days].flatMap(([day, list]) => {
      const counts = tally(list);
      return counts.finished ? [{ day, ...counts, rate: successRate(counts) }] : [];
    });
  }

  /** The two totals that read whole tables (history size, storage use), cached for 30 s. */
  #fullScans(): Promise<{ backups: number; storage: StorageUsage[] }> {
    if (this.#storage && Date.now() - this.#storage.at < STORAGE_TTL_MS) return this.#storage.value;
    this.#createdSince = 0;
    const value = (async () => {
      const [total, targets, sums, binlogs] = await Promise.all([
        this.deps.prisma.$queryRaw<Array<{ n: bigint }>>`SELECT COUNT(*) AS n FROM Backup`,
        this.deps.prisma.storageTarget.findMany({ orderBy: { name: "asc" } }),
        this.deps.prisma.backupArtifact.groupBy({ by: ["storageTargetId"], where: { status: "STORED" }, _sum: { sizeBytes: true }, _count: { _all: true } }),
        this.deps.prisma.pitrArchive.findMany({ select: { storedBytes: true, storageTargetIds: true } }),
      ]);
      const storage = targets.map((target) => {
        const row = sums.find((s) => s.storageTargetId === target.id);
        // Binlog archives (point-in-time recovery) count in the totals of the targets that hold them.
        const archived = binlogs.filter((b) => (b.storageTargetIds as number[]).includes(target.id));
        const binlogBytes = archived.reduce((sum, b) => sum + b.storedBytes, 0n);
        return { target, bytes: (row?._sum.sizeBytes ?? 0n) + binlogBytes, objects: (row?._count._all ?? 0) + archived.length };
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
