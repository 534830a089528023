import type { PrismaClient } from "../db/client.ts";
import { RateLimitedError } from "../errors.ts";

/** How many failures a user name or an address gets for free, and the back-off after them. */
export type ThrottlePolicy = {
  /** Failed logins of one user name before it is locked for a while. */
  userFailures: number;
  /** Failed logins from one address (any user names) before it is locked for a while. */
  addressFailures: number;
  /** The first lock; each further failure doubles it. */
  baseLockMs: number;
  maxLockMs: number;
  /** A key's count starts again after this long without a failure. */
  resetAfterMs: number;
};

export const DEFAULT_THROTTLE: ThrottlePolicy = {
  userFailures: 5,
  addressFailures: 20,
  baseLockMs: 1_000,
  maxLockMs: 15 * 60_000,
  resetAfterMs: 60 * 60_000,
};

type ThrottleClient = Pick<PrismaClient, "loginThrottle">;

/**
 * Failed-login back-off per user name and per client address, kept in the metadata database so that
 * every instance behind a load balancer counts the same failures. After the free failures each key
 * is locked for baseLockMs, doubling per failure up to maxLockMs; while locked, no password is
 * checked (`check` throws), and locked attempts do not count, so an attacker cannot keep a user
 * locked out for longer than maxLockMs past the last real failure. User names are keyed in lower
 * case, like the case-insensitive username column; unknown ones are counted too, so the answer does
 * not tell which exist.
 */
export class LoginThrottle {
  constructor(
    private readonly prisma: ThrottleClient,
    private readonly policy: ThrottlePolicy = DEFAULT_THROTTLE,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Throws RateLimitedError (with the seconds to wait) while the user name or the address is locked. */
  async check(username: string, address: string): Promise<void> {
    const now = this.now();
    const rows = await this.prisma.loginThrottle.findMany({ where: { key: { in: [userKey(username), addressKey(address)] }, lockedUntil: { gt: now } } });
    const until = Math.max(0, ...rows.map((r) => r.lockedUntil?.getTime() ?? 0));
    if (until > now.getTime()) {
      const seconds = Math.max(1, Math.ceil((until - now.getTime()) / 1000));
      throw new RateLimitedError(seconds, `too many failed logins: try again in ${seconds} s`);
    }
  }

  /** Counts a failure against both keys; returns how long the longer of their locks lasts (0: none). */
  async recordFailure(username: string, address: string): Promise<{ lockedForMs: number }> {
    const now = this.now();
    const locks = await Promise.all([
      this.#fail(userKey(username), this.policy.userFailures, now),
      this.#fail(addressKey(address), this.policy.addressFailures, now),
    ]);
    await this.prisma.loginThrottle.deleteMany({
      where: { lastFailureAt: { lt: new Date(now.getTime() - this.policy.resetAfterMs) }, OR: [{ lockedUntil: null }, { lockedUntil: { lt: now } }] },
    });
    return { lockedForMs: Math.max(...locks) };
  }

  /** A successful login clears the user name's failures (not the address's: one good account must not reset a spray). */
  async recordSuccess(username: string): Promise<void> {
    await this.clearUser(username);
  }

  /** Forgets a user name's failures (a successful login, or an admin who set a new password). */
  async clearUser(username: string): Promise<void> {
    await this.prisma.loginThrottle.deleteMany({ where: { key: userKey(username) } });
  }

  async #fail(key: string, free: number, now: Date): Promise<number> {
    const row = await this.prisma.loginThrottle.findUnique({ where: { key } });
    const fresh = !row || now.getTime() - row.lastFailureAt.getTime() > this.policy.resetAfterMs;
    const { failures } = fresh
      ? await this.prisma.loginThrottle.upsert({
          where: { key },
          create: { key, failures: 1, lastFailureAt: now },
          update: { failures: 1, lastFailureAt: now, lockedUntil: null },
        })
      : await this.prisma.loginThrottle.update({ where: { key }, data: { failures: { increment: 1 }, lastFailureAt: now } });
    if (failures <= free) return 0;
    const lockMs = Math.min(this.policy.baseLockMs * 2 ** (failures - free - 1), this.policy.maxLockMs);
    await this.prisma.loginThrottle.update({ where: { key }, data: { lockedUntil: new Date(now.getTime() + lockMs) } });
    return lockMs;
  }
}

function userKey(username: string): string {
  return `user:${username.trim().toLowerCase().slice(0, 150)}`;
}

function addressKey(address: string): string {
  return `addr:${address.slice(0, 150)}`;
}
