import type { ArtifactOutcome, BackupOutcome, BackupsRepository, BackupWithArtifacts } from "../db/backups.repository.ts";
import type { PrismaClient } from "../db/client.ts";
import type { Restore, Server, StorageTarget } from "../db/generated/client.ts";
import type { Logger } from "../observability/logger.ts";
import type { RestoreEvents } from "../restore/events.ts";
import { dropDatabase } from "../restore/target-database.ts";
import { targetColumns, type TargetReport } from "../restore/target-state.ts";
import { MANIFEST_SUFFIX } from "../runner/artifact-key.ts";
import { connectionOf } from "../runner/connection-of.ts";
import type { BackupEvents } from "../runner/events.ts";
import type { Clock } from "../scheduler/clock.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { type CommittedCopy, committedCopy } from "./committed-copy.ts";

/** How long a row this instance just claimed is left alone by the sweep, in real time (see `#backups`). */
const JUST_CLAIMED_MS = 5_000;

/** What settling interrupted work needs. */
export type InterruptedWorkDeps = {
  prisma: PrismaClient;
  repo: BackupsRepository;
  storeFor: (target: StorageTarget) => ArtifactStore;
  secrets: SecretBox;
  backupEvents: BackupEvents;
  restoreEvents: RestoreEvents;
  logger: Logger;
  clock: Clock;
  instanceId: string;
  /** A backup or restore whose instance has not renewed it for this long belongs to a dead instance. */
  leaseMs: number;
  /** What runs (or waits to run) in this process now: never settled here. */
  live: { backup(id: number): boolean; restore(id: number): boolean; drill?(id: number): boolean };
};

/** What one pass settled, by id. */
export type SettledWork = { backups: number[]; restores: number[]; drills: number[] };

type RestoreRow = Restore & { server: Server | null };

/**
 * The one place where interrupted backups and restores end. A row is interrupted when it is
 * PENDING or RUNNING but nothing runs it: this instance's own rows that do not run in this
 * process (it restarted, or a run ended without recording its outcome), and other instances' rows
 * whose lease expired (the instance died). Used at start (`recover`), by the lease keeper's sweep,
 * and by cancel for a row no live process runs.
 *
 * An interrupted backup whose artifact and manifest were committed on a target (the manifest's
 * size and SHA-256 match the object there) is settled SUCCEEDED, or PARTIAL, with the figures of
 * its manifest: the dump was complete, only its record was not written. Otherwise it is FAILED
 * (CANCELLED when a cancel was requested), and its partial uploads, and any artifact left without
 * a valid manifest, are removed. An interrupted restore is FAILED (or CANCELLED) and the database
 * it had created is dropped. Every write is conditional on the row being as it was read, so two
 * instances never both settle one row, and a run that renews its lease meanwhile keeps it.
 */
export class InterruptedWork {
  readonly #log: Logger;

  constructor(private readonly deps: InterruptedWorkDeps) {
    this.#log = deps.logger.child({ component: "recovery" });
  }

  /**
   * At start: settles this instance's RUNNING backups, its PENDING and RUNNING restores (a previous
   * process left them) and other instances' expired ones. Returns what it settled.
   */
  async recover(): Promise<SettledWork> {
    // A PENDING backup is a job in the work queue (server/queue/claim.ts), not this process's: it stays queued.
    const settled = {
      backups: await this.#backups({ ownPending: false, others: true, atStart: true }),
      restores: await this.recoverRestores(),
      drills: await this.#drills({ others: true, atStart: true }),
    };
    if (settled.backups.length || settled.restores.length || settled.drills.length)
      this.#log.warn(settled, "settled backups, restores and drills interrupted by a previous stop");
    return settled;
  }

  /**
   * Interrupted restore drills end FAILED, and their scratch databases are dropped: at start, this
   * instance's RUNNING drills (a previous process left them); at start and at each sweep, drills
   * not running in this process whose lease (heartbeatAt, renewed by the LeaseKeeper of the
   * instance running them) expired, this instance's or (with `others`) another's that died.
   */
  async #drills(scope: { others: boolean; atStart: boolean }): Promise<number[]> {
    const { prisma, instanceId } = this.deps;
    const staleBefore = this.#staleBefore();
    const expired = { OR: [{ heartbeatAt: { lt: staleBefore } }, { heartbeatAt: null, startedAt: { lt: staleBefore } }] };
    const rows = await prisma.restoreDrill.findMany({
      where: {
        status: "RUNNING",
        OR: [
          scope.atStart ? { instanceId } : { instanceId, ...expired },
          ...(scope.others ? [{ AND: [{ OR: [{ instanceId: { not: instanceId } }, { instanceId: null }] }, expired] }] : []),
        ],
      },
      include: { server: true },
      orderBy: { id: "asc" },
    });
    const settled: number[] = [];
    for (const row of rows.filter((r) => !this.deps.live.drill?.(r.id))) {
      const finishedAt = this.deps.clock.now();
      const error =
        row.instanceId !== instanceId
          ? `interrupted: instance ${row.instanceId ?? "unknown"} stopped renewing this drill's lease (last heartbeat ${row.heartbeatAt?.toISOString() ?? "never"}); it is presumed dead`
          : scope.atStart
            ? "interrupted: SQLGuard stopped while this drill was running"
            : "interrupted: its run on this instance ended without recording an outcome";
      // Conditional on the lease as read: a drill whose instance renewed it meanwhile keeps running.
      const { count } = await prisma.restoreDrill.updateMany({
        where: { id: row.id, status: "RUNNING", heartbeatAt: row.heartbeatAt },
        data: { status: "FAILED", error, finishedAt, durationMs: Math.max(0, finishedAt.getTime() - row.startedAt.getTime()) },
      });
      if (count !== 1) continue;
      settled.push(row.id);
      this.#log.warn({ drillId: row.id, instanceId: row.instanceId }, "settled an interrupted restore drill");
      if (row.server) {
        try {
          await dropDatabase(connectionOf(row.server, this.deps.secrets), row.scratchDatabase);
          await prisma.restoreDrill.update({ where: { id: row.id }, data: { scratchDropped: true } });
        } catch (error) {
          this.#log.warn({ err: error, drillId: row.id }, "could not drop the scratch database of an interrupted drill");
        }
      }
      if (row.backupId !== null) {
        this.deps.restoreEvents.emit({
          type: "DRILL_FINISHED",
          drillId: row.id,
          backupId: row.backupId,
          sourceServerName: row.sourceServerName,
          database: row.database,
          status: "FAILED",
          restoreMs: null,
          error,
        });
      }
    }
    return settled;
  }

  /** At start, restores only (see `recover`); returns how many it settled. */
  async recoverRestores(): Promise<number[]> {
    return this.#restores({ ownPending: true, others: true });
  }

  /**
   * The lease keeper's pass: this instance's RUNNING rows that do not run in this process, and (with
   * `others`) other instances' rows whose lease expired.
   */
  async sweep(options: { others: boolean }): Promise<SettledWork> {
    return {
      backups: await this.#backups({ ownPending: false, atStart: false, ...options }),
      restores: await this.#restores({ ownPending: false, ...options }),
      drills: await this.#drills({ ...options, atStart: false }),
    };
  }

  /**
   * Cancel of a RUNNING backup: when no live process runs it (it is this instance's but does not run
   * here, or its lease expired), settles it now and returns true; false when a live run will see
   * the request at its next heartbeat (or the backup is not RUNNING).
   */
  async cancelBackup(id: number, by: string): Promise<boolean> {
    const row = await this.deps.repo.get(id);
    if (row?.status !== "RUNNING" || !this.#orphaned(row)) return false;
    return (await this.#settleBackup(row, `cancelled by ${by} while no SQLGuard process was running it`, true)) !== null;
  }

  /** Cancel of a RUNNING restore that no live process runs (see `cancelBackup`). */
  async cancelRestore(id: number, by: string): Promise<boolean> {
    const row = await this.deps.prisma.restore.findUnique({ where: { id }, include: { server: true } });
    if (row?.status !== "RUNNING" || !this.#orphaned(row, "restore")) return false;
    return this.#settleRestore(row, `cancelled by ${by} while no SQLGuard process was running it`, true);
  }

  #staleBefore(): Date {
    return new Date(this.deps.clock.now().getTime() - this.deps.leaseMs);
  }

  /** Not running in this process, and either this instance's or with an expired lease. */
  #orphaned(row: { id: number; instanceId: string | null; heartbeatAt: Date | null; createdAt: Date }, kind: "backup" | "restore" = "backup"): boolean {
    if (kind === "backup" ? this.deps.live.backup(row.id) : this.deps.live.restore(row.id)) return false;
    return row.instanceId === this.deps.instanceId || (row.heartbeatAt ?? row.createdAt) < this.#staleBefore();
  }

  async #backups(scope: { ownPending: boolean; others: boolean; atStart: boolean }): Promise<number[]> {
    const { atStart, ...find } = scope;
    const rows = await this.deps.repo.findInterrupted({ instanceId: this.deps.instanceId, staleBefore: this.#staleBefore(), ...find });
    const settled: number[] = [];
    // A row this instance claimed a moment ago (the work queue writes the claim's time in the
    // database's clock) may not be registered as running yet: the next sweep judges it.
    const claimedJustNow = (r: BackupWithArtifacts) =>
      !atStart &&
      r.instanceId === this.deps.instanceId &&
      r.heartbeatAt !== null &&
      Math.abs(this.deps.clock.now().getTime() - r.heartbeatAt.getTime()) < JUST_CLAIMED_MS;
    for (const row of rows.filter((r) => !this.deps.live.backup(r.id) && !claimedJustNow(r))) {
      try {
        if ((await this.#settleBackup(row, this.#why(row, "backup", atStart), row.cancelRequestedAt !== null)) !== null) settled.push(row.id);
      } catch (error) {
        // One row that cannot be settled now (the metadata database went away again) does not hold up the others.
        this.#log.warn({ err: error, backupId: row.id }, "could not settle an interrupted backup; the next sweep retries");
      }
    }
    return settled;
  }

  /** The reason recorded on an interrupted row; `atStart`: found by the recovery at start (this process is new). */
  #why(row: { status: string; instanceId: string | null; heartbeatAt: Date | null }, what: "backup" | "restore", atStart: boolean): string {
    if (row.instanceId !== this.deps.instanceId) {
      const last = row.heartbeatAt ? row.heartbeatAt.toISOString() : "never";
      return `interrupted: instance ${row.instanceId ?? "unknown"} stopped renewing this ${what}'s lease (last heartbeat ${last}); it is presumed dead`;
    }
    if (!atStart) return `interrupted: its run on this instance ended without recording an outcome`;
    return row.status === "PENDING"
      ? `interrupted: SQLGuard stopped before this ${what} started`
      : `interrupted: SQLGuard stopped while this ${what} was running`;
  }

  /**
   * Settles one interrupted backup (see the class); returns its new status, or null when someone
   * else settled or renewed it first.
   */
  async #settleBackup(row: BackupWithArtifacts, reason: string, cancelled: boolean): Promise<string | null> {
    const { prisma, storeFor } = this.deps;
    const ids = row.artifacts.flatMap((a) => (a.storageTargetId === null ? [] : [a.storageTargetId]));
    const targets = await prisma.storageTarget.findMany({ where: { id: { in: ids } } });
    const stores = new Map<number, ArtifactStore | Error>();
    for (const t of targets) {
      try {
        stores.set(t.id, storeFor(t));
      } catch (error) {
        stores.set(t.id, error as Error);
      }
    }
    // A PENDING backup never ran: nothing of it can be on a target.
    const copies = new Map<number, CommittedCopy>();
    if (row.status === "RUNNING") {
      for (const a of row.artifacts) {
        const store = a.storageTargetId === null ? undefined : stores.get(a.storageTargetId);
        if (!store) copies.set(a.id, { ok: false, problem: "its storage target was deleted", removeFinal: false });
        else if (store instanceof Error)
          copies.set(a.id, { ok: false, problem: `could not be checked after the interruption: ${store.message}`, removeFinal: false });
        else copies.set(a.id, await committedCopy(store, row.id, a.key));
      }
    }
    const outcome = outcomeOf(row, copies, reason, cancelled, this.deps.clock.now());
    const won = await this.deps.repo.settle(row.id, { status: row.status as "PENDING" | "RUNNING", heartbeatAt: row.heartbeatAt }, outcome);
    if (!won) return null;
    this.#log[outcome.status === "SUCCEEDED" ? "info" : "warn"](
      { backupId: row.id, status: outcome.status, instanceId: row.instanceId, err: outcome.error },
      "settled an interrupted backup",
    );
    for (const a of row.artifacts) {
      const copy = copies.get(a.id);
      const store = a.storageTargetId === null ? undefined : stores.get(a.storageTargetId);
      if (copy?.ok || !store || store instanceof Error || row.status !== "RUNNING") continue;
      await this.#removeLeftovers(store, a.key, copy?.removeFinal === true, row.id);
    }
    this.deps.backupEvents.emit({ type: "STATUS", backupId: row.id, status: outcome.status });
    return outcome.status;
  }

  /** Removes what an interrupted upload left (best effort; stale partials are swept later anyway). */
  async #removeLeftovers(store: ArtifactStore, key: string, final: boolean, backupId: number): Promise<void> {
    try {
      await store.discard(key);
      if (final) {
        await store.delete(key);
        await store.delete(key + MANIFEST_SUFFIX);
      }
    } catch (error) {
      this.#log.warn({ err: error, backupId, key }, "could not remove what an interrupted backup left on a target");
    }
  }

  async #restores(scope: { ownPending: boolean; others: boolean }): Promise<number[]> {
    const { prisma, instanceId } = this.deps;
    const staleBefore = this.#staleBefore();
    const expired = { OR: [{ heartbeatAt: { lt: staleBefore } }, { heartbeatAt: null, createdAt: { lt: staleBefore } }] };
    // A queued restore (PENDING, no instance) waits in the work queue: never settled here. A PENDING
    // one bound to an instance (restored with credentials) starts at once: older than a lease, it never started.
    const others = { instanceId: { not: instanceId } };
    const rows = await prisma.restore.findMany({
      where: {
        OR: [
          { instanceId, status: "RUNNING" },
          scope.ownPending ? { instanceId, status: "PENDING" } : { instanceId, status: "PENDING", createdAt: { lt: staleBefore } },
          ...(scope.others ? [{ status: { in: ["PENDING" as const, "RUNNING" as const] }, AND: [others, expired] }] : []),
        ],
      },
      include: { server: true },
      orderBy: { id: "asc" },
    });
    const settled: number[] = [];
    for (const row of rows.filter((r) => !this.deps.live.restore(r.id))) {
      try {
        if (await this.#settleRestore(row, this.#why(row, "restore", scope.ownPending), row.cancelRequestedAt !== null)) settled.push(row.id);
      } catch (error) {
        this.#log.warn({ err: error, restoreId: row.id }, "could not settle an interrupted restore; the next sweep retries");
      }
    }
    return settled;
  }

  /**
   * FAILED (or CANCELLED, when requested and the target is untouched) if still as read. Its target:
   * a database it created is dropped, the scratch copy of an overwrite that never reached the swap
   * too; a swap under way is left for a person (its targetDetail, saved before the swap, says what
   * to look for). Records what the target is left as.
   */
  async #settleRestore(row: RestoreRow, reason: string, cancelled: boolean): Promise<boolean> {
    const finishedAt = this.deps.clock.now();
    const untouched = row.targetState === null || row.targetState === "UNTOUCHED";
    const status = cancelled && untouched ? "CANCELLED" : "FAILED";
    const { count } = await this.deps.prisma.restore.updateMany({
      where: { id: row.id, status: row.status, heartbeatAt: row.heartbeatAt },
      data: {
        status,
        error: row.targetDetail && !untouched ? `${reason}; ${row.targetDetail}` : reason,
        finishedAt,
        durationMs: row.startedAt ? Math.max(0, finishedAt.getTime() - row.startedAt.getTime()) : null,
      },
    });
    if (count !== 1) return false;
    this.#log.warn({ restoreId: row.id, status, instanceId: row.instanceId }, "settled an interrupted restore");
    const report = row.server ? await this.#settleTarget(row, row.server) : null;
    if (report) await this.deps.prisma.restore.update({ where: { id: row.id }, data: targetColumns(report) });
    this.deps.restoreEvents.emit({ type: "RESTORE_STATUS", restoreId: row.id, status, serverName: row.serverName, database: row.database });
    return true;
  }

  /** Drops what an interrupted restore left to drop (see #settleRestore); null when there is nothing. */
  async #settleTarget(row: RestoreRow, server: Server): Promise<TargetReport | null> {
    const drop = row.createdDatabase ? row.database : (row.targetState ?? "UNTOUCHED") === "UNTOUCHED" && row.scratchDatabase ? row.scratchDatabase : null;
    if (drop === null) return null;
    const dropped = await dropDatabase(connectionOf(server, this.deps.secrets), drop).then(
      () => true,
      (error: unknown) => {
        this.#log.warn({ err: error, restoreId: row.id, database: drop }, "could not drop the database of an interrupted restore");
        return false;
      },
    );
    const what = row.createdDatabase ? `the new database ${JSON.stringify(drop)}` : `the scratch database ${JSON.stringify(drop)}`;
    return dropped
      ? { state: "UNTOUCHED", detail: `${row.createdDatabase ? "" : `${JSON.stringify(row.database)} was not changed; `}${what} was dropped` }
      : { state: row.createdDatabase ? "INCOMPLETE" : "UNTOUCHED", detail: `${what} holds part of the backup and could not be dropped: remove it by hand` };
  }
}

/**
 * The outcome of an interrupted backup from what its targets hold: SUCCEEDED or PARTIAL with the
 * figures of the (first) committed manifest; copies disagreeing with it on the SHA-256 do not
 * count. Nothing committed: FAILED, or CANCELLED when requested.
 */
export function outcomeOf(row: BackupWithArtifacts, copies: Map<number, CommittedCopy>, reason: string, cancelled: boolean, now: Date): BackupOutcome {
  const first = [...copies.values()].find((c): c is Extract<CommittedCopy, { ok: true }> => c.ok);
  if (!first) {
    return {
      status: cancelled ? "CANCELLED" : "FAILED",
      error: reason,
      finishedAt: now,
      artifacts: row.artifacts.flatMap((a) => (a.storageTargetId === null ? [] : [{ storageTargetId: a.storageTargetId, ok: false as const, error: reason }])),
    };
  }
  const m = first.manifest;
  const artifacts: ArtifactOutcome[] = [];
  const problems: string[] = [];
  for (const a of row.artifacts) {
    if (a.storageTargetId === null) continue;
    const copy = copies.get(a.id);
    if (copy?.ok && copy.manifest.artifact.sha256 === m.artifact.sha256) artifacts.push({ storageTargetId: a.storageTargetId, ok: true, bytes: copy.bytes });
    else {
      const problem = copy && !copy.ok ? copy.problem : "its manifest disagrees with the other targets' on the SHA-256";
      artifacts.push({ storageTargetId: a.storageTargetId, ok: false, error: problem });
      problems.push(`target ${a.storageTargetId}: ${problem}`);
    }
  }
  return {
    status: problems.length ? "PARTIAL" : "SUCCEEDED",
    error: problems.length ? problems.join("; ") : null,
    rawBytes: m.artifact.rawBytes,
    storedBytes: m.artifact.storedBytes,
    sha256: m.artifact.sha256,
    tool: m.dump.tool,
    serverVersion: m.server.version || null,
    position: m.position ?? null,
    tableStats: m.tableStats ?? null,
    finishedAt: new Date(m.finishedAt),
    artifacts,
  };
}
