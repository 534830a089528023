import type { PrismaClient } from "../db/client.ts";
import type { StorageTarget } from "../db/generated/client.ts";
import type { Logger } from "../observability/logger.ts";
import type { BackupEvents } from "../runner/events.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import type { Clock } from "./clock.ts";

/** What the lease keeper needs. */
export type LeaseDeps = {
  prisma: PrismaClient;
  runner: { enqueue(ids: number[]): void };
  storeFor: (target: StorageTarget) => ArtifactStore;
  events: BackupEvents;
  logger: Logger;
  clock: Clock;
  instanceId: string;
  /** A backup whose instance has not renewed it for this long belongs to a dead instance. */
  leaseMs: number;
};

/** What one sweep did: backups failed (their RUNNING lease expired) and backups adopted (PENDING). */
export type LeaseSweepResult = { failed: number[]; adopted: number[] };

const SWEEP_MAX_MS = 30_000;
const ADOPT_BATCH = 500;

/**
 * Leases that let several instances share one metadata database. A RUNNING backup's lease is its
 * heartbeatAt, renewed by the runner; a PENDING backup's lease is the same column, renewed here by
 * the instance that queued it (it waits in that instance's runner for a slot). Every instance
 * sweeps: a RUNNING backup of another instance whose lease expired is failed as interrupted and its
 * partial upload removed (the semantics of BackupsRepository.failInterrupted, without failing this
 * instance's own work), and a PENDING one is adopted and run here. So when an instance dies, the
 * others take over its queue and free its schedules from the overlap check.
 */
export class LeaseKeeper {
  readonly #log: Logger;
  #timers: Array<() => void> = [];

  constructor(private readonly deps: LeaseDeps) {
    this.#log = deps.logger.child({ component: "leases" });
  }

  /** Renews every leaseMs/4 and sweeps every leaseMs/2 (at most every 30 s). */
  start(): void {
    const { clock, leaseMs } = this.deps;
    const guard = (what: string, work: () => Promise<unknown>) => () => void work().catch((error: unknown) => this.#log.warn({ err: error }, what));
    this.#timers = [
      clock.every(
        Math.max(250, leaseMs / 4),
        guard("lease renewal failed", () => this.renew()),
      ),
      clock.every(
        Math.max(500, Math.min(SWEEP_MAX_MS, leaseMs / 2)),
        guard("lease sweep failed", () => this.sweep()),
      ),
    ];
  }

  stop(): void {
    for (const stop of this.#timers) stop();
    this.#timers = [];
  }

  /** Renews the lease of this instance's queued (PENDING) backups. */
  async renew(): Promise<void> {
    await this.deps.prisma.backup.updateMany({ where: { instanceId: this.deps.instanceId, status: "PENDING" }, data: { heartbeatAt: this.deps.clock.now() } });
  }

  /** Fails other instances' RUNNING backups with an expired lease; adopts their stale PENDING ones. */
  async sweep(): Promise<LeaseSweepResult> {
    const now = this.deps.clock.now();
    const staleBefore = new Date(now.getTime() - this.deps.leaseMs);
    const result = { failed: await this.#failExpired(now, staleBefore), adopted: await this.#adoptQueued(now, staleBefore) };
    if (result.failed.length) this.#log.warn({ backups: result.failed }, "failed running backups whose instance stopped renewing their lease");
    if (result.adopted.length) this.#log.warn({ backups: result.adopted }, "adopted queued backups of an instance that stopped renewing their lease");
    return result;
  }

  async #failExpired(now: Date, staleBefore: Date): Promise<number[]> {
    const { prisma, instanceId } = this.deps;
    const rows = await prisma.backup.findMany({
      where: {
        status: "RUNNING",
        AND: [
          { OR: [{ instanceId: null }, { instanceId: { not: instanceId } }] },
          { OR: [{ heartbeatAt: { lt: staleBefore } }, { heartbeatAt: null, createdAt: { lt: staleBefore } }] },
        ],
      },
      select: { id: true, instanceId: true, heartbeatAt: true, artifacts: { select: { storageTargetId: true, key: true } } },
    });
    const failed: number[] = [];
    for (const row of rows) {
      const last = row.heartbeatAt ? row.heartbeatAt.toISOString() : "never";
      const error = `interrupted: instance ${row.instanceId ?? "unknown"} stopped renewing this backup's lease (last heartbeat ${last}); it is presumed dead`;
      const { count } = await prisma.backup.updateMany({
        where: { id: row.id, status: "RUNNING", heartbeatAt: row.heartbeatAt },
        data: { status: "FAILED", error, finishedAt: now },
      });
      if (count !== 1) continue;
      await prisma.backupArtifact.updateMany({ where: { backupId: row.id, status: "PENDING" }, data: { status: "FAILED", error } });
      failed.push(row.id);
      this.deps.events.emit({ type: "STATUS", backupId: row.id, status: "FAILED" });
      await this.#discardPartials(row.id, row.artifacts);
    }
    return failed;
  }

  async #adoptQueued(now: Date, staleBefore: Date): Promise<number[]> {
    const { prisma, instanceId } = this.deps;
    const rows = await prisma.backup.findMany({
      where: {
        status: "PENDING",
        AND: [
          { OR: [{ instanceId: null }, { instanceId: { not: instanceId } }] },
          { OR: [{ heartbeatAt: { lt: staleBefore } }, { heartbeatAt: null, createdAt: { lt: staleBefore } }] },
        ],
      },
      select: { id: true, instanceId: true },
      orderBy: { id: "asc" },
      take: ADOPT_BATCH,
    });
    const adopted: number[] = [];
    for (const row of rows) {
      const { count } = await prisma.backup.updateMany({
        where: { id: row.id, status: "PENDING", instanceId: row.instanceId },
        data: { instanceId, heartbeatAt: now },
      });
      if (count === 1) adopted.push(row.id);
    }
    if (adopted.length) this.deps.runner.enqueue(adopted);
    return adopted;
  }

  /** Removes what the dead instance's interrupted uploads left (best effort; stale partials are swept later anyway). */
  async #discardPartials(backupId: number, artifacts: Array<{ storageTargetId: number | null; key: string }>): Promise<void> {
    const ids = artifacts.flatMap((a) => (a.storageTargetId === null ? [] : [a.storageTargetId]));
    const targets = await this.deps.prisma.storageTarget.findMany({ where: { id: { in: ids } } });
    for (const a of artifacts) {
      const target = targets.find((t) => t.id === a.storageTargetId);
      if (!target) continue;
      await Promise.resolve()
        .then(() => this.deps.storeFor(target).discard(a.key))
        .catch((error: unknown) => this.#log.warn({ err: error, backupId, target: target.name }, "could not remove a partial artifact"));
    }
  }
}
