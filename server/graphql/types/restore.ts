import * as E from "../../db/generated/enums.ts";
import { builder } from "../builder.ts";
import { idCursor, parseIdCursor, prismaConnection } from "../connection.ts";
import type { RestoreFilter as RestoreFilterShape } from "../../restore/restores.service.ts";
import { EngineEnum } from "./enums.ts";
import { RestoreCredentialsInput } from "./restore-preflight.ts";

const RestoreStatusEnum = builder.enumType(E.RestoreStatus, {
  name: "RestoreStatus",
  description: "PENDING → RUNNING → SUCCEEDED / FAILED (a checksum mismatch among the reasons) / CANCELLED.",
});

const RestoreTargetStateEnum = builder.enumType(E.RestoreTargetState, {
  name: "RestoreTargetState",
  description:
    "What a restore left its target database as. UNTOUCHED: exactly as before (a database it created is gone again). CREATED / REPLACED: it holds the backup. INCOMPLETE: part of the backup or leftovers are in it (targetDetail says what to do). UNKNOWN: SQLGuard stopped or lost the server mid-swap (targetDetail says what to check).",
});

builder.prismaObject("Restore", {
  description: "One restore of a backup artifact into a database of a server, with live progress while RUNNING.",
  fields: (t) => ({
    id: t.exposeID("id"),
    status: t.expose("status", { type: RestoreStatusEnum }),
    backupId: t.exposeID("backupId", { nullable: true }),
    backup: t.relation("backup", { nullable: true }),
    storageTarget: t.relation("storageTarget", { nullable: true, description: "Where the artifact was read from." }),
    artifactKey: t.exposeString("artifactKey"),
    server: t.relation("server", { nullable: true, description: "The server restored into; null once deleted (serverName stays)." }),
    serverName: t.exposeString("serverName"),
    engine: t.expose("engine", { type: EngineEnum }),
    sourceDatabase: t.exposeString("sourceDatabase"),
    database: t.exposeString("database", { description: "The database restored into." }),
    overwrite: t.exposeBoolean("overwrite", { description: "The database existed and was replaced." }),
    restoreUser: t.exposeString("restoreUser", { nullable: true, description: "The account restored as, when not the server's backup user." }),
    rewriteDefiners: t.exposeBoolean("rewriteDefiners", {
      description: "The dump's DEFINERs were rewritten to the restoring user (PostgreSQL: its owners dropped).",
    }),
    createdDatabase: t.exposeBoolean("createdDatabase", { description: "SQLGuard created the database (a failed restore drops it again)." }),
    targetState: t.expose("targetState", {
      type: RestoreTargetStateEnum,
      nullable: true,
      description: "The target database's state: saved before each risky step and at the end; null until the restore has run.",
    }),
    targetDetail: t.exposeString("targetDetail", { nullable: true, description: "The target's state in words: which databases hold what, and what to do." }),
    scratchDatabase: t.exposeString("scratchDatabase", {
      nullable: true,
      description: "MySQL/MariaDB overwrite: the scratch database the backup was restored into before being swapped in (dropped afterwards).",
    }),
    requestedBy: t.exposeString("requestedBy"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    instanceId: t.exposeString("instanceId", { nullable: true, description: "The SQLGuard instance that ran (or runs) the restore." }),
    durationMs: t.exposeInt("durationMs", { nullable: true }),
    pointInTime: t.expose("pointInTime", { type: "DateTime", nullable: true, description: "The instant the binlog was replayed to, if any." }),
    stopAtGtid: t.exposeString("stopAtGtid", { nullable: true, description: "The GTID the binlog was replayed through, if any." }),
    stopAtPosition: t.exposeString("stopAtPosition", { nullable: true, description: "The binlog position replayed to, if any." }),
    totalBytes: t.expose("totalBytes", { type: "BigInt", nullable: true, description: "Stored size of the artifact." }),
    progressBytes: t.expose("progressBytes", {
      type: "BigInt",
      nullable: true,
      description: "Stored bytes read so far (while RUNNING, saved at each heartbeat).",
    }),
    rawBytes: t.expose("rawBytes", { type: "BigInt", nullable: true, description: "Bytes fed to the client after decompression." }),
    sha256: t.exposeString("sha256", { nullable: true, description: "SHA-256 of the artifact as read, equal to the backup's." }),
    error: t.exposeString("error", { nullable: true }),
    logTail: t.exposeString("logTail", { nullable: true, description: "The end of the client program's stderr." }),
    cancelRequestedAt: t.expose("cancelRequestedAt", { type: "DateTime", nullable: true }),
  }),
});

builder.prismaObjectField("Backup", "restores", (t) => t.relation("restores", { description: "Restores of this backup, oldest first." }));

const RestoreBackupInput = builder.inputType("RestoreBackupInput", {
  fields: (t) => ({
    backupId: t.id({ required: true }),
    storageTargetId: t.id({ description: "Target to read the artifact from; omitted = the first stored copy." }),
    serverId: t.id({ description: "Server to restore into; omitted = the backup's own server." }),
    database: t.string({ description: "Database to restore into; omitted = a new `<database>_restored_<UTC YYYYMMDD_HHMMSS>`." }),
    overwrite: t.boolean({ description: "Replace an existing database (admin role only)." }),
    rewriteDefiners: t.boolean({
      description:
        "Rewrite every DEFINER of the dump's triggers, views, routines and events to the restoring user (MySQL/MariaDB), or drop its OWNER TO statements (PostgreSQL), so a user without SET USER / SUPER can restore it. Plain SQL artifacts only.",
    }),
    credentials: t.field({
      type: RestoreCredentialsInput,
      description: "Restore as this account instead of the server's backup user (the password is never stored).",
    }),
    pointInTime: t.field({
      type: "DateTime",
      description:
        "Restore to this instant (UTC): the newest dump of the backup's server and database finished before it, then the archived binlog replayed up to it; PostgreSQL: the newest base backup before it replayed to it in a temporary instance, and the backup's database copied from there. Omitted = the dump alone.",
    }),
    stopAtGtid: t.string({
      description:
        "MariaDB: restore up to and including this GTID (domain-server-seq, e.g. 0-1-42): the newest dump whose GTID state is before it, then the archived binlog replayed through that transaction. Excludes pointInTime and stopAtPosition.",
    }),
    stopAtPosition: t.string({
      description:
        "Restore up to this binlog position (file:offset, e.g. mysql-bin.000007:1234, as SHOW MASTER STATUS reports it): events that start before it are replayed. Excludes pointInTime and stopAtGtid.",
    }),
    force: t.boolean({
      description: "With pointInTime, stopAtGtid or stopAtPosition: replay past a broken binlog archive chain (transactions may be missing).",
    }),
  }),
});

const RestoreFilter = builder.inputType("RestoreFilter", {
  fields: (t) => ({ backupId: t.id(), serverId: t.id(), status: t.field({ type: [RestoreStatusEnum] }) }),
});

type Page = { nodes: Array<{ id: number }>; hasNextPage: boolean; after?: string | null; filter: RestoreFilterShape };
const RestoreConnection = prismaConnection<Page["nodes"][number], Page>("Restore", "Restore", {
  description: "A page of restores, newest first (a Relay connection). Pass pageInfo.endCursor as `after` for the next page.",
  cursor: idCursor,
  totalCount: (page, ctx) => ctx.services.restores.count(page.filter),
  legacyFields: true,
});

builder.queryFields((t) => ({
  restore: t.prismaField({
    type: "Restore",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.restores.get(id),
  }),
  restores: t.field({
    type: RestoreConnection,
    args: {
      filter: t.arg({ type: RestoreFilter }),
      first: t.arg.int({ defaultValue: 50 }),
      after: t.arg.string({ description: "pageInfo.endCursor (or an edge's cursor) of the previous page." }),
    },
    resolve: async (_r, args, ctx) => {
      const after = parseIdCursor(args.after, "restores");
      const filter = args.filter ?? {};
      const page = await ctx.services.restores.list(filter, { first: args.first ?? 50, after });
      return { ...page, after: args.after, filter };
    },
  }),
}));

builder.mutationFields((t) => ({
  restoreBackup: t.prismaField({
    type: "Restore",
    description:
      "Restores a backup into a new database (or, with overwrite and the admin role, over an existing one), checking the artifact's SHA-256 on the way: returned at once (PENDING), it runs in the background.",
    args: { input: t.arg({ type: RestoreBackupInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => ctx.services.restores.restoreBackup(ctx.principal!, input),
  }),
  cancelRestore: t.prismaField({
    type: "Restore",
    description:
      "Cancels a pending restore, or stops a running one: a database it created is dropped, a database it was replacing stays as it was (a MySQL/MariaDB swap already under way is finished first); a finished one is returned unchanged. targetState says what the target is left as.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.restores.cancel(ctx.principal!, id),
  }),
}));
