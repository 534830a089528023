import { requireRole, type Principal } from "../auth/roles.ts";
import type { PrismaClient } from "../db/client.ts";
import type { StorageTarget } from "../db/generated/client.ts";
import { ValidationError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { trimBinlogArchives } from "./binlog-trim.ts";
import type { BackupEvents } from "../runner/events.ts";
import type { Clock } from "../scheduler/clock.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { applyDeletion, type SweepCounts } from "./apply-deletion.ts";
import { ArtifactPinnedError, describePins, livePins } from "./artifact-pins.ts";
import { planRetention, type DeletionKind, type PlannedGroup, type PlannedItem, type SweepScope } from "./sweep-plan.ts";
import { findUnknownObjects } from "./unknown-objects.ts";

/** What the sweeper needs. */
export type SweeperDeps = {
  prisma: PrismaClient;
  storeFor: (target: StorageTarget) => ArtifactStore;
  events: BackupEvents;
  logger: Logger;
  clock: Clock;
  /** How long FAILED / CANCELLED / SKIPPED runs stay before they and their leftovers are removed. */
  failedGraceMs: number;
  /** The full sweep (with the unknown-object report) runs this often. */
  intervalMs: number;
  /**
   * Automatic repair (SQLGUARD_AUTO_REPAIR_HOURS): after each full sweep, PARTIAL backups that
   * finished less than `maxAgeMs` ago get their missing copies copied (server/backups/repair.service.ts).
   */
  autoRepair?: { maxAgeMs: number; repair: (backupId: number) => Promise<{ repaired: string[]; failed: Array<{ target: string; error: string }> }> };
};

/**
 * One deletion a sweep made (or, in a dry run, would make); a storage failure leaves the record as
 * it was, and so does a pin (`pinnedBy`: a restore, verification or drill is reading the artifact).
 */
export type SweepDeletion = {
  backupId: number;
  storageTargetId: number;
  serverName: string;
  database: string;
  kind: DeletionKind;
  reasons: string[];
  done: boolean;
  error: string | null;
  pinnedBy: string | null;
};
/** An object of a target that no record knows, as a sweep reports it. */
export type UnknownObjectReport = { storageTargetId: number; storageTargetName: string; key: string; bytes: number; modifiedAt: Date };
/** What a sweep did. */
export type SweepSummary = SweepCounts & {
  dryRun: boolean;
  startedAt: Date;
  finishedAt: Date;
  groups: number;
  evaluated: number;
  deletions: SweepDeletion[];
  failures: number;
  /** Deletions put off because their artifact was pinned (kept; the next sweep tries again). */
  pinned: number;
  unknownObjectCount: number;
  unknownObjects: UnknownObjectReport[];
};
/** What retentionPreview returns: the plan of one rule, exactly as the next sweep would apply it. */
export type RetentionPreview = { scheduleId: number; storageTargetId: number; evaluatedAt: Date; note: string | null; groups: PlannedGroup[] };

const TERMINAL = new Set(["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"]);

/**
 * Applies the retention rules: per schedule x storage target x server x database, the pure
 * selection decides, then each deletion removes the artifact and its manifest from the target
 * before the record changes (artifact DELETED, backup DELETED once no copy is left; failed runs
 * removed with their leftovers). An artifact a restore, verification or drill has pinned is kept
 * and reported (`pinnedBy`); the next sweep tries again. Sweeps run one at a time on this instance: after each finished
 * backup (its group only), every `intervalMs` (everything, plus the unknown-object report), and on
 * demand. Several instances may sweep at once: every step is idempotent and conditional.
 */
export class RetentionSweeper {
  readonly #log: Logger;
  readonly #pending = new Set<string>();
  #chain: Promise<unknown> = Promise.resolve();
  #stopTimer: (() => void) | null = null;

  constructor(private readonly deps: SweeperDeps) {
    this.#log = deps.logger.child({ component: "retention" });
  }

  /** Starts the interval sweep and the after-backup sweeps. */
  start(): void {
    this.#stopTimer = this.deps.clock.every(
      this.deps.intervalMs,
      () =>
        void this.sweep({ scanUnknown: true })
          .catch((error: unknown) => this.#log.error({ err: error }, "retention sweep failed"))
          .then(() => this.repairRecent())
          .catch((error: unknown) => this.#log.error({ err: error }, "automatic repair failed")),
    );
  }

  /**
   * Repairs the PARTIAL backups that finished within the auto-repair window (none without one),
   * oldest first, one at a time; each attempt is logged. Returns how many became complete.
   */
  async repairRecent(): Promise<number> {
    const auto = this.deps.autoRepair;
    if (!auto || auto.maxAgeMs <= 0) return 0;
    const since = new Date(this.deps.clock.now().getTime() - auto.maxAgeMs);
    const partial = await this.deps.prisma.backup.findMany({
      where: { status: "PARTIAL", finishedAt: { gte: since } },
      select: { id: true },
      orderBy: { id: "asc" },
      take: 100,
    });
    let complete = 0;
    for (const { id } of partial) {
      try {
        const result = await auto.repair(id);
        if (result.failed.length === 0) complete++;
        this.#log.info({ backupId: id, repaired: result.repaired, failed: result.failed }, "automatic repair of a partial backup");
      } catch (error) {
        this.#log.warn({ err: error, backupId: id }, "automatic repair of a partial backup failed");
      }
    }
    return complete;
  }

  /** Stops sweeping; resolves once the sweep under way (if any) has ended. */
  async stop(): Promise<void> {
    this.#stopTimer?.();
    this.#stopTimer = null;
    await this.#chain;
  }

  /** The BackupEvents hook: once a backup of a schedule ends, sweeps its group (coalesced). */
  onBackupEvent(event: { type: string; backupId: number; status?: string }): void {
    if (!this.#stopTimer || event.type !== "STATUS" || !TERMINAL.has(event.status ?? "")) return;
    void this.#afterBackup(event.backupId).catch((error: unknown) =>
      this.#log.warn({ err: error, backupId: event.backupId }, "retention sweep after a backup failed"),
    );
  }

  /** What the next sweep would do for one rule, with every decision's reasons. Viewer role. */
  async preview(principal: Principal, scheduleId: number, storageTargetId: number): Promise<RetentionPreview> {
    requireRole(principal, "VIEWER");
    const rule = await this.deps.prisma.retentionRule.findUnique({
      where: { scheduleId_storageTargetId: { scheduleId, storageTargetId } },
      include: { storageTarget: true },
    });
    if (!rule) throw new ValidationError("storageTargetId", `schedule ${scheduleId} has no retention rule for storage target ${storageTargetId}`);
    const evaluatedAt = this.deps.clock.now();
    if (!rule.storageTarget.enabled)
      return { scheduleId, storageTargetId, evaluatedAt, note: `storage target ${rule.storageTarget.name} is disabled: sweeps leave it alone`, groups: [] };
    const groups = await planRetention(this.deps.prisma, { scheduleId, storageTargetId }, evaluatedAt, this.deps.failedGraceMs);
    return { scheduleId, storageTargetId, evaluatedAt, note: null, groups };
  }

  /** runRetention: a sweep now (optionally a dry run, optionally of one schedule and/or target). Operator role. */
  async run(principal: Principal, input: { dryRun?: boolean | null; scheduleId?: number | null; storageTargetId?: number | null }): Promise<SweepSummary> {
    requireRole(principal, "OPERATOR");
    const scope = { scheduleId: input.scheduleId ?? undefined, storageTargetId: input.storageTargetId ?? undefined };
    return this.sweep({ scope, dryRun: input.dryRun ?? false, scanUnknown: true });
  }

  /** Plans and applies one sweep, after the one under way (if any). */
  sweep(options: { scope?: SweepScope; dryRun?: boolean; scanUnknown?: boolean } = {}): Promise<SweepSummary> {
    const run = this.#chain.then(() => this.#sweep(options.scope ?? {}, options.dryRun ?? false, options.scanUnknown ?? false));
    this.#chain = run.catch(() => {});
    return run;
  }

  async #afterBackup(backupId: number): Promise<void> {
    const b = await this.deps.prisma.backup.findUnique({ where: { id: backupId }, select: { scheduleId: true, serverId: true, database: true } });
    if (!b?.scheduleId) return;
    const scope: SweepScope = { scheduleId: b.scheduleId, serverId: b.serverId ?? undefined, database: b.database };
    const key = JSON.stringify(scope);
    if (this.#pending.has(key)) return;
    this.#pending.add(key);
    const run = this.#chain.then(() => {
      this.#pending.delete(key);
      return this.#sweep(scope, false, false);
    });
    this.#chain = run.catch(() => {});
    await run;
  }

  async #sweep(scope: SweepScope, dryRun: boolean, scanUnknown: boolean): Promise<SweepSummary> {
    const { prisma, clock } = this.deps;
    const startedAt = clock.now();
    const groups = await planRetention(prisma, scope, startedAt, this.deps.failedGraceMs);
    const targets = new Map((await prisma.storageTarget.findMany({ where: { enabled: true } })).map((t) => [t.id, t]));
    const summary: SweepSummary = {
      dryRun,
      startedAt,
      finishedAt: startedAt,
      groups: groups.length,
      evaluated: 0,
      deletions: [],
      artifactsDeleted: 0,
      backupsDeleted: 0,
      recordsRemoved: 0,
      failures: 0,
      pinned: 0,
      unknownObjectCount: 0,
      unknownObjects: [],
    };
    for (const group of groups) {
      summary.evaluated += group.items.length;
      for (const item of group.items.filter((i) => i.action === "DELETE")) summary.deletions.push(await this.#delete(group, item, targets, summary, dryRun));
    }
    if (scanUnknown) await this.#reportUnknown(scope, groups, targets, summary);
    // Binlog archives before the oldest kept dump of each server with archives are of no use any more.
    if (!dryRun) {
      const servers = await prisma.pitrArchive.findMany({ distinct: ["serverId"], select: { serverId: true } });
      for (const { serverId } of servers) {
        const trimmed = await trimBinlogArchives(prisma, serverId, this.deps.storeFor).catch(() => []);
        if (trimmed.length) this.#log.info({ serverId, files: trimmed.length }, "binlog archives no kept dump needs were deleted");
      }
    }
    summary.finishedAt = clock.now();
    if (summary.deletions.length || summary.unknownObjectCount) {
      const { deletions, unknownObjects, ...counts } = summary;
      this.#log.info({ ...counts, deletions: deletions.length }, dryRun ? "retention dry run" : "retention sweep");
    }
    return summary;
  }

  async #delete(group: PlannedGroup, item: PlannedItem, targets: Map<number, StorageTarget>, counts: SweepSummary, dryRun: boolean): Promise<SweepDeletion> {
    const deletion: SweepDeletion = {
      backupId: item.backupId,
      storageTargetId: group.storageTargetId,
      serverName: group.serverName,
      database: group.database,
      kind: item.kind,
      reasons: item.reasons,
      done: false,
      error: null,
      pinnedBy: null,
    };
    if (dryRun) {
      // Pins expire on the wall clock (they are leases), not on the sweep's clock.
      const pins = item.artifact ? await livePins(this.deps.prisma, [item.artifact.id]) : [];
      if (pins.length) deletion.pinnedBy = describePins(pins);
      return deletion;
    }
    try {
      await applyDeletion({ ...this.deps, targets, now: this.deps.clock.now() }, group.storageTargetId, item, counts);
      deletion.done = true;
    } catch (error) {
      if (error instanceof ArtifactPinnedError) {
        deletion.pinnedBy = describePins(error.pins);
        counts.pinned++;
        this.#log.info({ backupId: item.backupId, target: group.storageTargetName, pinnedBy: deletion.pinnedBy }, "retention kept a pinned artifact");
        return deletion;
      }
      deletion.error = (error as Error).message;
      counts.failures++;
      this.#log.warn({ err: error, backupId: item.backupId, target: group.storageTargetName }, "retention could not delete a backup; retrying next sweep");
    }
    return deletion;
  }

  /** Unknown objects of the targets in scope (every enabled target for an unscoped sweep). */
  async #reportUnknown(scope: SweepScope, groups: PlannedGroup[], targets: Map<number, StorageTarget>, summary: SweepSummary): Promise<void> {
    const unscoped = scope.scheduleId === undefined && scope.storageTargetId === undefined;
    const ids = unscoped
      ? [...targets.keys()]
      : scope.storageTargetId !== undefined
        ? [scope.storageTargetId]
        : [...new Set(groups.map((g) => g.storageTargetId))];
    for (const id of ids) {
      const target = targets.get(id);
      if (!target) continue;
      try {
        const found = await findUnknownObjects(this.deps.prisma, id, this.deps.storeFor(target));
        summary.unknownObjectCount += found.count;
        for (const o of found.sample)
          summary.unknownObjects.push({ storageTargetId: id, storageTargetName: target.name, key: o.key, bytes: o.bytes, modifiedAt: o.modifiedAt });
        if (found.count)
          this.#log.warn(
            { target: target.name, count: found.count, sample: found.sample.slice(0, 5).map((o) => o.key) },
            "objects no backup record knows (reported, never deleted)",
          );
      } catch (error) {
        this.#log.warn({ err: error, target: target.name }, "could not list a storage target for unknown objects");
      }
    }
  }
}
