import { z } from "zod";
import type { AuditLog } from "../audit/audit-log.ts";
import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import { nameRule, parseInput, secretRule } from "../catalog/validate.ts";
import type { PrismaClient } from "../db/client.ts";
import type { NotificationChannel, NotificationDelivery, NotificationKind } from "../db/generated/client.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import { webhookUrlProblem, type WebhookNetwork } from "./address-guard.ts";
import type { SmtpSettings } from "./channels/email.ts";

export const NOTIFICATION_KINDS = ["EMAIL", "SLACK", "TEAMS", "DISCORD", "TELEGRAM", "NTFY", "WEBHOOK", "HEALTHCHECKS"] as const;
const URL_KINDS = new Set<NotificationKind>(["SLACK", "TEAMS", "DISCORD", "NTFY", "WEBHOOK", "HEALTHCHECKS"]);
const SECRET_KINDS = new Set<NotificationKind>(["WEBHOOK", "HEALTHCHECKS", "NTFY"]);
export const TELEGRAM_API = "https://api.telegram.org";

const urlRule = z
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
    { message: "must be an http(s) URL without credentials or fragment, e.g. https://hooks.slack.com/services/…" },
  );
const emailRule = z
  .string()
  .trim()
  .max(320)
  .regex(/^[^\s@<>,;]+@[^\s@<>,;]+$/, "must be an e-mail address such as dba@example.com");
const smtpRule = z
  .object({
    host: z.string().trim().min(1, "must not be empty").max(255, "must be at most 255 characters"),
    port: z.number().int("must be a whole number").min(1, "must be between 1 and 65535").max(65535, "must be between 1 and 65535"),
    secure: z.boolean(),
    username: z.string().max(255).nullable(),
    password: secretRule.nullable(),
    from: emailRule,
    to: z.array(emailRule).min(1, "needs at least one address").max(50, "at most 50 addresses"),
  })
  .partial();
const telegramRule = z
  .object({
    botToken: z
      .string()
      .trim()
      .regex(/^\d+:[A-Za-z0-9_-]{20,}$/, "must be a bot token such as 123456:ABC-DEF… from @BotFather"),
    chatId: z
      .string()
      .trim()
      .regex(/^(-?\d{1,20}|@[A-Za-z0-9_]{5,32})$/, "must be a chat id (e.g. -1001234567890) or @channelname"),
  })
  .partial();
const fields = {
  name: nameRule,
  kind: z.enum(NOTIFICATION_KINDS),
  url: urlRule.nullable(),
  smtp: smtpRule,
  telegram: telegramRule,
  secret: secretRule.nullable(),
  weeklyReport: z.boolean(),
  enabled: z.boolean(),
};
const updateSchema = z.object(fields).partial();
const createSchema = updateSchema.superRefine((o, ctx) => {
  if (o.name === undefined) ctx.addIssue({ code: "custom", path: ["name"], message: "is required" });
  if (o.kind === undefined) ctx.addIssue({ code: "custom", path: ["kind"], message: "is required" });
});
type Input = z.output<typeof updateSchema>;

/** A channel as the sender uses it: URL, secret and settings opened. */
export type ChannelTarget = {
  id: number;
  name: string;
  kind: NotificationKind;
  url: string | null;
  secret: string | null;
  smtp: SmtpSettings | null;
  chatId: string | null;
  weeklyReport: boolean;
};

/** The channel's SMTP settings as returned (never the password). */
export function smtpOf(row: Pick<NotificationChannel, "kind" | "settings" | "secretEnc">): (SmtpSettings & { passwordSet: boolean }) | null {
  if (row.kind !== "EMAIL") return null;
  const s = row.settings as SmtpSettings;
  return { ...s, passwordSet: row.secretEnc != null };
}

/** Which deliveries a page of the log lists: one channel's, or all. */
export type DeliveryFilter = { channelId?: number | null };

const deliveryWhere = (filter: DeliveryFilter) => (filter.channelId != null ? { channelId: filter.channelId } : {});

/**
 * Notification channels (admin only; every change audited). URLs (chat webhooks carry their token
 * in the path), SMTP passwords, bot tokens and HMAC keys are sealed with the secret box and never
 * returned: the API shows the URL's host and "set" flags. URLs whose host is, or resolves to, a
 * link-local or cloud metadata address are refused, as for webhooks.
 */
export class NotificationChannelsService {
  constructor(private readonly deps: { prisma: PrismaClient; secrets: SecretBox; audit: AuditLog; network?: WebhookNetwork }) {}

  /** Every channel, by name. Admin role. */
  list(principal: Principal | null): Promise<NotificationChannel[]> {
    requireRole(principal, "ADMIN");
    return this.deps.prisma.notificationChannel.findMany({ orderBy: { name: "asc" } });
  }

  /** One channel. Admin role; throws NOT_FOUND. */
  async get(principal: Principal | null, id: number): Promise<NotificationChannel> {
    requireRole(principal, "ADMIN");
    const row = await this.deps.prisma.notificationChannel.findUnique({ where: { id } });
    if (!row) throw new NotFoundError("notification channel", id);
    return row;
  }

  /** Creates a channel. Admin role; throws BAD_USER_INPUT naming the field, or CONFLICT. */
  async create(principal: Principal | null, raw: object): Promise<NotificationChannel> {
    const actor = requireRole(principal, "ADMIN");
    const input = parseInput(createSchema, raw);
    const data = await this.#data(input, null);
    return this.#write(actor, "create", null, (tx) => tx.notificationChannel.create({ data: { name: input.name!, kind: input.kind!, settings: {}, ...data } }));
  }

  /** Omitted fields stay; a secret given as null or "" is removed. The kind cannot change. Admin role. */
  async update(principal: Principal | null, id: number, raw: object): Promise<NotificationChannel> {
    const before = await this.get(principal, id);
    const input = parseInput(updateSchema, raw);
    if (input.kind !== undefined && input.kind !== before.kind) throw new ValidationError("kind", "cannot be changed: create a new channel");
    const data = await this.#data({ ...input, kind: before.kind }, before);
    return this.#write(principal!, "update", before, (tx) => tx.notificationChannel.update({ where: { id }, data }));
  }

  /** Deletes a channel with its rules, incidents and delivery log; returns it as it was. Admin role. */
  async delete(principal: Principal | null, id: number): Promise<NotificationChannel> {
    const before = await this.get(principal, id);
    await this.#write(principal!, "delete", before, (tx) => tx.notificationChannel.delete({ where: { id } }));
    return before;
  }

  /**
   * A page of the delivery log, newest first by id; `after` is the last id of the previous page.
   * Admin role; a ValidationError naming `first` past 500.
   */
  async deliveries(
    principal: Principal | null,
    filter: DeliveryFilter,
    page: { first: number; after?: number | null },
  ): Promise<{ nodes: NotificationDelivery[]; hasNextPage: boolean }> {
    requireRole(principal, "ADMIN");
    if (!Number.isInteger(page.first) || page.first < 1 || page.first > 500) throw new ValidationError("first", "must be between 1 and 500");
    const rows = await this.deps.prisma.notificationDelivery.findMany({
      where: { ...deliveryWhere(filter), ...(page.after ? { id: { lt: page.after } } : {}) },
      orderBy: { id: "desc" },
      take: page.first + 1,
    });
    return { nodes: rows.slice(0, page.first), hasNextPage: rows.length > page.first };
  }

  /** How many deliveries the filter matches (a connection's totalCount). Admin role. */
  deliveryCount(principal: Principal | null, filter: DeliveryFilter): Promise<number> {
    requireRole(principal, "ADMIN");
    return this.deps.prisma.notificationDelivery.count({ where: deliveryWhere(filter) });
  }

  /** The channel opened for sending. Throws when its secrets no longer open (the key changed). */
  open(row: NotificationChannel): ChannelTarget {
    const { secrets } = this.deps;
    const settings = (row.settings ?? {}) as Record<string, unknown>;
    return {
      id: row.id,
      name: row.name,
      kind: row.kind,
      url: row.urlEnc ? secrets.open(row.urlEnc) : row.legacyUrl,
      secret: row.secretEnc ? secrets.open(row.secretEnc) : null,
      smtp: row.kind === "EMAIL" ? (settings as SmtpSettings) : null,
      chatId: typeof settings.chatId === "string" ? settings.chatId : null,
      weeklyReport: row.weeklyReport,
    };
  }

  /** Seals the plain URLs the SQL migration copied from webhooks (run at start; idempotent). */
  async sealLegacyUrls(): Promise<number> {
    const rows = await this.deps.prisma.notificationChannel.findMany({ where: { legacyUrl: { not: null } } });
    for (const row of rows) {
      const url = row.legacyUrl!;
      await this.deps.prisma.notificationChannel.update({
        where: { id: row.id },
        data: { urlEnc: this.deps.secrets.seal(url), urlHost: new URL(url).host, legacyUrl: null },
      });
    }
    return rows.length;
  }

  /** Checks the input against the kind and turns it into columns (secrets sealed). */
  async #data(input: Input, before: NotificationChannel | null) {
    const { prisma, secrets } = this.deps;
    const kind = input.kind!;
    const data: Partial<Pick<NotificationChannel, "name" | "urlEnc" | "urlHost" | "secretEnc" | "weeklyReport" | "enabled" | "legacyUrl">> & {
      settings?: object;
    } = {};
    if (input.name !== undefined) {
      const clash = await prisma.notificationChannel.findUnique({ where: { name: input.name } });
      if (clash && clash.id !== before?.id) throw new ConflictError("name", `name: a notification channel named ${JSON.stringify(input.name)} already exists`);
      data.name = input.name;
    }
    if (input.enabled !== undefined) data.enabled = input.enabled;
    if (input.weeklyReport !== undefined) {
      if (input.weeklyReport && kind !== "EMAIL") throw new ValidationError("weeklyReport", "only EMAIL channels send the weekly report");
      data.weeklyReport = input.weeklyReport;
    }
    if (input.url !== undefined && input.url !== null) {
      if (!URL_KINDS.has(kind) && kind !== "TELEGRAM") throw new ValidationError("url", `${kind} channels have no URL`);
      const problem = await webhookUrlProblem(input.url, this.deps.network);
      if (problem) throw new ValidationError("url", problem);
      Object.assign(data, { urlEnc: secrets.seal(input.url), urlHost: new URL(input.url).host, legacyUrl: null });
    } else if (input.url === null && before) {
      if (URL_KINDS.has(kind)) throw new ValidationError("url", `is required for ${kind} channels`);
      Object.assign(data, { urlEnc: null, urlHost: null, legacyUrl: null });
    } else if (!before && URL_KINDS.has(kind)) {
      throw new ValidationError("url", `is required for ${kind} channels`);
    }
    if (input.secret !== undefined) {
      if (!SECRET_KINDS.has(kind)) throw new ValidationError("secret", `${kind} channels take no secret (EMAIL: smtp.password, TELEGRAM: telegram.botToken)`);
      data.secretEnc = input.secret ? secrets.seal(input.secret) : null;
    }
    if (kind === "EMAIL") Object.assign(data, this.#smtp(input.smtp, before));
    else if (input.smtp !== undefined) throw new ValidationError("smtp", "only EMAIL channels take SMTP settings");
    if (kind === "TELEGRAM") {
      const prev = (before?.settings ?? {}) as { chatId?: string };
      const chatId = input.telegram?.chatId ?? prev.chatId;
      if (!chatId) throw new ValidationError("telegram.chatId", "is required for TELEGRAM channels");
      if (input.telegram?.botToken) data.secretEnc = secrets.seal(input.telegram.botToken);
      else if (!before?.secretEnc) throw new ValidationError("telegram.botToken", "is required for TELEGRAM channels");
      data.settings = { chatId };
    } else if (input.telegram !== undefined) throw new ValidationError("telegram", "only TELEGRAM channels take a bot token and chat id");
    return data;
  }

  #smtp(smtp: Input["smtp"], before: NotificationChannel | null) {
    const prev = (before?.settings ?? {}) as Partial<SmtpSettings>;
    if (!smtp && before) return {};
    const merged = { secure: false, username: null, ...prev, ...smtp };
    merged.port ??= merged.secure ? 465 : 587;
    for (const key of ["host", "from", "to"] as const)
      if (merged[key] === undefined) throw new ValidationError(`smtp.${key}`, "is required for EMAIL channels");
    const { password, ...settings } = merged;
    const out: { settings: SmtpSettings; secretEnc?: string | null } = { settings: { ...(settings as SmtpSettings), username: settings.username || null } };
    if (password !== undefined) out.secretEnc = password ? this.deps.secrets.seal(password) : null;
    if (out.settings.username && password === undefined && !before?.secretEnc) throw new ValidationError("smtp.password", "is required with a username");
    return out;
  }

  async #write(
    principal: Principal,
    action: "create" | "update" | "delete",
    before: NotificationChannel | null,
    write: (tx: Tx) => Promise<NotificationChannel>,
  ) {
    return this.deps.prisma.$transaction(async (tx) => {
      const after = await write(tx);
      await this.deps.audit.record(
        actorName(principal),
        `notificationChannel.${action}`,
        "NotificationChannel",
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

/** The row as the audit log keeps it: secrets as flags, the URL as its host. */
function forAudit(row: NotificationChannel | null): object | null {
  if (!row) return null;
  const { secretEnc, urlEnc, legacyUrl, ...rest } = row;
  return { ...rest, urlSet: urlEnc != null || legacyUrl != null, secretSet: secretEnc != null };
}
