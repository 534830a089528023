import type { PrismaClient } from "../db/client.ts";
import { AppError, NotFoundError, ValidationError } from "../errors.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import { actorName, requireRole, roleAtLeast, type Principal, type Role } from "./roles.ts";
import { hashToken, newApiToken, newSessionToken } from "./tokens.ts";
import type { AuditLog } from "../audit/audit-log.ts";

/** A hash to compare against when the user does not exist, so timing does not reveal usernames. */
const DUMMY_HASH = await hashPassword("not-a-real-password");
const TOKEN_TOUCH_MS = 60_000;

/**
 * Logins, sessions and API tokens. Sessions and tokens live in the metadata database (as SHA-256),
 * so every instance behind a load balancer accepts them.
 */
export class AuthService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly audit: AuditLog,
    private readonly sessionTtlMs: number,
  ) {}

  /** Checks credentials; returns the new session's token (for the cookie) and the user. */
  async login(username: string, password: string) {
    const user = await this.prisma.user.findUnique({ where: { username } });
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok || user.disabled) throw new AppError("UNAUTHENTICATED", "wrong username or password");
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
    return { userId: row.userId, username: row.user.username, role, via: "token", tokenId: row.id, tokenName: row.name };
  }

  /** Creates an API token with at most the creator's role; the plain token is returned only here. */
  async createApiToken(principal: Principal, input: { name: string; role: Role; expiresInDays?: number | null }) {
    requireRole(principal, "VIEWER");
    const name = input.name.trim();
    if (!name || name.length > 100) throw new ValidationError("name", "must be 1 to 100 characters");
    if (!roleAtLeast(principal.role, input.role)) {
      throw new ValidationError("role", `cannot exceed your own role (${principal.role.toLowerCase()})`);
    }
    if (input.expiresInDays != null && (!Number.isInteger(input.expiresInDays) || input.expiresInDays < 1)) {
      throw new ValidationError("expiresInDays", "must be a whole number of days, at least 1");
    }
    const token = newApiToken();
    const row = await this.prisma.apiToken.create({
      data: {
        name,
        role: input.role,
        tokenHash: hashToken(token),
        prefix: token.slice(0, 12),
        userId: principal.userId,
        expiresAt: input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null,
      },
    });
    await this.audit.record(actorName(principal), "apiToken.create", "ApiToken", row.id, null, {
      name: row.name,
      role: row.role,
      expiresAt: row.expiresAt,
    });
    return { token, apiToken: row };
  }

  /** Revokes a token: one's own, or anyone's for an admin. */
  async revokeApiToken(principal: Principal, id: number) {
    const row = await this.prisma.apiToken.findUnique({ where: { id } });
    if (!row || (row.userId !== principal.userId && principal.role !== "ADMIN")) throw new NotFoundError("API token", id);
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
