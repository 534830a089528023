import type { PrismaClient } from "../db/client.ts";
import { isTransientDbError } from "../db/record-writer.ts";
import type { Logger } from "../observability/logger.ts";
import type { InterruptedWork } from "../recovery/interrupted-work.ts";
import type { Clock } from "./clock.ts";

/** What the lease keeper needs. */
export type LeaseDeps = {
  prisma: PrismaClient;
  /** The backups this process holds (queued or running), and where adopted ones go. */
  runner: { enqueue(ids: number[]): void; holds(id: number): boolean; held(): number[] };
  interrupted: Pick<InterruptedWork, "sweep">;
  /** The restore drills this process runs or has queued: their leases are renewed too. */
  drills?: { held(): number[] };
  logger: Logger;
  clock: Clock;
  instanceId: string;
  /** A backup whose instance has not renewed it for this long belongs to a dead instance. */
  leaseMs: number;
};

/** What one sweep did: interrupted backups, restores and restore drills settled, queued backups adopted. */
export type LeaseSweepResult = { settled: number[]; restores: number[]; drills: number[]; adopted: number[] };

const SWEEP_MAX_MS = 30_000;
const RENEW_BATCH = 1000;

/**
 * Leases that let several instances share one metadata database. A RUNNING backup's lease is its
 * heartbeatAt, renewed by the runner (the work queue's visibility timeout). A PENDING backup
 * belongs to no instance: whichever has a free slot claims it (server/queue/claim.ts). Every
 * instance sweeps: interrupted work (its own RUNNING rows that no longer run in this process, and
 * other instances' rows whose lease expired) is settled by InterruptedWork, then the runner makes
 * a claim pass.
 *
 * After an outage of the metadata database no instance could renew anything, so leases look
 * expired everywhere: until the database has been reachable again for one lease length, the
 * sweep leaves other instances' rows alone and gives them the time to renew.
 */
export class LeaseKeeper {
  readonly #log: Logger;
  #timers: Array<() => void> = [];
  /** Since when the metadata database answers again after failing (ms), or null when it fails now. */
  #reachableSince: number | null = Number.NEGATIVE_INFINITY;

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

  /**
   * Renews the lease of the queued (PENDING) backups this process's runner holds, and of the
   * restore drills it runs (a drill has no progress heartbeat of its own: restoring and comparing
   * run in child processes and the database).
   */
  async renew(): Promise<void> {
    const ids = this.deps.runner.held();
    const drills = this.deps.drills?.held() ?? [];
    await this.#observe(async () => {
      for (let i = 0; i < ids.length; i += RENEW_BATCH) {
        await this.deps.prisma.backup.updateMany({
          where: { id: { in: ids.slice(i, i + RENEW_BATCH) }, instanceId: this.deps.instanceId, status: "PENDING" },
          data: { heartbeatAt: this.deps.clock.now() },
        });
      }
      if (drills.length)
        await this.deps.prisma.restoreDrill.updateMany({
          where: { id: { in: drills }, instanceId: this.deps.instanceId, status: "RUNNING" },
          data: { heartbeatAt: this.deps.clock.now() },
        });
    });
  }

  /** Settles interrupted backups, restores and drills; adopts queued backups whose lease expired. */
  async sweep(): Promise<LeaseSweepResult> {
    const now = this.deps.clock.now();
    const others = this.#reachableSince !== null && now.getTime() - this.#reachableSince >= this.deps.leaseMs;
    const settled = await this.#observe(() => this.deps.interrupted.sweep({ others }));
    // A PENDING backup belongs to no instance (the work queue, server/queue/claim.ts): nothing to
    // adopt, the runner claims it when a slot is free. A claim pass here picks up what a settled
    // backup's server can run again.
    this.deps.runner.enqueue([]);
    return { settled: settled.backups, restores: settled.restores, drills: settled.drills, adopted: [] };
  }

  /** Runs a database call and notes whether the metadata database answered. */
  async #observe<T>(work: () => Promise<T>): Promise<T> {
    try {
      const result = await work();
      this.#reachableSince ??= this.deps.clock.now().getTime();
      return result;
    } catch (error) {
      if (isTransientDbError(error)) this.#reachableSince = null;
      throw error;
    }
  }
}
