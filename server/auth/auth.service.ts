import type { AuditLog } from "../audit/audit-log.ts";
import type { PrismaClient } from "../db/client.ts";
import type { Prisma, User } from "../db/generated/client.ts";
import { AppError, NotFoundError, RateLimitedError, SecondFactorRequiredError, ValidationError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { DEFAULT_THROTTLE, LoginThrottle, type ThrottlePolicy } from "./login-throttle.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import { actorName, requireRole, roleAtLeast, type Principal, type Role } from "./roles.ts";
import type { SecondFactorAnswer, SecondFactorService } from "./second-factor.service.ts";
import type { SignInSettingsService } from "./sign-in-settings.service.ts";
import { hashToken, newApiToken, newSessionToken } from "./tokens.ts";

/** A hash to compare against when the user does not exist, so timing does not reveal usernames. */
const DUMMY_HASH = await hashPassword("not-a-real-password");
const TOKEN_TOUCH_MS = 60_000;

/**
 * Optional parts of the auth service: its log, the login back-off, the clock (tests), and the
 * sign-in settings (local login switch) and second factor; without them, password logins only.
 */
export type AuthOptions = {
  logger?: Logger;
  throttle?: Partial<ThrottlePolicy>;
  now?: () => Date;
  signIn?: SignInSettingsService;
  secondFactor?: SecondFactorService;
};

/**
 * Logins, sessions and API tokens. Sessions and tokens live in the metadata database (as SHA-256),
 * so every instance behind a load balancer accepts them. Failed logins are throttled per user name
 * and per address (LoginThrottle), logged and audited.
 */
export class AuthService {
  readonly throttle: LoginThrottle;
  readonly #log: Logger | undefined;
  readonly #signIn: SignInSettingsService | undefined;
  readonly #secondFactor: SecondFactorService | undefined;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly audit: AuditLog,
    private readonly sessionTtlMs: number,
    options: AuthOptions = {},
  ) {
    this.throttle = new LoginThrottle(prisma, { ...DEFAULT_THROTTLE, ...options.throttle }, options.now);
    this.#log = options.logger?.child({ component: "auth" });
    this.#signIn = options.signIn;
    this.#secondFactor = options.secondFactor;
  }

  /**
   * Checks credentials; returns the new session's token (for the cookie) and the user. Throws
   * RATE_LIMITED (without checking the password) while the user name or `address` is locked after
   * failures, and UNAUTHENTICATED on a wrong password, an unknown or a disabled user (one message
   * for all three; the log and the audit log say which), or while local login is off for anyone but
   * the break-glass user. A user with TOTP on (or whose role requires it) must also send a code or a
   * recovery code: without one it throws SECOND_FACTOR_REQUIRED; a wrong one counts as a failed login.
   */
  async login(username: string, password: string, address = "unknown", answer: SecondFactorAnswer = {}) {
    try {
      await this.throttle.check(username, address);
    } catch (error) {
      if (error instanceof RateLimitedError) this.#log?.warn({ username, address, retryAfterSeconds: error.retryAfterSeconds }, "login throttled");
      throw error;
    }
    const shown = username.slice(0, 100);
    if (this.#signIn && !(await this.#signIn.get()).localLoginEnabled && !this.#signIn.isBreakGlass(username)) {
      await this.audit.record(shown || "(empty)", "login.failure", "User", null, null, { username: shown, address, reason: "local login off" });
      throw new AppError("UNAUTHENTICATED", "sign-in with a password is turned off: use single sign-on");
    }
    const user = await this.prisma.user.findUnique({ where: { username } });
    // OIDC users have no password (an empty hash never verifies).
    const ok = await verifyPassword(password, user?.passwordHash || DUMMY_HASH);
    if (!user || !ok || user.disabled || user.authSource !== "LOCAL") {
      const reason = !user ? "unknown user" : !ok || user.authSource !== "LOCAL" ? "wrong password" : "user disabled";
      await this.#fail(username, address, reason, user?.id ?? null);
      throw new AppError("UNAUTHENTICATED", "wrong username or password");
    }
    await this.#checkSecondFactor(user, answer, address);
    await this.throttle.recordSuccess(username);
    await this.audit.record(user.username, "login.success", "User", user.id, null, { username: user.username, address, method: "password" });
    return { ...(await this.createSession(user.id)), user };
  }

  /** A new session for a user who proved who they are (a password login, or single sign-on). */
  async createSession(userId: number): Promise<{ token: string; expiresAt: Date }> {
    const token = newSessionToken();
    const expiresAt = new Date(Date.now() + this.sessionTtlMs);
    await this.prisma.session.create({ data: { tokenHash: hashToken(token), userId, expiresAt } });
    await this.prisma.session.deleteMany({ where: { expiresAt: { lt: new Date() } } });
    return { token, expiresAt };
  }

  async #fail(username: string, address: string, reason: string, userId: number | null): Promise<void> {
    const { lockedForMs } = await this.throttle.recordFailure(username, address);
    this.#log?.warn({ username, address, reason, lockedForMs }, "login failed");
    const shown = username.slice(0, 100);
    await this.audit.record(shown || "(empty)", "login.failure", "User", userId, null, { username: shown, address, reason });
  }

  /** The second step of a password login; throws when it is needed and missing or wrong. */
  async #checkSecondFactor(user: User, answer: SecondFactorAnswer, address: string): Promise<void> {
    const factor = this.#secondFactor;
    if (!factor) return;
    const offered = Boolean(answer.totpCode || answer.recoveryCode);
    if (user.totpSecret) {
      if (!offered) throw new SecondFactorRequiredError("TOTP");
      if (await factor.verifyAtLogin(user, answer)) return;
      await this.#fail(user.username, address, "wrong second factor", user.id);
      throw new AppError("UNAUTHENTICATED", "wrong authentication code", { field: answer.recoveryCode ? "recoveryCode" : "totpCode" });
    }
    if (!(await factor.required(user))) return;
    if (!answer.totpCode) throw new SecondFactorRequiredError("ENROL", await factor.enrolmentAtLogin(user));
    try {
      await factor.enrol(user, answer.totpCode, user.username);
    } catch (error) {
      if (error instanceof AppError && error.code === "UNAUTHENTICATED") await this.#fail(user.username, address, "wrong second factor", user.id);
      throw error;
    }
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
