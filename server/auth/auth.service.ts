import type { AuditLog } from "../audit/audit-log.ts";
import type { PrismaClient } from "../db/client.ts";
import type { Prisma } from "../db/generated/client.ts";
import { AppError, NotFoundError, RateLimitedError, ValidationError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { DEFAULT_THROTTLE, LoginThrottle, type ThrottlePolicy } from "./login-throttle.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import { actorName, requireRole, roleAtLeast, type Principal, type Role } from "./roles.ts";
import { hashToken, newApiToken, newSessionToken } from "./tokens.ts";

/** A hash to compare against when the user does not exist, so timing does not reveal usernames. */
const DUMMY_HASH = await hashPassword("not-a-real-password");
const TOKEN_TOUCH_MS = 60_000;

/** Optional parts of the auth service: its log, the login back-off and the clock (tests). */
export type AuthOptions = { logger?: Logger; throttle?: Partial<ThrottlePolicy>; now?: () => Date };

/**
 * Logins, sessions and API tokens. Sessions and tokens live in the metadata database (as SHA-256),
 * so every instance behind a load balancer accepts them. Failed logins are throttled per user name
 * and per address (LoginThrottle), logged and audited.
 */
export class AuthService {
  readonly throttle: LoginThrottle;
  readonly #log: Logger | undefined;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly audit: AuditLog,
    private readonly sessionTtlMs: number,
    options: AuthOptions = {},
  ) {
    this.throttle = new LoginThrottle(prisma, { ...DEFAULT_THROTTLE, ...options.throttle }, options.now);
    this.#log = options.logger?.child({ component: "auth" });
  }

  /**
   * Checks credentials; returns the new session's token (for the cookie) and the user. Throws
   * RATE_LIMITED (without checking the password) while the user name or `address` is locked after
   * failures, and UNAUTHENTICATED on a wrong password, an unknown or a disabled user (one message
   * for all three; the log and the audit log say which).
   */
  async login(username: string, password: string, address = "unknown") {
    try {
      await this.throttle.check(username, address);
    } catch (error) {
      if (error instanceof RateLimitedError) this.#log?.warn({ username, address, retryAfterSeconds: error.retryAfterSeconds }, "login throttled");
      throw error;
    }
    const user = await this.prisma.user.findUnique({ where: { username } });
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok || user.disabled) {
      const reason = !user ? "unknown user" : !ok ? "wrong password" : "user disabled";
      const { lockedForMs } = await this.throttle.recordFailure(username, address);
      this.#log?.warn({ username, address, reason, lockedForMs }, "login failed");
      const shown = username.slice(0, 100);
      await this.audit.record(shown || "(empty)", "login.failure", "User", user?.id ?? null, null, { username: shown, address, reason });
      throw new AppError("UNAUTHENTICATED", "wrong username or password");
    }
    await this.throttle.recordSuccess(username);
    const token = newSessionToken();
    const expiresAt = new Date(Date.now() + this.sessionTtlMs);
    await this.prisma.session.create({ data: { tokenHash: hashToken(token), userId: user.id, expiresAt } });
    await this.prisma.session.deleteMany({ where: { expiresAt: { lt: new Date() } } });
    return { token, expiresAt, user };
  }

  async logout(sessionToken: string): Promise<void> {
    await this.prisma.session.deleteMany({ where: { tokenHash: hashToken(sessionToken) } });
  }

  /** Resolves a session cookie or bearer token to a principal; null when neither is valid. */
  async authenticate(credentials: { sessionToken?: string; bearerToken?: string }): Promise<Principal | null> {
    if (credentials.bearerToken) return this.#fromApiToken(credentials.bearerToken);
    if (credentials.sessionToken) return this.#fromSession(credentials.sessionToken);
    return null;
  }

  async #fromSession(token: string): Promise<Principal | null> {
    const session = await this.prisma.session.findUnique({ where: { tokenHash: hashToken(token) }, include: { user: true } });
    if (!session || session.expiresAt < new Date() || session.user.disabled) return null;
    return { userId: session.user.id, username: session.user.username, role: session.user.role, via: "session" };
  }

  async #fromApiToken(token: string): Promise<Principal | null> {
    const row = await this.prisma.apiToken.findUnique({ where: { tokenHash: hashToken(token) }, include: { user: true } });
    const now = new Date();
    if (!row || row.revokedAt || (row.expiresAt && row.expiresAt < now) || row.user.disabled) return null;
    if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > TOKEN_TOUCH_MS) {
      await this.prisma.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: now } });
    }
    // A token never has more rights than the user who created it has now.
    const role: Role = roleAtLeast(row.user.role, row.role) ? row.role : row.user.role;
    return {
      userId: row.userId,
      username: row.user.username,
      role,
      via: "token",
      tokenId: row.id,
      tokenName: row.name,
      tokenExpiresAt: row.expiresAt,
    };
  }

  /**
   * The tokens a principal may see and revoke: an admin (session or admin token) every one; anyone
   * else their own, and through a token only those with no more rights than that token.
   */
  tokenScope(principal: Principal): Prisma.ApiTokenWhereInput {
    if (principal.role === "ADMIN") return {};
    if (principal.via === "token") return { userId: principal.userId, role: { in: rolesUpTo(principal.role) } };
    return { userId: principal.userId };
  }

  /**
   * Creates an API token with at most the creator's role; the plain token is returned only here.
   * Needs a console session or an admin token (FORBIDDEN otherwise); a token made by a token
   * cannot outlive it.
   */
  async createApiToken(principal: Principal, input: { name: string; role: Role; expiresInDays?: number | null }) {
    requireRole(principal, "VIEWER");
    if (principal.via === "token" && principal.role !== "ADMIN") {
      throw new AppError("FORBIDDEN", "creating API tokens needs a console session or an admin token");
    }
    const name = input.name.trim();
    if (!name || name.length > 100) throw new ValidationError("name", "must be 1 to 100 characters");
    if (!roleAtLeast(principal.role, input.role)) {
      throw new ValidationError("role", `cannot exceed your own role (${principal.role.toLowerCase()})`);
    }
    if (input.expiresInDays != null && (!Number.isInteger(input.expiresInDays) || input.expiresInDays < 1 || input.expiresInDays > 36_500)) {
      throw new ValidationError("expiresInDays", "must be a whole number of days, from 1 to 36500");
    }
    const expiresAt = input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null;
    const limit = principal.via === "token" ? principal.tokenExpiresAt : null;
    if (limit && (!expiresAt || expiresAt > limit)) {
      throw new ValidationError("expiresInDays", `cannot outlive the token that creates it (it expires ${limit.toISOString()})`);
    }
    const token = newApiToken();
    const row = await this.prisma.apiToken.create({
      data: {
        name,
        role: input.role,
        tokenHash: hashToken(token),
        prefix: token.slice(0, 12),
        userId: principal.userId,
        expiresAt,
      },
    });
    await this.audit.record(actorName(principal), "apiToken.create", "ApiToken", row.id, null, {
      name: row.name,
      role: row.role,
      expiresAt: row.expiresAt,
    });
    return { token, apiToken: row };
  }

  /** Revokes a token within the principal's tokenScope (NOT_FOUND outside it). */
  async revokeApiToken(principal: Principal, id: number) {
    requireRole(principal, "VIEWER");
    const row = await this.prisma.apiToken.findFirst({ where: { AND: [{ id }, this.tokenScope(principal)] } });
    if (!row) throw new NotFoundError("API token", id);
    if (row.revokedAt) return row;
    const revoked = await this.prisma.apiToken.update({ where: { id }, data: { revokedAt: new Date() } });
    await this.audit.record(
      actorName(principal),
      "apiToken.revoke",
      "ApiToken",
      id,
      { name: row.name, revokedAt: null },
      {
        name: row.name,
        revokedAt: revoked.revokedAt,
      },
    );
    return revoked;
  }
}

const ROLES_LOW_TO_HIGH: Role[] = ["VIEWER", "OPERATOR", "ADMIN"];

function rolesUpTo(role: Role): Role[] {
  return ROLES_LOW_TO_HIGH.filter((r) => roleAtLeast(role, r));
}
