import * as E from "../../db/generated/enums.ts";
import type { DrillFilter } from "../../restore/drills.service.ts";
import { builder } from "../builder.ts";
import { idCursor, parseIdCursor, prismaConnection } from "../connection.ts";

const DrillStatusEnum = builder.enumType(E.DrillStatus, { name: "DrillStatus" });
const DrillTriggerEnum = builder.enumType(E.DrillTrigger, {
  name: "DrillTrigger",
  description: "AFTER_BACKUP (schedule drills), CRON (the schedule's drill cron) or MANUAL.",
});
const DrillKindEnum = builder.enumType(E.DrillKind, {
  name: "DrillKind",
  description: "DUMP: the backup restored alone; PITR: a dump plus the archived binlog replayed to a row-count checkpoint (point-in-time drill).",
});
const DrillBaselineEnum = builder.enumType(E.DrillBaseline, {
  name: "DrillBaseline",
  description:
    "Where the drill's tables and objects came from: CAPTURED, right before the dump (strict); LIVE_SOURCE, the source now, as none were captured; NONE, nowhere. Row counts come from the dump itself, counted while it is restored; CHECKPOINT (point-in-time drills): tables and row counts recorded on the source at the drill's binlog position.",
});

builder.prismaObject("RestoreDrill", {
  description: "A backup restored into a scratch database on a verification server, compared with what was captured, then dropped.",
  fields: (t) => ({
    id: t.exposeID("id"),
    status: t.expose("status", { type: DrillStatusEnum }),
    instanceId: t.exposeString("instanceId", {
      nullable: true,
      description: "The SQLGuard instance that ran (or runs) the drill; null while it waits in the queue.",
    }),
    trigger: t.expose("trigger", { type: DrillTriggerEnum }),
    kind: t.expose("kind", { type: DrillKindEnum }),
    pointInTime: t.expose("pointInTime", {
      type: "DateTime",
      nullable: true,
      description: "PITR drills: when the row-count checkpoint restored to was taken on the source.",
    }),
    stopAtPosition: t.exposeString("stopAtPosition", { nullable: true, description: "PITR drills: the binlog position (file:offset) restored to." }),
    backupId: t.exposeID("backupId", { nullable: true }),
    backup: t.relation("backup", { nullable: true }),
    schedule: t.relation("schedule", { nullable: true }),
    server: t.relation("server", { nullable: true, description: "The verification server; null once deleted (serverName stays)." }),
    serverName: t.exposeString("serverName"),
    sourceServerName: t.exposeString("sourceServerName"),
    database: t.exposeString("database", { description: "The backed-up database." }),
    scratchDatabase: t.exposeString("scratchDatabase"),
    baseline: t.expose("baseline", { type: DrillBaselineEnum, nullable: true }),
    requestedBy: t.exposeString("requestedBy"),
    startedAt: t.expose("startedAt", { type: "DateTime" }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    restoreMs: t.exposeInt("restoreMs", {
      nullable: true,
      description: "Restore time, the RTO figure: database created, artifact read, verified and committed.",
    }),
    durationMs: t.exposeInt("durationMs", { nullable: true }),
    restoredBytes: t.expose("restoredBytes", { type: "BigInt", nullable: true }),
    details: t.string({
      nullable: true,
      description: "JSON: per-table expected and actual rows, missing and extra objects, problems and notes.",
      resolve: (d) => (d.details == null ? null : JSON.stringify(d.details)),
    }),
    error: t.exposeString("error", { nullable: true, description: "Why it failed." }),
    scratchDropped: t.exposeBoolean("scratchDropped"),
  }),
});

builder.prismaObjectField("Backup", "drills", (t) => t.relation("drills", { description: "Restore drills of this backup." }));

builder.prismaObjectFields("Schedule", (t) => ({
  drillEnabled: t.exposeBoolean("drillEnabled", { description: "Restore drills of this schedule's backups." }),
  drillServer: t.relation("drillServer", { nullable: true, description: "The verification server drills restore into." }),
  drillCron: t.exposeString("drillCron", { nullable: true, description: "Drill on this cron instead of after every successful backup." }),
  drillPitr: t.exposeBoolean("drillPitr", {
    description: "Point-in-time drills: a dump plus the archived binlog replayed to a random row-count checkpoint (a dump drill until one exists).",
  }),
}));

const ScheduleDrillInput = builder.inputType("ScheduleDrillInput", {
  fields: (t) => ({
    enabled: t.boolean({ required: true }),
    serverId: t.id({ description: "The verification server (required to enable)." }),
    cron: t.string({ description: "Drill on this cron (the schedule's timezone); omitted = after every successful backup." }),
    pitr: t.boolean({
      description:
        "Point-in-time drills (MariaDB with point-in-time recovery on): restore to a random row-count checkpoint inside the recoverable window. Omitted = unchanged.",
    }),
  }),
});

type Page = { nodes: Array<{ id: number }>; hasNextPage: boolean; after?: string | null; filter: DrillFilter };
const RestoreDrillConnection = prismaConnection<Page["nodes"][number], Page>("RestoreDrill", "RestoreDrill", {
  description: "A page of restore drills, newest first (a Relay connection). Pass pageInfo.endCursor as `after` for the next page.",
  cursor: idCursor,
  totalCount: (page, ctx) => ctx.services.drills.count(page.filter),
});

builder.queryFields((t) => ({
  restoreDrills: t.field({
    type: RestoreDrillConnection,
    description: "Drills newest first: of a backup, or of a database (sourceServerName + database), optionally by status (a Relay connection).",
    args: {
      backupId: t.arg.id(),
      serverName: t.arg.string(),
      database: t.arg.string(),
      status: t.arg({ type: [DrillStatusEnum] }),
      first: t.arg.int({ defaultValue: 50, description: "At most 500." }),
      after: t.arg.string({ description: "pageInfo.endCursor (or an edge's cursor) of the previous page." }),
    },
    resolve: async (_r, { first, after, ...args }, ctx) => {
      const filter: DrillFilter = args;
      const page = await ctx.services.drills.list(filter, { first: first ?? 50, after: parseIdCursor(after, "restoreDrills") });
      return { ...page, after, filter };
    },
  }),
}));

builder.mutationFields((t) => ({
  runRestoreDrill: t.prismaField({
    type: "RestoreDrill",
    description: "Drills a backup now on a verification server: returned at once (RUNNING), it finishes PASSED or FAILED.",
    args: { backupId: t.arg.id({ required: true }), serverId: t.arg.id({ required: true }) },
    resolve: (_q, _r, { backupId, serverId }, ctx) => ctx.services.drills.runRestoreDrill(ctx.principal!, backupId, serverId),
  }),
  runPitrDrill: t.prismaField({
    type: "RestoreDrill",
    description:
      "A point-in-time drill now: the newest dump before a random row-count checkpoint of the database (or checkpointId) restored into a scratch database on drillServerId, the archived binlog replayed to the checkpoint's exact position, row counts compared with it. Returned at once (RUNNING); a broken binlog chain fails it, saying where.",
    args: {
      serverId: t.arg.id({ required: true, description: "The source server." }),
      database: t.arg.string({ required: true }),
      drillServerId: t.arg.id({ required: true, description: "The verification server." }),
      checkpointId: t.arg.id({ description: "This checkpoint instead of a random one." }),
    },
    resolve: (_q, _r, args, ctx) => ctx.services.drills.runPitrDrill(ctx.principal!, args),
  }),
  setScheduleDrill: t.prismaField({
    type: "Schedule",
    description: "Turns restore drills of a schedule's backups on or off. Admin role.",
    args: { scheduleId: t.arg.id({ required: true }), input: t.arg({ type: ScheduleDrillInput, required: true }) },
    resolve: (_q, _r, { scheduleId, input }, ctx) => ctx.services.drills.setScheduleDrill(ctx.principal!, scheduleId, input),
  }),
}));
