import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import type { PrismaClient } from "../db/client.ts";
import type { DatabaseAcknowledgement } from "../db/generated/client.ts";
import { NotFoundError, ValidationError } from "../errors.ts";

/**
 * Acknowledging a database's problem (FAILING, OVERDUE, DEGRADED): a database dropped on purpose,
 * or a failure being dealt with, stops counting as needing attention. The acknowledgement holds
 * until a run of that database starts after it; the next failure is a problem again.
 */
export class AcknowledgementsService {
  constructor(private readonly deps: { prisma: PrismaClient; audit: AuditLog }) {}

  /** Operator role; audited. Throws NotFoundError for an unknown server, ValidationError for an empty database name. */
  async acknowledge(principal: Principal, input: { serverId: number; database: string; note?: string | null }): Promise<DatabaseAcknowledgement> {
    requireRole(principal, "OPERATOR");
    const database = input.database.trim();
    if (!database) throw new ValidationError("database", "database: enter the database whose problem you acknowledge");
    if (database.length > 255) throw new ValidationError("database", "database: at most 255 characters");
    const note = input.note?.trim() || null;
    if (note && note.length > 500) throw new ValidationError("note", "note: at most 500 characters");
    const server = await this.deps.prisma.server.findUnique({ where: { id: input.serverId }, select: { id: true } });
    if (!server) throw new NotFoundError("server", input.serverId);
    const data = { acknowledgedAt: new Date(), acknowledgedBy: actorName(principal), note };
    const row = await this.deps.prisma.databaseAcknowledgement.upsert({
      where: { serverId_database: { serverId: server.id, database } },
      create: { serverId: server.id, database, ...data },
      update: data,
    });
    await this.deps.audit.record(actorName(principal), "database.acknowledge", "server", server.id, null, { database, note });
    return row;
  }
}

/** Whether an acknowledgement still holds: no run of the database started after it. */
export function acknowledgementHolds(ack: { acknowledgedAt: Date } | undefined, runs: Array<Date | null>): boolean {
  if (!ack) return false;
  return runs.every((at) => !at || at <= ack.acknowledgedAt);
}
