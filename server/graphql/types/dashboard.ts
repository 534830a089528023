import type { Dashboard, DashboardDatabase, StorageUsage } from "../../backups/dashboard.service.ts";
import { builder } from "../builder.ts";
import { CopyProblemRef } from "./copy-problem.ts";
import { Label } from "./server.ts";
import type { DailyRuns } from "../../backups/dashboard.service.ts";
import type { ComponentHealth } from "../../observability/health-monitor.ts";

const DatabaseStatusEnum = builder.enumType("DatabaseStatus", {
  values: ["OK", "FAILING", "OVERDUE", "DEGRADED", "NEVER", "ACKNOWLEDGED", "DROPPED"] as const,
  description:
    "OK: recent success with an intact copy on every target; FAILING: the last run failed; OVERDUE: no success by its expected time; DEGRADED: its newest good backup lacks an intact copy on a target (missingCopies); NEVER: never backed up; ACKNOWLEDGED: an operator acknowledged its problem and no run started since; DROPPED: the last health check did not find it on its server.",
});

const AcknowledgementRef = builder.objectRef<{ at: Date; by: string; note: string | null }>("DatabaseAcknowledgement").implement({
  fields: (t) => ({
    at: t.expose("at", { type: "DateTime" }),
    by: t.exposeString("by"),
    note: t.exposeString("note", { nullable: true }),
  }),
});

const DashboardDatabaseRef = builder.objectRef<DashboardDatabase>("DashboardDatabase").implement({
  description: "A protected database: its last good backup against its RPO, its last failure, its next run.",
  fields: (t) => ({
    serverId: t.exposeID("serverId"),
    serverName: t.exposeString("serverName"),
    serverLabels: t.field({ type: [Label], description: "The server's labels now (filter the dashboard by them).", resolve: (d) => d.serverLabels }),
    database: t.exposeString("database", { nullable: true, description: "Null for a covered server never backed up yet." }),
    status: t.field({ type: DatabaseStatusEnum, resolve: (d) => d.status }),
    lastSuccessAt: t.expose("lastSuccessAt", { type: "DateTime", nullable: true }),
    ageSeconds: t.exposeInt("ageSeconds", { nullable: true, description: "Age of the last successful backup." }),
    rpoSeconds: t.exposeInt("rpoSeconds", { nullable: true, description: "The shortest interval of its schedules." }),
    expectedBy: t.expose("expectedBy", { type: "DateTime", nullable: true }),
    overdue: t.exposeBoolean("overdue"),
    lastFailureAt: t.expose("lastFailureAt", { type: "DateTime", nullable: true }),
    lastError: t.exposeString("lastError", { nullable: true }),
    nextRunAt: t.expose("nextRunAt", { type: "DateTime", nullable: true }),
    schedules: t.exposeStringList("schedules"),
    acknowledgement: t.field({
      type: AcknowledgementRef,
      nullable: true,
      description: "Who acknowledged its problem (ACKNOWLEDGED).",
      resolve: (d) => d.acknowledgement,
    }),
    missingCopies: t.field({
      type: [CopyProblemRef],
      description: "The targets its newest good backup lacks an intact copy on (why it is DEGRADED).",
      resolve: (d) => d.missingCopies,
    }),
  }),
});

const DailyRunsRef = builder.objectRef<DailyRuns>("DailyRuns").implement({
  description: "One UTC day's finished runs, judged by the one definition of success (SUCCEEDED; retention-deleted runs keep their outcome).",
  fields: (t) => ({
    day: t.exposeString("day", { description: "YYYY-MM-DD (UTC)." }),
    succeeded: t.exposeInt("succeeded"),
    finished: t.exposeInt("finished"),
    rate: t.exposeFloat("rate", { nullable: true, description: "succeeded / finished, 0..1." }),
  }),
});

const StorageUsageRef = builder.objectRef<StorageUsage>("StorageUsage").implement({
  description: "Stored artifacts on one target (recomputed at most every 30 s).",
  fields: (t) => ({
    target: t.prismaField({ type: "StorageTarget", resolve: (_q, u) => u.target }),
    bytes: t.field({ type: "BigInt", resolve: (u) => u.bytes }),
    objects: t.exposeInt("objects"),
  }),
});

const TotalsRef = builder.objectRef<Dashboard["totals"]>("DashboardTotals").implement({
  fields: (t) => ({
    backups: t.exposeInt("backups", { description: "Backup records in the history." }),
    backups24h: t.exposeInt("backups24h"),
    successRate24h: t.exposeFloat("successRate24h", {
      nullable: true,
      description: "Succeeded runs over finished runs, 0..1 (PARTIAL counts as not succeeded; runs retention deleted keep their outcome).",
    }),
    successRate7d: t.exposeFloat("successRate7d", { nullable: true }),
    storage: t.field({ type: [StorageUsageRef], resolve: (x) => x.storage }),
  }),
});

const ComponentHealthRef = builder.objectRef<ComponentHealth>("ComponentHealth").implement({
  description: "The last periodic health check of a server or storage target (SQLGUARD_HEALTH_INTERVAL_SECONDS).",
  fields: (t) => ({
    kind: t.exposeString("kind", { description: "SERVER or STORAGE_TARGET." }),
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    up: t.exposeBoolean("up"),
    checkedAt: t.expose("checkedAt", { type: "DateTime" }),
    latencyMs: t.exposeInt("latencyMs", { nullable: true }),
    error: t.exposeString("error", { nullable: true }),
  }),
});

const DashboardRef = builder.objectRef<Dashboard>("Dashboard").implement({
  description: "Is every database protected? The console's first page in one query.",
  fields: (t) => ({
    generatedAt: t.expose("generatedAt", { type: "DateTime" }),
    databases: t.field({
      type: [DashboardDatabaseRef],
      description: "Problems first: overdue, failing, degraded, never, then ok.",
      resolve: (d) => d.databases,
    }),
    running: t.prismaField({ type: ["Backup"], description: "Pending and running backups.", resolve: (_q, d) => d.running as never }),
    recentFailures: t.prismaField({
      type: ["Backup"],
      description: "The last 10 failed or partial backups of the past 7 days.",
      resolve: (_q, d) => d.recentFailures as never,
    }),
    totals: t.field({ type: TotalsRef, resolve: (d) => d.totals }),
    components: t.field({
      type: [ComponentHealthRef],
      description: "Reachability of every enabled server and storage target (empty until the first check).",
      resolve: (d) => d.components,
    }),
    daily: t.field({ type: [DailyRunsRef], description: "Runs per day over the last 14 days, oldest first.", resolve: (d) => d.daily }),
  }),
});

builder.mutationFields((t) => ({
  acknowledgeDatabaseProblem: t.field({
    type: AcknowledgementRef,
    description:
      "Operator: acknowledges a database's FAILING, OVERDUE or DEGRADED state (e.g. it was dropped on purpose): the dashboard shows it as ACKNOWLEDGED until a run of it starts. Audited.",
    args: {
      serverId: t.arg.id({ required: true }),
      database: t.arg.string({ required: true }),
      note: t.arg.string({ description: "Why (at most 500 characters)." }),
    },
    resolve: async (_r, args, ctx) => {
      const row = await ctx.services.acknowledgements.acknowledge(ctx.principal!, args);
      return { at: row.acknowledgedAt, by: row.acknowledgedBy, note: row.note };
    },
  }),
}));

builder.queryFields((t) => ({
  dashboard: t.field({ type: DashboardRef, resolve: (_r, _a, ctx) => ctx.services.dashboard.get(ctx.principal!) }),
}));
