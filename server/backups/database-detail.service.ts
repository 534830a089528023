import { requireRole, type Principal } from "../auth/roles.ts";
import type { PrismaClient } from "../db/client.ts";
import type { Engine, RestoreDrill, Server } from "../db/generated/client.ts";
import type { ArtifactStatus, DrillStatus } from "../db/generated/enums.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
import { loadCoverage } from "../scheduler/coverage.ts";
import { nextDue } from "../scheduler/due-times.ts";
import type { BackupsService } from "./backups.service.ts";
import { RECOVERY_POINT_STATUSES } from "./outcome.ts";

/** A database's copies on one storage target, over its whole history. */
export type TargetCopies = {
  /** Null for copies on a target that was deleted since. */
  storageTargetId: number | null;
  target: string;
  kind: string | null;
  /** Copies there now (STORED). */
  stored: number;
  storedBytes: bigint;
  newestStoredAt: Date | null;
  /** Copies that failed to upload, or that verification found CORRUPT or MISSING. */
  damaged: number;
  /** Copies retention (or an admin) removed. */
  deleted: number;
};

/** One recovery point on the RPO chart: when it was taken and how long after the one before. */
export type RpoPoint = { at: Date; backupId: number; gapSeconds: number | null };

/** One drill on the RTO chart: how long restoring took. */
export type RtoPoint = { at: Date; drillId: number; restoreMs: number; status: DrillStatus };

export type DatabaseDetail = {
  serverName: string;
  database: string;
  /** The server of that name now; null once deleted (its backups keep the name). */
  server: Server | null;
  engine: Engine | null;
  /** Backups of it ever recorded (their pages come from `backups`). */
  backupCount: number;
  copies: TargetCopies[];
  drills: RestoreDrill[];
  /** The shortest interval of the schedules covering it now (null when none does). */
  targetRpoSeconds: number | null;
  rpo: RpoPoint[];
  rto: RtoPoint[];
  /** Backups with a copy stored now: what it can be restored to (full backups only: no point-in-time recovery yet). */
  recoverable: { points: number; oldest: Date | null; newest: Date | null };
  /** Days the RPO and RTO series cover. */
  days: number;
};

/** A database the backup history knows, by server name (a deleted server's stay listed). */
export type KnownDatabase = { serverName: string; database: string; serverDeleted: boolean; backups: number; lastBackupAt: Date };

const DAY_MS = 86_400_000;
const MAX_POINTS = 1000;
/** Runs that made a recovery point when they ended (DELETED ones did too: retention removed them later). */
const POINT_STATUSES = [...RECOVERY_POINT_STATUSES, "DELETED"] as const;

/**
 * The per-database page: one database's backups, copies per target, drills and its RPO and RTO
 * over time, found by server name so that a deleted server's history stays readable.
 */
export class DatabaseDetailService {
  constructor(private readonly deps: { prisma: PrismaClient; backups: Pick<BackupsService, "list">; now?: () => Date }) {}

  /**
   * Everything about `serverName` / `database`. Throws a ValidationError naming the argument for
   * bad input, NotFoundError when neither a server of that name nor any backup of it exists.
   */
  async get(principal: Principal, args: { serverName: string; database: string; days?: number | null }): Promise<DatabaseDetail> {
    requireRole(principal, "VIEWER");
    const { serverName, database } = args;
    const days = args.days ?? 30;
    if (serverName.trim() === "" || serverName.length > 100) throw new ValidationError("serverName", "must be 1 to 100 characters");
    if (database.trim() === "" || database.length > 255) throw new ValidationError("database", "must be 1 to 255 characters");
    if (!Number.isInteger(days) || days < 1 || days > 366) throw new ValidationError("days", "must be between 1 and 366");

    const { prisma } = this.deps;
    const now = this.deps.now?.() ?? new Date();
    const since = new Date(now.getTime() - days * DAY_MS);
    const where = { serverName, database };
    const [server, newest, totalCount, copies, drills, rpo, rto, recoverable] = await Promise.all([
      prisma.server.findUnique({ where: { name: serverName } }),
      prisma.backup.findFirst({ where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], select: { engine: true } }),
      prisma.backup.count({ where }),
      this.#copies(serverName, database),
      prisma.restoreDrill.findMany({ where: { sourceServerName: serverName, database }, orderBy: { id: "desc" }, take: 20 }),
      this.#rpo(serverName, database, since),
      prisma.restoreDrill.findMany({
        where: { sourceServerName: serverName, database, finishedAt: { gte: since }, restoreMs: { not: null } },
        orderBy: { finishedAt: "asc" },
        take: MAX_POINTS,
        select: { id: true, finishedAt: true, restoreMs: true, status: true },
      }),
      prisma.backup.aggregate({
        where: { ...where, status: { in: [...RECOVERY_POINT_STATUSES] }, artifacts: { some: { status: "STORED" } } },
        _count: { _all: true },
        _min: { startedAt: true },
        _max: { startedAt: true },
      }),
    ]);
    if (!server && totalCount === 0) throw new NotFoundError("database", `${serverName} / ${database}`);
    return {
      serverName,
      database,
      server,
      engine: newest?.engine ?? server?.engine ?? null,
      backupCount: totalCount,
      copies,
      drills,
      targetRpoSeconds: server ? await this.#targetRpo(server.id, database, now) : null,
      rpo,
      rto: rto.map((d) => ({ at: d.finishedAt!, drillId: d.id, restoreMs: d.restoreMs!, status: d.status })),
      recoverable: { points: recoverable._count._all, oldest: recoverable._min.startedAt, newest: recoverable._max.startedAt },
      days,
    };
  }

  /**
   * A page of the database's backups, newest first (the keyset cursor of `BackupsService.list`).
   * Throws a ValidationError naming `first` past 200, or `after` for a cursor it did not hand out.
   */
  backups(principal: Principal, of: { serverName: string; database: string }, page: { first: number; after?: string | null }) {
    requireRole(principal, "VIEWER");
    if (!Number.isInteger(page.first) || page.first < 1 || page.first > 200) throw new ValidationError("first", "must be between 1 and 200");
    return this.deps.backups.list({ serverName: of.serverName, database: of.database }, { first: page.first, after: page.after });
  }

  /** Every (server name, database) with backups, newest first; `serverName` narrows to one name (exact). */
  async known(principal: Principal, serverName?: string | null): Promise<KnownDatabase[]> {
    requireRole(principal, "VIEWER");
    const { prisma } = this.deps;
    const [groups, servers] = await Promise.all([
      prisma.backup.groupBy({
        by: ["serverName", "database"],
        where: serverName != null ? { serverName } : {},
        _count: { _all: true },
        _max: { createdAt: true },
      }),
      prisma.server.findMany({ select: { name: true } }),
    ]);
    const live = new Set(servers.map((s) => s.name));
    return groups
      .map((g) => ({
        serverName: g.serverName,
        database: g.database,
        serverDeleted: !live.has(g.serverName),
        backups: g._count._all,
        lastBackupAt: g._max.createdAt!,
      }))
      .sort((a, b) => a.serverName.localeCompare(b.serverName) || a.database.localeCompare(b.database));
  }

  /** The database's artifacts per target and status, folded into one row per target. */
  async #copies(serverName: string, database: string): Promise<TargetCopies[]> {
    const { prisma } = this.deps;
    const [groups, targets] = await Promise.all([
      prisma.backupArtifact.groupBy({
        by: ["storageTargetId", "status"],
        where: { backup: { serverName, database } },
        _count: { _all: true },
        _sum: { sizeBytes: true },
        _max: { storedAt: true },
      }),
      prisma.storageTarget.findMany({ select: { id: true, name: true, kind: true } }),
    ]);
    const rows = new Map<number | null, TargetCopies>();
    for (const g of groups) {
      const target = targets.find((t) => t.id === g.storageTargetId);
      const row = rows.get(g.storageTargetId) ?? {
        storageTargetId: g.storageTargetId,
        target: target?.name ?? "(deleted target)",
        kind: target?.kind ?? null,
        stored: 0,
        storedBytes: 0n,
        newestStoredAt: null,
        damaged: 0,
        deleted: 0,
      };
      const status: ArtifactStatus = g.status;
      if (status === "STORED") {
        row.stored += g._count._all;
        row.storedBytes += g._sum.sizeBytes ?? 0n;
        row.newestStoredAt = g._max.storedAt;
      } else if (status === "DELETED") row.deleted += g._count._all;
      else if (status !== "PENDING") row.damaged += g._count._all;
      rows.set(g.storageTargetId, row);
    }
    return [...rows.values()].sort((a, b) => a.target.localeCompare(b.target));
  }

  /** Recovery points since `since` (and the one before, for the first gap), oldest first. */
  async #rpo(serverName: string, database: string, since: Date): Promise<RpoPoint[]> {
    const { prisma } = this.deps;
    const base = { serverName, database, status: { in: [...POINT_STATUSES] }, startedAt: { not: null } };
    const [before, inWindow] = await Promise.all([
      prisma.backup.findFirst({ where: { ...base, startedAt: { lt: since } }, orderBy: { startedAt: "desc" }, select: { id: true, startedAt: true } }),
      prisma.backup.findMany({
        where: { ...base, startedAt: { gte: since } },
        orderBy: { startedAt: "asc" },
        take: MAX_POINTS,
        select: { id: true, startedAt: true },
      }),
    ]);
    let previous = before?.startedAt ?? null;
    return inWindow.map((b) => {
      const at = b.startedAt!;
      const gapSeconds = previous ? Math.round((at.getTime() - previous.getTime()) / 1000) : null;
      previous = at;
      return { at, backupId: b.id, gapSeconds };
    });
  }

  /** The shortest interval of the enabled schedules that cover this database now. */
  async #targetRpo(serverId: number, database: string, now: Date): Promise<number | null> {
    const coverage = await loadCoverage(this.deps.prisma, { serverId });
    const entry = coverage.find((c) => c.database === database) ?? coverage.find((c) => c.database === null);
    let best: number | null = null;
    for (const s of entry?.schedules ?? []) {
      try {
        const a = nextDue(s.spec, now);
        const b = a ? nextDue(s.spec, a) : null;
        const seconds = a && b ? Math.round((b.getTime() - a.getTime()) / 1000) : null;
        if (seconds !== null && (best === null || seconds < best)) best = seconds;
      } catch {
        // An expression that no longer parses has no interval.
      }
    }
    return best;
  }
}
