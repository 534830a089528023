import { z } from "zod";
import type { AuditLog } from "../audit/audit-log.ts";
import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import { definedOnly } from "../catalog/objects.ts";
import { nameRule, parseInput, secretRule } from "../catalog/validate.ts";
import type { PrismaClient } from "../db/client.ts";
import type { Webhook } from "../db/generated/client.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import { webhookUrlProblem, type WebhookNetwork } from "./address-guard.ts";

export const webhookUrlRule = z
  .string()
  .trim()
  .max(2048, "must be at most 2048 characters")
  .refine(
    (v) => {
      try {
        const u = new URL(v);
        return (u.protocol === "http:" || u.protocol === "https:") && !u.username && !u.password && !u.hash;
      } catch {
        return false;
      }
    },
    { message: "must be an http(s) URL without credentials or fragment, e.g. https://hc-ping.com/<uuid>" },
  );

const updateSchema = z
  .object({
    name: nameRule,
    url: webhookUrlRule,
    secret: secretRule.nullable(),
    format: z.enum(["GENERIC", "HEALTHCHECKS"]),
    onFailure: z.boolean(),
    onRecovery: z.boolean(),
    onOverdue: z.boolean(),
    onSuccess: z.boolean(),
    scheduleId: z.number().int().positive().nullable(),
    enabled: z.boolean(),
  })
  .partial();
const createSchema = updateSchema.superRefine((o, ctx) => {
  if (o.name === undefined) ctx.addIssue({ code: "custom", path: ["name"], message: "is required" });
  if (o.url === undefined) ctx.addIssue({ code: "custom", path: ["url"], message: "is required" });
});

/** A webhook as the dispatcher calls it: its secret opened. */
export type WebhookTarget = Omit<Webhook, "secretEnc"> & { secret: string | null };

/**
 * Where notifications go (admin only; every change audited). The HMAC secret is stored sealed and
 * never returned; the audit log shows only whether it is set, and only the URL's origin, as a
 * URL may carry a token (healthchecks.io, Slack). Webhooks the migration moved to notification
 * channels (channelId set) live on as those channels and are invisible here. A URL whose host is, or resolves to, a
 * link-local or cloud metadata address is refused (deliveries check again after resolving).
 */
export class WebhooksService {
  constructor(private readonly deps: { prisma: PrismaClient; secrets: SecretBox; audit: AuditLog; network?: WebhookNetwork }) {}

  /** Every webhook, by name. Admin role. */
  list(principal: Principal | null): Promise<Webhook[]> {
    requireRole(principal, "ADMIN");
    return this.deps.prisma.webhook.findMany({ where: { channelId: null }, orderBy: { name: "asc" } });
  }

  /** One webhook. Admin role; throws NOT_FOUND. */
  async get(principal: Principal | null, id: number): Promise<Webhook> {
    requireRole(principal, "ADMIN");
    const row = await this.deps.prisma.webhook.findUnique({ where: { id } });
    if (!row || row.channelId !== null) throw new NotFoundError("webhook", id);
    return row;
  }

  /** Creates a webhook (name and url required). Admin role; throws BAD_USER_INPUT or CONFLICT. */
  async create(principal: Principal | null, raw: object): Promise<Webhook> {
    const actor = requireRole(principal, "ADMIN");
    const { secret, ...input } = parseInput(createSchema, raw);
    await this.#check(input, null);
    const data = { ...definedOnly(input), name: input.name!, url: input.url!, secretEnc: secret ? this.deps.secrets.seal(secret) : null };
    return this.#write(actor, "create", null, (tx) => tx.webhook.create({ data }));
  }

  /** Omitted fields stay; `secret: null` or "" removes the secret. Admin role. */
  async update(principal: Principal | null, id: number, raw: object): Promise<Webhook> {
    const before = await this.get(principal, id);
    const { secret, ...input } = parseInput(updateSchema, raw);
    await this.#check(input, id);
    const data = { ...definedOnly(input), ...(secret !== undefined ? { secretEnc: secret ? this.deps.secrets.seal(secret) : null } : {}) };
    return this.#write(principal!, "update", before, (tx) => tx.webhook.update({ where: { id }, data }));
  }

  /** Deletes a webhook; returns it as it was. Admin role. */
  async delete(principal: Principal | null, id: number): Promise<Webhook> {
    const before = await this.get(principal, id);
    await this.#write(principal!, "delete", before, (tx) => tx.webhook.delete({ where: { id } }));
    return before;
  }

  /**
   * The enabled webhooks a notification about a backup of `scheduleId` (null: manual) goes to:
   * the global ones and that schedule's, secrets opened. A secret that no longer opens (the key
   * changed) leaves its webhook out rather than sending it unsigned.
   */
  async targets(where: { scheduleId?: number | null; scheduleNames?: string[] }): Promise<WebhookTarget[]> {
    const scoped = [
      ...(where.scheduleId != null ? [{ scheduleId: where.scheduleId }] : []),
      ...(where.scheduleNames?.length ? [{ schedule: { name: { in: where.scheduleNames } } }] : []),
    ];
    const rows = await this.deps.prisma.webhook.findMany({
      where: { enabled: true, channelId: null, OR: [{ scheduleId: null }, ...scoped] },
      orderBy: { id: "asc" },
    });
    return rows.flatMap(({ secretEnc, ...row }) => {
      try {
        return [{ ...row, secret: secretEnc ? this.deps.secrets.open(secretEnc) : null }];
      } catch {
        return [];
      }
    });
  }

  /** The webhook with its secret opened, for a test delivery. Admin role. */
  async target(principal: Principal | null, id: number): Promise<WebhookTarget> {
    const { secretEnc, ...row } = await this.get(principal, id);
    return { ...row, secret: secretEnc ? this.deps.secrets.open(secretEnc) : null };
  }

  async #check(input: { name?: string; url?: string; scheduleId?: number | null }, selfId: number | null): Promise<void> {
    const { prisma } = this.deps;
    const problem = input.url ? await webhookUrlProblem(input.url, this.deps.network) : null;
    if (problem) throw new ValidationError("url", problem);
    if (input.name) {
      const clash = await prisma.webhook.findUnique({ where: { name: input.name } });
      if (clash && clash.id !== selfId) throw new ConflictError("name", `name: a webhook named ${JSON.stringify(input.name)} already exists`);
    }
    if (input.scheduleId != null && !(await prisma.schedule.findUnique({ where: { id: input.scheduleId } }))) {
      throw new ValidationError("scheduleId", `no schedule with id ${input.scheduleId}`);
    }
  }

  async #write(principal: Principal, action: "create" | "update" | "delete", before: Webhook | null, write: (tx: Tx) => Promise<Webhook>): Promise<Webhook> {
    return this.deps.prisma.$transaction(async (tx) => {
      const after = await write(tx);
      await this.deps.audit.record(
        actorName(principal),
        `webhook.${action}`,
        "Webhook",
        after.id,
        forAudit(before),
        action === "delete" ? null : forAudit(after),
        tx,
      );
      return after;
    });
  }
}

type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

/** The row as the audit log keeps it: secret as a flag, URL as its origin. */
function forAudit(row: Webhook | null): object | null {
  if (!row) return null;
  const { secretEnc, url, ...rest } = row;
  return { ...rest, url: `${new URL(url).origin}/…`, secretSet: secretEnc != null };
}
