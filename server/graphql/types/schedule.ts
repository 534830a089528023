import { nextRuns } from "../../catalog/cron.ts";
import { cronProblem, timezoneProblem } from "../../catalog/validate.ts";
import { builder } from "../builder.ts";
import type { GraphQLContext } from "../context.ts";
import { MissedRunPolicyEnum } from "./enums.ts";
import { labelsOf } from "../../catalog/servers.service.ts";
import { scheduleCovers, selectorOf } from "../../catalog/server-selector.ts";
import { Label, LabelInput, ServerType } from "./server.ts";
import { StorageTargetType } from "./storage-target.ts";

type Links = { serverIds: number[]; storageTargetIds: number[] };

/** The schedule's chosen servers and targets: already on rows from the service, else loaded. */
async function linksOf(s: { id: number } & Partial<Links>, ctx: GraphQLContext): Promise<Links> {
  if (s.serverIds && s.storageTargetIds) return { serverIds: s.serverIds, storageTargetIds: s.storageTargetIds };
  return ctx.services.schedules.get(s.id);
}

async function byIdOf<T extends { id: number }>(rows: Promise<T[]>): Promise<Map<number, T>> {
  return new Map((await rows).map((r) => [r.id, r]));
}

builder.prismaObject("Schedule", {
  description: "When backups run (a cron expression in a time zone), of which servers, to which targets.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    description: t.exposeString("description", { nullable: true }),
    cronExpression: t.exposeString("cronExpression"),
    timezone: t.exposeString("timezone"),
    enabled: t.exposeBoolean("enabled"),
    missedRunPolicy: t.expose("missedRunPolicy", { type: MissedRunPolicyEnum }),
    allServers: t.boolean({
      description: "True when no server is chosen, by id or by label: the schedule covers every enabled server.",
      resolve: async (s, _a, ctx) => (await linksOf(s, ctx)).serverIds.length === 0 && !selectorOf(s.serverLabels),
    }),
    serverLabels: t.field({
      type: [Label],
      description: "Label selector: every enabled server carrying all of these labels is covered (with the servers chosen by id). Empty = none.",
      resolve: (s) => labelsOf({ labels: selectorOf(s.serverLabels) ?? {} }),
    }),
    coveredServers: t.field({
      type: [ServerType],
      description: "The enabled servers the schedule covers now: chosen, matching its labels, or all.",
      resolve: async (s, _a, ctx) => {
        const [{ serverIds }, byId] = await Promise.all([linksOf(s, ctx), ctx.memo("serversById", () => byIdOf(ctx.prisma.server.findMany()))]);
        return [...byId.values()]
          .filter((server) => server.enabled && scheduleCovers({ serverIds, serverLabels: s.serverLabels }, server))
          .sort((a, b) => a.name.localeCompare(b.name));
      },
    }),
    servers: t.field({
      type: [ServerType],
      description: "The servers chosen; empty means all enabled servers.",
      resolve: async (s, _a, ctx) => {
        const [{ serverIds }, byId] = await Promise.all([linksOf(s, ctx), ctx.memo("serversById", () => byIdOf(ctx.prisma.server.findMany()))]);
        return serverIds.flatMap((id) => byId.get(id) ?? []).sort((a, b) => a.name.localeCompare(b.name));
      },
    }),
    storageTargets: t.field({
      type: [StorageTargetType],
      description: "The targets chosen; empty means the default targets.",
      resolve: async (s, _a, ctx) => {
        const [{ storageTargetIds }, byId] = await Promise.all([
          linksOf(s, ctx),
          ctx.memo("storageTargetsById", () => byIdOf(ctx.prisma.storageTarget.findMany())),
        ]);
        return storageTargetIds.flatMap((id) => byId.get(id) ?? []).sort((a, b) => a.name.localeCompare(b.name));
      },
    }),
    retentionRules: t.relation("retentionRules"),
    nextRunAt: t.field({
      type: "DateTime",
      nullable: true,
      description: "The next fire time, or null when the schedule is disabled.",
      resolve: (s) => (s.enabled ? (nextRuns(s.cronExpression, s.timezone, 1)[0] ?? null) : null),
    }),
    nextRuns: t.field({
      type: ["DateTime"],
      description: "The next fire times; empty while the schedule is disabled (it will not run). cronPreview previews an expression.",
      args: { count: t.arg.int({ defaultValue: 5 }) },
      resolve: (s, { count }) => (s.enabled ? nextRuns(s.cronExpression, s.timezone, Math.min(Math.max(count ?? 5, 1), 50)) : []),
    }),
    lastDueAt: t.expose("lastDueAt", { type: "DateTime", nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

const ScheduleInput = builder.inputType("ScheduleInput", {
  description: "On create, name and cronExpression are required; on update, omitted fields stay.",
  fields: (t) => ({
    name: t.string({ description: "e.g. hourly, daily, weekly, monthly, or any name of your own." }),
    description: t.string(),
    cronExpression: t.string({ description: "Five fields, e.g. 0 2 * * *; six (seconds first) only with SQLGUARD_CRON_SECONDS=true." }),
    timezone: t.string({ description: "IANA time zone, default UTC." }),
    enabled: t.boolean(),
    missedRunPolicy: t.field({ type: MissedRunPolicyEnum }),
    serverIds: t.idList({ description: "Servers to back up; empty (and no serverLabels) = all enabled servers. Replaces the list." }),
    serverLabels: t.field({
      type: [LabelInput],
      description: "Also back up every enabled server carrying all of these labels, matched at each run; empty or null = no label selector.",
    }),
    storageTargetIds: t.idList({ description: "Targets to write to; empty = the default targets. Replaces the list." }),
  }),
});

const CronPreview = builder.objectRef<{ valid: boolean; error: string | null; nextRuns: Date[] }>("CronPreview").implement({
  description: "What a cron expression would do, for editors that preview as you type.",
  fields: (t) => ({
    valid: t.exposeBoolean("valid"),
    error: t.exposeString("error", { nullable: true }),
    nextRuns: t.expose("nextRuns", { type: ["DateTime"] }),
  }),
});

builder.queryFields((t) => ({
  schedules: t.prismaField({ type: ["Schedule"], resolve: (_q, _r, _a, ctx) => ctx.services.schedules.list() }),
  schedule: t.prismaField({
    type: "Schedule",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.schedules.get(id),
  }),
  cronPreview: t.field({
    type: CronPreview,
    args: {
      expression: t.arg.string({ required: true }),
      timezone: t.arg.string({ defaultValue: "UTC" }),
      count: t.arg.int({ defaultValue: 5 }),
    },
    resolve: (_r, { expression, timezone, count }) => {
      const tz = timezone ?? "UTC";
      const error = timezoneProblem(tz) ?? cronProblem(expression, tz);
      if (error) return { valid: false, error, nextRuns: [] };
      return { valid: true, error: null, nextRuns: nextRuns(expression, tz, Math.min(Math.max(count ?? 5, 1), 50)) };
    },
  }),
}));

builder.mutationFields((t) => ({
  createSchedule: t.prismaField({
    type: "Schedule",
    args: { input: t.arg({ type: ScheduleInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => ctx.services.schedules.create(ctx.principal!, input),
  }),
  updateSchedule: t.prismaField({
    type: "Schedule",
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: ScheduleInput, required: true }) },
    resolve: (_q, _r, { id, input }, ctx) => ctx.services.schedules.update(ctx.principal!, id, input),
  }),
  deleteSchedule: t.prismaField({
    type: "Schedule",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.schedules.delete(ctx.principal!, id),
  }),
}));
