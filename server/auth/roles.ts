import { AppError } from "../errors.ts";

export type Role = "ADMIN" | "OPERATOR" | "VIEWER";

const RANK: Record<Role, number> = { VIEWER: 0, OPERATOR: 1, ADMIN: 2 };

/** Who is calling: a console session or an API token. */
export type Principal = {
  userId: number;
  username: string;
  role: Role;
  via: "session" | "token";
  /** Set when authenticated by an API token. */
  tokenId?: number;
  tokenName?: string;
  /** When the token expires (null: never); a token cannot create one that outlives it. */
  tokenExpiresAt?: Date | null;
};

export function roleAtLeast(role: Role, required: Role): boolean {
  return RANK[role] >= RANK[required];
}

/**
 * Throws UNAUTHENTICATED without a principal, FORBIDDEN when its role is below `required`.
 * viewer: read; operator: also run backups and restores; admin: also configuration and users.
 */
export function requireRole(principal: Principal | null, required: Role): Principal {
  if (!principal) throw new AppError("UNAUTHENTICATED", "authentication required: log in or send an API token");
  if (!roleAtLeast(principal.role, required)) {
    throw new AppError("FORBIDDEN", `this needs the ${required.toLowerCase()} role; you are ${principal.role.toLowerCase()}`);
  }
  return principal;
}

/** How a principal is named in the audit log. */
export function actorName(principal: Principal): string {
  return principal.via === "token" ? `${principal.username} (token ${principal.tokenName})` : principal.username;
}
