import * as E from "../../db/generated/enums.ts";
import { type DeliveryFilter, smtpOf } from "../../notifications/channels.service.ts";
import type { DeliveryResult } from "../../notifications/delivery.ts";
import { builder } from "../builder.ts";
import { idCursor, parseIdCursor, prismaConnection } from "../connection.ts";

export const NotificationKindEnum = builder.enumType(E.NotificationKind, {
  name: "NotificationKind",
  description:
    "EMAIL (SMTP), SLACK (incoming webhook, Block Kit), TEAMS (Workflows webhook, Adaptive Card), DISCORD (webhook, embed), TELEGRAM (bot sendMessage), NTFY (topic URL), WEBHOOK (signed JSON POST), HEALTHCHECKS (healthchecks.io-style pings).",
});

const DeliveryStatusEnum = builder.enumType(E.NotificationDeliveryStatus, { name: "NotificationDeliveryStatus" });

type Smtp = NonNullable<ReturnType<typeof smtpOf>>;
const SmtpSettings = builder.objectRef<Smtp>("SmtpSettings").implement({
  description: "An EMAIL channel's SMTP server. The password is never returned.",
  fields: (t) => ({
    host: t.exposeString("host"),
    port: t.exposeInt("port"),
    secure: t.exposeBoolean("secure", { description: "true: implicit TLS (port 465); false: STARTTLS when offered, required with a username." }),
    username: t.exposeString("username", { nullable: true }),
    passwordSet: t.exposeBoolean("passwordSet"),
    from: t.exposeString("from"),
    to: t.exposeStringList("to"),
  }),
});

const TelegramSettings = builder.objectRef<{ chatId: string; botTokenSet: boolean }>("TelegramSettings").implement({
  fields: (t) => ({ chatId: t.exposeString("chatId"), botTokenSet: t.exposeBoolean("botTokenSet", { description: "The bot token is never returned." }) }),
});

builder.prismaObject("NotificationChannel", {
  description: "Where notifications go. Admin only. URLs, passwords and tokens are stored encrypted and never returned.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    kind: t.expose("kind", { type: NotificationKindEnum }),
    enabled: t.exposeBoolean("enabled"),
    urlSet: t.boolean({
      description: "Whether a URL is stored (it may carry a token, so only its host is shown).",
      resolve: (c) => c.urlEnc != null || c.legacyUrl != null,
    }),
    urlHost: t.string({ nullable: true, resolve: (c) => c.urlHost ?? (c.legacyUrl ? new URL(c.legacyUrl).host : null) }),
    secretSet: t.boolean({
      description: "WEBHOOK/HEALTHCHECKS: an HMAC key; NTFY: an access token; EMAIL: the SMTP password; TELEGRAM: the bot token.",
      resolve: (c) => c.secretEnc != null,
    }),
    smtp: t.field({ type: SmtpSettings, nullable: true, resolve: (c) => smtpOf(c) }),
    telegram: t.field({
      type: TelegramSettings,
      nullable: true,
      resolve: (c) => (c.kind === "TELEGRAM" ? { chatId: String((c.settings as { chatId?: string }).chatId ?? ""), botTokenSet: c.secretEnc != null } : null),
    }),
    weeklyReport: t.exposeBoolean("weeklyReport", {
      description: "EMAIL: the weekly report goes here (SQLGUARD_WEEKLY_REPORT_CRON in SQLGUARD_WEEKLY_REPORT_TIMEZONE; Mondays 08:00 UTC by default).",
    }),
    lastWeeklyReportAt: t.expose("lastWeeklyReportAt", { type: "DateTime", nullable: true }),
    rules: t.relation("rules", { query: { orderBy: { id: "asc" } } }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

builder.prismaObject("NotificationDelivery", {
  description: "One message to a channel (the delivery log): sent, failed after its retries, or held back by a quiet period.",
  fields: (t) => ({
    id: t.exposeID("id"),
    channelId: t.exposeID("channelId"),
    channel: t.relation("channel"),
    ruleId: t.exposeID("ruleId", { nullable: true }),
    event: t.exposeString("event", { description: "A NotificationEvent, or TEST, STARTED, WEEKLY_REPORT." }),
    serverName: t.exposeString("serverName", { nullable: true }),
    database: t.exposeString("database", { nullable: true }),
    backupId: t.exposeID("backupId", { nullable: true }),
    summary: t.exposeString("summary"),
    status: t.expose("status", { type: DeliveryStatusEnum }),
    attempts: t.exposeInt("attempts"),
    lastError: t.exposeString("lastError", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
  }),
});

const SmtpInput = builder.inputType("SmtpInput", {
  description: 'On update, omitted fields stay; password null or "" removes it.',
  fields: (t) => ({
    host: t.string(),
    port: t.int({ description: "Default 587, or 465 when secure." }),
    secure: t.boolean({ description: "Implicit TLS; otherwise STARTTLS (required when a username is set)." }),
    username: t.string(),
    password: t.string({ description: "Stored encrypted, never returned." }),
    from: t.string(),
    to: t.stringList({ description: "Recipients (a single string is taken as a list of one)." }),
  }),
});

const TelegramInput = builder.inputType("TelegramInput", {
  fields: (t) => ({
    botToken: t.string({ description: "From @BotFather. Stored encrypted, never returned." }),
    chatId: t.string({ description: "The chat, group or channel id (or @channelname)." }),
  }),
});

const channelFields = (t: PothosSchemaTypes.InputFieldBuilder<PothosSchemaTypes.ExtendDefaultTypes<object>, "InputObject">) => ({
  url: t.string({
    description:
      "SLACK/TEAMS/DISCORD: the webhook URL; NTFY: the topic URL; WEBHOOK/HEALTHCHECKS: the receiver or ping URL; TELEGRAM: the Bot API base (default https://api.telegram.org). Stored encrypted, never returned.",
  }),
  smtp: t.field({ type: SmtpInput }),
  telegram: t.field({ type: TelegramInput }),
  secret: t.string({ description: 'WEBHOOK/HEALTHCHECKS: HMAC key for X-SQLGuard-Signature; NTFY: access token. On update, null or "" removes it.' }),
  weeklyReport: t.boolean(),
  enabled: t.boolean(),
});

const CreateInput = builder.inputType("CreateNotificationChannelInput", {
  fields: (t) => ({ name: t.string({ required: true }), kind: t.field({ type: NotificationKindEnum, required: true }), ...channelFields(t as never) }),
});
const UpdateInput = builder.inputType("UpdateNotificationChannelInput", {
  description: "Omitted fields stay. The kind cannot change.",
  fields: (t) => ({ name: t.string(), ...channelFields(t as never) }),
});

const TestResult = builder.objectRef<DeliveryResult>("NotificationTestResult").implement({
  description: "The outcome of one test message (a single attempt).",
  fields: (t) => ({
    ok: t.exposeBoolean("ok"),
    status: t.exposeInt("status", { nullable: true, description: "The receiver's HTTP status; null for e-mail or when it did not answer." }),
    error: t.exposeString("error", { nullable: true }),
  }),
});

type DeliveryPage = { nodes: Array<{ id: number }>; hasNextPage: boolean; after?: string | null; filter: DeliveryFilter };
const NotificationDeliveryConnection = prismaConnection<DeliveryPage["nodes"][number], DeliveryPage>("NotificationDelivery", "NotificationDelivery", {
  description: "A page of the delivery log, newest first (a Relay connection). Pass pageInfo.endCursor as `after` for the next page.",
  cursor: idCursor,
  totalCount: (page, ctx) => ctx.services.notificationChannels.deliveryCount(ctx.principal, page.filter),
});

builder.queryFields((t) => ({
  notificationChannels: t.prismaField({ type: ["NotificationChannel"], resolve: (_q, _r, _a, ctx) => ctx.services.notificationChannels.list(ctx.principal) }),
  notificationChannel: t.prismaField({
    type: "NotificationChannel",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.notificationChannels.get(ctx.principal, id),
  }),
  notificationDeliveries: t.field({
    type: NotificationDeliveryConnection,
    description: "The delivery log, newest first (a Relay connection). Admin role.",
    args: {
      channelId: t.arg.id(),
      first: t.arg.int({ defaultValue: 100, description: "At most 500." }),
      after: t.arg.string({ description: "pageInfo.endCursor (or an edge's cursor) of the previous page." }),
    },
    resolve: async (_r, { channelId, first, after }, ctx) => {
      const filter: DeliveryFilter = { channelId };
      const page = await ctx.services.notificationChannels.deliveries(ctx.principal, filter, {
        first: first ?? 100,
        after: parseIdCursor(after, "notificationDeliveries"),
      });
      return { ...page, after, filter };
    },
  }),
}));

builder.mutationFields((t) => ({
  createNotificationChannel: t.prismaField({
    type: "NotificationChannel",
    args: { input: t.arg({ type: CreateInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => ctx.services.notificationChannels.create(ctx.principal, input),
  }),
  updateNotificationChannel: t.prismaField({
    type: "NotificationChannel",
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateInput, required: true }) },
    resolve: (_q, _r, { id, input }, ctx) => ctx.services.notificationChannels.update(ctx.principal, id, input),
  }),
  deleteNotificationChannel: t.prismaField({
    type: "NotificationChannel",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.notificationChannels.delete(ctx.principal, id),
  }),
  testNotificationChannel: t.field({
    type: TestResult,
    description: "Sends a test message to a channel now (one attempt) and reports the outcome; it appears in the delivery log.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => ctx.services.notifier.test(ctx.principal, id),
  }),
  sendWeeklyReport: t.field({
    type: TestResult,
    description:
      "Sends the weekly report (every database's status, last good backup, RPO compliance, drills, storage growth per target with a chart) to an EMAIL channel now, whether or not it has the weekly report turned on. Admin role; it appears in the delivery log.",
    args: { channelId: t.arg.id({ required: true }) },
    resolve: (_r, { channelId }, ctx) => ctx.services.weeklyReport.sendNow(ctx.principal, Number(channelId)),
  }),
  retryNotificationDelivery: t.field({
    type: TestResult,
    description: "Sends a FAILED delivery's message again (a new delivery, with retries).",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => ctx.services.notifier.retry(ctx.principal, id),
  }),
}));
