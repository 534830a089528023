import { NOTIFICATION_EVENTS } from "../../notifications/events.ts";
import { eventsOf, scheduleIdsOf, selectorOf } from "../../notifications/rules.service.ts";
import { builder } from "../builder.ts";

export const NotificationEventEnum = builder.enumType("NotificationEvent", {
  values: NOTIFICATION_EVENTS,
  description:
    "FAILURE (a backup failed or reached only some targets), RECOVERY (the first success after failures), OVERDUE, DRILL_FAILED, PITR_CHAIN_BROKEN (defined; nothing emits it yet), CORRUPT_COPY (verification: a copy's bytes differ or it is gone), STORAGE_UNREACHABLE (verification could not read a target), SUCCESS.",
});

const LabelMatch = builder.objectRef<{ key: string; value: string }>("LabelMatch").implement({
  fields: (t) => ({ key: t.exposeString("key"), value: t.exposeString("value") }),
});
const ServerSelector = builder.objectRef<{ names: string[]; matchLabels: Array<{ key: string; value: string }> }>("ServerSelector").implement({
  description: "Servers by name, or by labels (every pair must match). Both empty: every server.",
  fields: (t) => ({ names: t.exposeStringList("names"), matchLabels: t.field({ type: [LabelMatch], resolve: (s) => s.matchLabels }) }),
});

builder.prismaObject("NotificationRule", {
  description: "Which events, for which servers and schedules, go to one channel; with a quiet period for repeated failures.",
  fields: (t) => ({
    id: t.exposeID("id"),
    channelId: t.exposeID("channelId"),
    channel: t.relation("channel"),
    events: t.field({ type: [NotificationEventEnum], resolve: (r) => eventsOf(r) }),
    serverSelector: t.field({
      type: ServerSelector,
      resolve: (r) => {
        const s = selectorOf(r);
        return { names: s.names ?? [], matchLabels: Object.entries(s.matchLabels ?? {}).map(([key, value]) => ({ key, value })) };
      },
    }),
    scheduleIds: t.idList({ description: "Empty: every backup, manual ones included.", resolve: (r) => scheduleIdsOf(r) }),
    quietMinutes: t.exposeInt("quietMinutes", {
      description: "After a message about a failing database, its further failures stay quiet this long (then one reminder); 0 = every failure is sent.",
    }),
    enabled: t.exposeBoolean("enabled"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

const LabelMatchInput = builder.inputType("LabelMatchInput", {
  fields: (t) => ({ key: t.string({ required: true }), value: t.string({ required: true }) }),
});
const ServerSelectorInput = builder.inputType("ServerSelectorInput", {
  fields: (t) => ({ names: t.stringList(), matchLabels: t.field({ type: [LabelMatchInput] }) }),
});

const ruleFields = (t: PothosSchemaTypes.InputFieldBuilder<PothosSchemaTypes.ExtendDefaultTypes<object>, "InputObject">) => ({
  serverSelector: t.field({ type: ServerSelectorInput, description: "null or empty: every server." }),
  scheduleIds: t.idList({ description: "null or empty: every backup, manual ones included." }),
  quietMinutes: t.int({ description: "Default 60; 0 = every failure is sent." }),
  enabled: t.boolean(),
});

const CreateRuleInput = builder.inputType("CreateNotificationRuleInput", {
  fields: (t) => ({
    channelId: t.id({ required: true }),
    events: t.field({ type: [NotificationEventEnum], required: true }),
    ...ruleFields(t as never),
  }),
});
const UpdateRuleInput = builder.inputType("UpdateNotificationRuleInput", {
  description: "Omitted fields stay.",
  fields: (t) => ({ channelId: t.id(), events: t.field({ type: [NotificationEventEnum] }), ...ruleFields(t as never) }),
});

builder.queryFields((t) => ({
  notificationRules: t.prismaField({
    type: ["NotificationRule"],
    args: { channelId: t.arg.id() },
    resolve: (_q, _r, { channelId }, ctx) => ctx.services.notificationRules.list(ctx.principal, channelId),
  }),
}));

builder.mutationFields((t) => ({
  createNotificationRule: t.prismaField({
    type: "NotificationRule",
    args: { input: t.arg({ type: CreateRuleInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => ctx.services.notificationRules.create(ctx.principal, input),
  }),
  updateNotificationRule: t.prismaField({
    type: "NotificationRule",
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateRuleInput, required: true }) },
    resolve: (_q, _r, { id, input }, ctx) => ctx.services.notificationRules.update(ctx.principal, id, input),
  }),
  deleteNotificationRule: t.prismaField({
    type: "NotificationRule",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.notificationRules.delete(ctx.principal, id),
  }),
}));
