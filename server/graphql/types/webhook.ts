import * as E from "../../db/generated/enums.ts";
import type { DeliveryResult } from "../../notifications/delivery.ts";
import { builder } from "../builder.ts";

const WebhookFormatEnum = builder.enumType(E.WebhookFormat, {
  name: "WebhookFormat",
  description: "GENERIC: a signed JSON POST per event. HEALTHCHECKS: healthchecks.io-style pings (<url>/start, <url>, <url>/fail) for every backup in scope.",
});

builder.prismaObject("Webhook", {
  description: "Where backup notifications go. Admin only: the URL may carry a token.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    url: t.exposeString("url"),
    format: t.expose("format", { type: WebhookFormatEnum }),
    onFailure: t.exposeBoolean("onFailure", { description: "GENERIC: a backup failed or reached only some targets." }),
    onRecovery: t.exposeBoolean("onRecovery", { description: "GENERIC: a backup succeeded after the previous one of its database failed." }),
    onOverdue: t.exposeBoolean("onOverdue", { description: "GENERIC: a database has no successful backup since a schedule expected one." }),
    onSuccess: t.exposeBoolean("onSuccess", { description: "GENERIC: every successful backup (recoveries included)." }),
    scheduleId: t.exposeID("scheduleId", { nullable: true, description: "Only this schedule's backups; null = every backup, manual ones included." }),
    schedule: t.relation("schedule", { nullable: true }),
    enabled: t.exposeBoolean("enabled"),
    secretSet: t.boolean({
      description: "Whether an HMAC secret is stored (deliveries then carry X-SQLGuard-Signature). It is never returned.",
      resolve: (w) => w.secretEnc != null,
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

const WebhookInput = builder.inputType("WebhookInput", {
  description: "On create, name and url are required; on update, omitted fields stay.",
  fields: (t) => ({
    name: t.string(),
    url: t.string({ description: "http(s) URL without credentials; for HEALTHCHECKS the check's ping URL." }),
    secret: t.string({ description: 'HMAC-SHA256 key for X-SQLGuard-Signature. Stored encrypted, never returned. On update, null or "" removes it.' }),
    format: t.field({ type: WebhookFormatEnum }),
    onFailure: t.boolean(),
    onRecovery: t.boolean(),
    onOverdue: t.boolean(),
    onSuccess: t.boolean(),
    scheduleId: t.id({ description: "Only this schedule's backups; null = every backup." }),
    enabled: t.boolean(),
  }),
});

const WebhookTestResult = builder.objectRef<DeliveryResult>("WebhookTestResult").implement({
  description: "The outcome of one test delivery (a single attempt).",
  fields: (t) => ({
    ok: t.exposeBoolean("ok"),
    status: t.exposeInt("status", { nullable: true, description: "The receiver's HTTP status; null when it did not answer." }),
    error: t.exposeString("error", { nullable: true }),
  }),
});

builder.queryFields((t) => ({
  webhooks: t.prismaField({ type: ["Webhook"], resolve: (_q, _r, _a, ctx) => ctx.services.webhooks.list(ctx.principal) }),
  webhook: t.prismaField({
    type: "Webhook",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.webhooks.get(ctx.principal, id),
  }),
}));

builder.mutationFields((t) => ({
  createWebhook: t.prismaField({
    type: "Webhook",
    args: { input: t.arg({ type: WebhookInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => ctx.services.webhooks.create(ctx.principal, input),
  }),
  updateWebhook: t.prismaField({
    type: "Webhook",
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: WebhookInput, required: true }) },
    resolve: (_q, _r, { id, input }, ctx) => ctx.services.webhooks.update(ctx.principal, id, input),
  }),
  deleteWebhook: t.prismaField({
    type: "Webhook",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.webhooks.delete(ctx.principal, id),
  }),
  testWebhook: t.field({
    type: WebhookTestResult,
    description: "Sends a TEST event to a webhook now (one attempt) and reports the receiver's answer.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => ctx.services.notifications.test(ctx.principal, id),
  }),
}));
