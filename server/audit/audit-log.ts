import { requireRole, type Principal } from "../auth/roles.ts";
import type { PrismaClient } from "../db/client.ts";
import type { AuditLog as AuditEntry, Prisma } from "../db/generated/client.ts";
import { ValidationError } from "../errors.ts";

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

/** Which audit entries a page lists: an entity type, and optionally one entity of it. */
export type AuditFilter = { entityType?: string | null; entityId?: string | null };

function auditWhere(filter: AuditFilter): Prisma.AuditLogWhereInput {
  return { ...(filter.entityType != null ? { entityType: filter.entityType } : {}), ...(filter.entityId != null ? { entityId: filter.entityId } : {}) };
}

/** Writes one audit row per configuration change: who, what, before and after (secrets redacted); reads them back a page at a time. */
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

  /**
   * A page of the log, newest first by id; `after` is the last id of the previous page. Admins only
   * (ForbiddenError); a ValidationError naming `first` past 500.
   */
  async list(
    principal: Principal | null,
    filter: AuditFilter,
    page: { first: number; after?: number | null },
  ): Promise<{ nodes: AuditEntry[]; hasNextPage: boolean }> {
    requireRole(principal, "ADMIN");
    if (!Number.isInteger(page.first) || page.first < 1 || page.first > 500) throw new ValidationError("first", "must be between 1 and 500");
    const where: Prisma.AuditLogWhereInput = { ...auditWhere(filter), ...(page.after ? { id: { lt: page.after } } : {}) };
    const rows = await this.prisma.auditLog.findMany({ where, orderBy: { id: "desc" }, take: page.first + 1 });
    return { nodes: rows.slice(0, page.first), hasNextPage: rows.length > page.first };
  }

  /** How many entries the filter matches (a connection's totalCount). Admins only. */
  count(principal: Principal | null, filter: AuditFilter): Promise<number> {
    requireRole(principal, "ADMIN");
    return this.prisma.auditLog.count({ where: auditWhere(filter) });
  }
}
