import type { DatabaseDetail, KnownDatabase, RpoPoint, RtoPoint, TargetCopies } from "../../backups/database-detail.service.ts";
import { builder } from "../builder.ts";
import { BackupConnection } from "./backup.ts";
import { EngineEnum } from "./enums.ts";

const TargetCopiesRef = builder.objectRef<TargetCopies>("DatabaseTargetCopies").implement({
  description: "A database's copies on one storage target, over its whole history.",
  fields: (t) => ({
    storageTargetId: t.exposeID("storageTargetId", { nullable: true, description: "Null for a target deleted since." }),
    target: t.exposeString("target"),
    kind: t.exposeString("kind", { nullable: true }),
    stored: t.exposeInt("stored", { description: "Copies stored there now." }),
    storedBytes: t.field({ type: "BigInt", resolve: (c) => c.storedBytes }),
    newestStoredAt: t.expose("newestStoredAt", { type: "DateTime", nullable: true }),
    damaged: t.exposeInt("damaged", { description: "Copies that failed to upload, or that verification found CORRUPT or MISSING." }),
    deleted: t.exposeInt("deleted", { description: "Copies retention or an admin removed." }),
  }),
});

const RpoPointRef = builder.objectRef<RpoPoint>("RpoPoint").implement({
  description: "A recovery point (a run that stored a copy), and how long after the previous one it was taken.",
  fields: (t) => ({
    at: t.expose("at", { type: "DateTime", description: "When the dump started (the point it restores to)." }),
    backupId: t.exposeID("backupId"),
    gapSeconds: t.exposeInt("gapSeconds", { nullable: true, description: "Seconds since the previous recovery point: the data at risk just before this one." }),
  }),
});

const RtoPointRef = builder.objectRef<RtoPoint>("RtoPoint").implement({
  description: "A restore drill's restore time (the RTO figure).",
  fields: (t) => ({
    at: t.expose("at", { type: "DateTime" }),
    drillId: t.exposeID("drillId"),
    restoreMs: t.exposeInt("restoreMs"),
    status: t.exposeString("status"),
  }),
});

const RecoverableRef = builder.objectRef<DatabaseDetail["recoverable"]>("RecoverablePoints").implement({
  description: "Backups with a copy stored now. Full backups only: the database restores to one of these points, not to any moment between them.",
  fields: (t) => ({
    points: t.exposeInt("points"),
    oldest: t.expose("oldest", { type: "DateTime", nullable: true }),
    newest: t.expose("newest", { type: "DateTime", nullable: true }),
  }),
});

const DatabaseDetailRef = builder.objectRef<DatabaseDetail>("DatabaseDetail").implement({
  description: "One database by server name: its backups, copies per target, drills, RPO and RTO over time.",
  fields: (t) => ({
    serverName: t.exposeString("serverName"),
    database: t.exposeString("database"),
    server: t.prismaField({
      type: "Server",
      nullable: true,
      description: "The server of that name now; null once it was deleted (its backups keep the name).",
      resolve: (_q, d) => d.server as never,
    }),
    engine: t.field({ type: EngineEnum, nullable: true, resolve: (d) => d.engine }),
    backups: t.field({
      type: BackupConnection,
      description: "The database's backups, newest first (a Relay connection).",
      args: {
        first: t.arg.int({ defaultValue: 50, description: "At most 200." }),
        after: t.arg.string({ description: "pageInfo.endCursor (or an edge's cursor) of the previous page." }),
      },
      resolve: async (d, { first, after }, ctx) => {
        const of = { serverName: d.serverName, database: d.database };
        const page = await ctx.services.databaseDetail.backups(ctx.principal!, of, { first: first ?? 50, after });
        return { ...page, after, filter: of };
      },
    }),
    copies: t.field({ type: [TargetCopiesRef], resolve: (d) => d.copies }),
    drills: t.prismaField({ type: ["RestoreDrill"], description: "The last 20 restore drills, newest first.", resolve: (_q, d) => d.drills as never }),
    targetRpoSeconds: t.exposeInt("targetRpoSeconds", { nullable: true, description: "The shortest interval of the schedules covering it now." }),
    rpo: t.field({ type: [RpoPointRef], description: "Recovery points over the last `days`, oldest first.", resolve: (d) => d.rpo }),
    rto: t.field({ type: [RtoPointRef], description: "Drill restore times over the last `days`, oldest first.", resolve: (d) => d.rto }),
    recoverable: t.field({ type: RecoverableRef, resolve: (d) => d.recoverable }),
    days: t.exposeInt("days"),
  }),
});

const KnownDatabaseRef = builder.objectRef<KnownDatabase>("KnownDatabase").implement({
  description: "A database the backup history knows, by server name.",
  fields: (t) => ({
    serverName: t.exposeString("serverName"),
    database: t.exposeString("database"),
    serverDeleted: t.exposeBoolean("serverDeleted", { description: "No server has this name any more." }),
    backups: t.exposeInt("backups"),
    lastBackupAt: t.expose("lastBackupAt", { type: "DateTime" }),
  }),
});

builder.queryFields((t) => ({
  databaseDetail: t.field({
    type: DatabaseDetailRef,
    description: "One database by server name and database name (a deleted server's backups stay findable by its name).",
    args: {
      serverName: t.arg.string({ required: true }),
      database: t.arg.string({ required: true }),
      days: t.arg.int({ defaultValue: 30, description: "Days the RPO and RTO series cover (1 to 366)." }),
    },
    resolve: (_r, args, ctx) => ctx.services.databaseDetail.get(ctx.principal!, args),
  }),
  knownDatabases: t.field({
    type: [KnownDatabaseRef],
    description: "Every server name and database in the backup history, including those of deleted servers.",
    args: { serverName: t.arg.string({ description: "Only this server name (exact)." }) },
    resolve: (_r, args, ctx) => ctx.services.databaseDetail.known(ctx.principal!, args.serverName),
  }),
}));
