import type { PrismaClient } from "../db/client.ts";
import type { Logger } from "../observability/logger.ts";

export type LeaderLeaseDeps = {
  prisma: PrismaClient;
  logger: Logger;
  /** The Lease row's name: one duty (e.g. "scheduler"). */
  name: string;
  /** This instance (SQLGUARD_INSTANCE_ID). */
  holder: string;
  /** A holder that has not renewed for this long loses the lease to the next instance that asks. */
  leaseMs: number;
  /** Told when this instance takes the lease (true) or loses it (false); with `takeOver` when it took it from a live cluster. */
  onChange: (held: boolean, takeOver?: TakeOver) => void;
};

/**
 * The lease was taken over from another holder whose lease had expired less than one lease
 * length before (it stopped renewing while this instance was up), not found long expired (every
 * instance was down). `renewedAt`: the previous holder's last renewal, in the metadata database's
 * clock; the duty was done by nobody from then to the take-over.
 */
export type TakeOver = { from: string; renewedAt: Date };

/**
 * A duty only one instance does at a time (firing the schedules' ticks, sweeping retention): the
 * holder renews its row in `Lease` every leaseMs/3; any other instance takes the row over in the
 * same statement once `expiresAt` has passed. A holder that could not renew for most of a lease
 * (the metadata database is unreachable) gives the duty up locally before another can take it.
 */
export class LeaderLease {
  readonly #log: Logger;
  #held = false;
  #renewedAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #busy = false;

  constructor(private readonly deps: LeaderLeaseDeps) {
    this.#log = deps.logger.child({ component: "leader-lease", lease: deps.name });
  }

  get held(): boolean {
    return this.#held;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.renew(), Math.max(200, Math.floor(this.deps.leaseMs / 3)));
    this.#timer.unref();
    void this.renew();
  }

  /** Stops renewing and, if held, hands the lease back (expires it now) so another instance takes over at once. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (!this.#held) return;
    this.#set(false);
    await this.deps.prisma.$executeRaw`
      UPDATE Lease SET expiresAt = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE name = ${this.deps.name} AND holder = ${this.deps.holder}`.catch(() => {});
  }

  /** One renewal (or take-over attempt); returns whether this instance holds the lease now. */
  async renew(): Promise<boolean> {
    if (this.#busy) return this.#held;
    this.#busy = true;
    const { prisma, name, holder, leaseMs } = this.deps;
    try {
      // What this instance takes over from, if it gets the lease now.
      const [before] = this.#held
        ? []
        : await prisma.$queryRaw<Array<{ holder: string; expiresAt: Date; now: Date }>>`
            SELECT holder, expiresAt, UTC_TIMESTAMP(3) AS now FROM Lease WHERE name = ${name}`;
      // MariaDB and MySQL assign left to right: `expiresAt` sees the `holder` just written.
      await prisma.$executeRaw`
        INSERT INTO Lease (name, holder, expiresAt) VALUES (${name}, ${holder}, UTC_TIMESTAMP(3) + INTERVAL ${leaseMs * 1000} MICROSECOND)
        ON DUPLICATE KEY UPDATE
          holder = IF(holder = VALUES(holder) OR expiresAt < UTC_TIMESTAMP(3), VALUES(holder), holder),
          expiresAt = IF(holder = VALUES(holder), VALUES(expiresAt), expiresAt)`;
      const [row] = await prisma.$queryRaw<Array<{ holder: string }>>`SELECT holder FROM Lease WHERE name = ${name}`;
      const mine = row?.holder === holder;
      if (mine) this.#renewedAt = Date.now();
      const live = before && before.expiresAt.getTime() > before.now.getTime() - leaseMs;
      this.#set(mine, live ? { from: before.holder, renewedAt: new Date(before.expiresAt.getTime() - leaseMs) } : undefined);
    } catch (error) {
      this.#log.warn({ err: error }, "could not renew the lease");
      // Given up before another instance can take it over: never two holders at once.
      if (this.#held && Date.now() - this.#renewedAt > leaseMs * 0.75) this.#set(false);
    } finally {
      this.#busy = false;
    }
    return this.#held;
  }

  #set(held: boolean, takeOver?: TakeOver): void {
    if (held === this.#held) return;
    this.#held = held;
    this.#log.info(
      { holder: this.deps.holder, ...(held && takeOver ? { from: takeOver.from, renewedAt: takeOver.renewedAt } : {}) },
      held ? "took the lease" : "lost the lease",
    );
    this.deps.onChange(held, held ? takeOver : undefined);
  }
}
