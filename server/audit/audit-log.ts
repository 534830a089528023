import type { PrismaClient } from "../db/client.ts";

/** Column names holding encrypted secrets: the log shows only whether they are set. */
const SECRET_FIELDS: Record<string, string> = {
  passwordEnc: "passwordSet",
  secretAccessKeyEnc: "secretAccessKeySet",
  passwordHash: "passwordSet",
  tokenHash: "tokenSet",
  totpSecret: "totpSet",
  totpPendingSecret: "totpPendingSet",
  oidcClientSecret: "oidcClientSecretSet",
  identityEnc: "identitySet",
};

/** Copies a row for the audit log, replacing every secret by a set / not-set flag. */
export function redactForAudit(row: object | null): Record<string, unknown> | null {
  if (!row) return null;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    const flag = SECRET_FIELDS[key];
    if (flag) out[flag] = value != null;
    else out[key] = typeof value === "bigint" ? value.toString() : value;
  }
  // Through JSON so that dates become ISO strings, as the JSON column stores them.
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
}

type AuditClient = Pick<PrismaClient, "auditLog">;

/** Writes one audit row per configuration change: who, what, before and after (secrets redacted). */
export class AuditLog {
  constructor(private readonly prisma: AuditClient) {}

  async record(
    actor: string,
    action: string,
    entityType: string,
    entityId: number | string | null,
    before: object | null,
    after: object | null,
    client: AuditClient = this.prisma,
  ): Promise<void> {
    await client.auditLog.create({
      data: {
        actor,
        action,
        entityType,
        entityId: entityId == null ? null : String(entityId),
        before: (redactForAudit(before) ?? undefined) as object | undefined,
        after: (redactForAudit(after) ?? undefined) as object | undefined,
      },
    });
  }
}
