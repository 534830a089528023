import crypto from "node:crypto";

/** API tokens look like `sqlg_<43 chars>`; the prefix makes leaked tokens easy to grep for. */
export const API_TOKEN_PREFIX = "sqlg_";

export function newApiToken(): string {
  return API_TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url");
}

export function newSessionToken(): string {
  return crypto.randomBytes(32).toString("base64url");
}

/** Tokens are stored only as their SHA-256 (they are random, so no salt or slow hash is needed). */
export function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token).digest("hex");
}
