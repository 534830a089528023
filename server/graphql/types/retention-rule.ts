import { builder } from "../builder.ts";

builder.prismaObject("RetentionRule", {
  description:
    "How long backups of one schedule are kept on one storage target. A backup is kept when any rule keeps it; the newest minKeep successful backups are never deleted.",
  fields: (t) => ({
    id: t.exposeID("id"),
    scheduleId: t.exposeID("scheduleId"),
    storageTargetId: t.exposeID("storageTargetId"),
    schedule: t.relation("schedule"),
    storageTarget: t.relation("storageTarget"),
    keepForever: t.exposeBoolean("keepForever"),
    maxAgeDays: t.exposeInt("maxAgeDays", { nullable: true }),
    keepLast: t.exposeInt("keepLast", { nullable: true }),
    gfsHourly: t.exposeInt("gfsHourly", { nullable: true }),
    gfsDaily: t.exposeInt("gfsDaily", { nullable: true }),
    gfsWeekly: t.exposeInt("gfsWeekly", { nullable: true }),
    gfsMonthly: t.exposeInt("gfsMonthly", { nullable: true }),
    gfsYearly: t.exposeInt("gfsYearly", { nullable: true }),
    minKeep: t.exposeInt("minKeep"),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

const RetentionRuleInput = builder.inputType("RetentionRuleInput", {
  description: "The whole rule for a schedule and target: fields left out are unset. keepForever excludes the limits.",
  fields: (t) => ({
    scheduleId: t.id({ required: true }),
    storageTargetId: t.id({ required: true }),
    keepForever: t.boolean(),
    maxAgeDays: t.int(),
    keepLast: t.int(),
    gfsHourly: t.int(),
    gfsDaily: t.int(),
    gfsWeekly: t.int(),
    gfsMonthly: t.int(),
    gfsYearly: t.int(),
    minKeep: t.int({ description: "Successful backups never deleted, whatever their age (default 1)." }),
  }),
});

builder.queryFields((t) => ({
  retentionRules: t.prismaField({
    type: ["RetentionRule"],
    args: { scheduleId: t.arg.id(), storageTargetId: t.arg.id() },
    resolve: (_q, _r, args, ctx) => ctx.services.retentionRules.list(args),
  }),
}));

builder.mutationFields((t) => ({
  setRetentionRule: t.prismaField({
    type: "RetentionRule",
    description: "Creates or replaces the rule for a schedule and storage target.",
    args: { input: t.arg({ type: RetentionRuleInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => ctx.services.retentionRules.set(ctx.principal!, input),
  }),
  deleteRetentionRule: t.prismaField({
    type: "RetentionRule",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.retentionRules.delete(ctx.principal!, id),
  }),
}));
