import { z } from "zod";
import type { AuditLog } from "../audit/audit-log.ts";
import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import { parseInput } from "../catalog/validate.ts";
import type { PrismaClient } from "../db/client.ts";
import type { NotificationRule } from "../db/generated/client.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
import { NOTIFICATION_EVENTS, type NotificationEvent } from "./events.ts";

/** Which servers a rule covers: by name, or by labels (every pair must match); empty = every server. */
export type ServerSelector = { names?: string[]; matchLabels?: Record<string, string> };

const selectorRule = z.object({
  names: z.array(z.string().trim().min(1).max(100)).max(200, "at most 200 names").optional(),
  matchLabels: z
    .array(z.object({ key: z.string().trim().min(1).max(63), value: z.string().max(255) }))
    .max(50, "at most 50 labels")
    .optional(),
});
const fields = {
  channelId: z.number().int().positive(),
  events: z.array(z.enum(NOTIFICATION_EVENTS)).max(NOTIFICATION_EVENTS.length),
  serverSelector: selectorRule.nullable(),
  scheduleIds: z.array(z.number().int().positive()).max(200, "at most 200 schedules").nullable(),
  quietMinutes: z.number().int("must be a whole number").min(0, "must be 0 or more").max(10_080, "must be at most 10080 (a week)"),
  enabled: z.boolean(),
};
const updateSchema = z.object(fields).partial();
const createSchema = updateSchema.superRefine((o, ctx) => {
  if (o.channelId === undefined) ctx.addIssue({ code: "custom", path: ["channelId"], message: "is required" });
  if (o.events === undefined) ctx.addIssue({ code: "custom", path: ["events"], message: "is required" });
});

/** The rule's events, as stored. */
export const eventsOf = (rule: Pick<NotificationRule, "events">) => (rule.events ?? []) as NotificationEvent[];
/** The rule's selector, as stored. */
export const selectorOf = (rule: Pick<NotificationRule, "serverSelector">) => (rule.serverSelector ?? {}) as ServerSelector;
/** The rule's schedule ids; [] = every backup. */
export const scheduleIdsOf = (rule: Pick<NotificationRule, "scheduleIds">) => (rule.scheduleIds ?? []) as number[];

/** Whether a server is in a selector (an empty selector takes every server). */
export function selects(selector: ServerSelector, server: { name: string; labels: Record<string, string> | null }): boolean {
  const names = selector.names ?? [];
  const labels = Object.entries(selector.matchLabels ?? {});
  if (names.length === 0 && labels.length === 0) return true;
  if (names.includes(server.name)) return true;
  return labels.length > 0 && labels.every(([k, v]) => server.labels?.[k] === v);
}

/** Notification rules (admin only; audited): events x servers x schedules -> one channel, with a quiet period. */
export class NotificationRulesService {
  constructor(private readonly deps: { prisma: PrismaClient; audit: AuditLog }) {}

  /** Every rule (of one channel, when given). Admin role. */
  list(principal: Principal | null, channelId?: number | null): Promise<NotificationRule[]> {
    requireRole(principal, "ADMIN");
    return this.deps.prisma.notificationRule.findMany({ where: channelId ? { channelId } : {}, orderBy: { id: "asc" } });
  }

  /** One rule. Admin role; throws NOT_FOUND. */
  async get(principal: Principal | null, id: number): Promise<NotificationRule> {
    requireRole(principal, "ADMIN");
    const row = await this.deps.prisma.notificationRule.findUnique({ where: { id } });
    if (!row) throw new NotFoundError("notification rule", id);
    return row;
  }

  /** Creates a rule (channelId and events required). Admin role; throws BAD_USER_INPUT naming the field. */
  async create(principal: Principal | null, raw: object): Promise<NotificationRule> {
    const actor = requireRole(principal, "ADMIN");
    const input = parseInput(createSchema, raw);
    const data = await this.#data(input, null);
    return this.#write(actor, "create", null, (tx) =>
      tx.notificationRule.create({ data: { channelId: input.channelId!, events: [], serverSelector: {}, scheduleIds: [], ...data } }),
    );
  }

  /** Omitted fields stay. Admin role. */
  async update(principal: Principal | null, id: number, raw: object): Promise<NotificationRule> {
    const before = await this.get(principal, id);
    const data = await this.#data(parseInput(updateSchema, raw), before);
    return this.#write(principal!, "update", before, (tx) => tx.notificationRule.update({ where: { id }, data }));
  }

  /** Deletes a rule (and its incidents); returns it as it was. Admin role. */
  async delete(principal: Principal | null, id: number): Promise<NotificationRule> {
    const before = await this.get(principal, id);
    await this.#write(principal!, "delete", before, (tx) => tx.notificationRule.delete({ where: { id } }));
    return before;
  }

  async #data(input: z.output<typeof updateSchema>, before: NotificationRule | null) {
    const { prisma } = this.deps;
    const channelId = input.channelId ?? before?.channelId;
    const channel = channelId ? await prisma.notificationChannel.findUnique({ where: { id: channelId } }) : null;
    if (!channel) throw new ValidationError("channelId", `no notification channel with id ${channelId}`);
    const data: Record<string, unknown> = {};
    if (input.channelId !== undefined) data.channelId = input.channelId;
    if (input.events !== undefined) {
      if (input.events.length === 0 && channel.kind !== "HEALTHCHECKS") throw new ValidationError("events", "must name at least one event");
      data.events = [...new Set(input.events)];
    }
    if (input.serverSelector !== undefined) {
      const s = input.serverSelector ?? {};
      const selector: ServerSelector = {};
      if (s.names?.length) selector.names = [...new Set(s.names)];
      if (s.matchLabels?.length) selector.matchLabels = Object.fromEntries(s.matchLabels.map((l) => [l.key, l.value]));
      data.serverSelector = selector;
    }
    if (input.scheduleIds !== undefined) {
      const ids = [...new Set(input.scheduleIds ?? [])];
      const found = await prisma.schedule.findMany({ where: { id: { in: ids } }, select: { id: true } });
      const missing = ids.filter((id) => !found.some((f) => f.id === id));
      if (missing.length) throw new ValidationError("scheduleIds", `no schedule with id ${missing.join(", ")}`);
      data.scheduleIds = ids;
    }
    if (input.quietMinutes !== undefined) data.quietMinutes = input.quietMinutes;
    if (input.enabled !== undefined) data.enabled = input.enabled;
    return data;
  }

  async #write(principal: Principal, action: "create" | "update" | "delete", before: NotificationRule | null, write: (tx: Tx) => Promise<NotificationRule>) {
    return this.deps.prisma.$transaction(async (tx) => {
      const after = await write(tx);
      await this.deps.audit.record(
        actorName(principal),
        `notificationRule.${action}`,
        "NotificationRule",
        after.id,
        before,
        action === "delete" ? null : after,
        tx,
      );
      return after;
    });
  }
}

type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];
