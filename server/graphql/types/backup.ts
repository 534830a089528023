import { cursorOf } from "../../backups/backups.service.ts";
import { copyInclude, copyProblems } from "../../backups/copy-health.ts";
import type { RepairResult } from "../../backups/repair.service.ts";
import { RECOVERY_POINT_STATUSES } from "../../backups/outcome.ts";
import { builder } from "../builder.ts";
import { prismaConnection } from "../connection.ts";
import { CopyProblemRef } from "./copy-problem.ts";
import { ArtifactStatusEnum, BackupStatusEnum, BackupTriggerEnum, CompressionEnum, EncryptionModeEnum, EngineEnum } from "./enums.ts";
import { LabelInput } from "./server.ts";

builder.prismaObject("BackupArtifact", {
  description: "One backup's copy on one storage target.",
  fields: (t) => ({
    id: t.exposeID("id"),
    status: t.expose("status", { type: ArtifactStatusEnum }),
    key: t.exposeString("key", { description: "Key inside the target (its prefix or base path not included)." }),
    sizeBytes: t.expose("sizeBytes", { type: "BigInt", nullable: true }),
    storedAt: t.expose("storedAt", { type: "DateTime", nullable: true }),
    deletedAt: t.expose("deletedAt", { type: "DateTime", nullable: true }),
    verifiedAt: t.expose("verifiedAt", { type: "DateTime", nullable: true }),
    error: t.exposeString("error", { nullable: true }),
    storageTargetId: t.exposeID("storageTargetId", { nullable: true }),
    storageTarget: t.relation("storageTarget", { nullable: true }),
    encryptionKeyIds: t.idList({
      description: "An encrypted copy: the ids of the encryption keys that open it (see encryptionKeys); empty when not encrypted.",
      resolve: async (a, _args, ctx) =>
        (await ctx.prisma.artifactEncryptionKey.findMany({ where: { artifactId: a.id }, orderBy: { keyId: "asc" }, select: { keyId: true } })).map(
          (k) => k.keyId,
        ),
    }),
  }),
});

builder.prismaObject("Backup", {
  description: "One dump of one database, and its artifacts on each storage target.",
  fields: (t) => ({
    id: t.exposeID("id"),
    status: t.expose("status", { type: BackupStatusEnum }),
    database: t.exposeString("database"),
    server: t.relation("server", { nullable: true, description: "Null once the server was deleted; serverName stays." }),
    serverName: t.exposeString("serverName"),
    engine: t.expose("engine", { type: EngineEnum }),
    schedule: t.relation("schedule", { nullable: true }),
    scheduleName: t.exposeString("scheduleName", { nullable: true, description: "Null for manual backups." }),
    trigger: t.expose("trigger", { type: BackupTriggerEnum }),
    dueAt: t.expose("dueAt", { type: "DateTime", nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    durationMs: t.exposeInt("durationMs", { nullable: true }),
    progressBytes: t.expose("progressBytes", { type: "BigInt", nullable: true, description: "Compressed bytes written so far (while RUNNING)." }),
    rawBytes: t.expose("rawBytes", { type: "BigInt", nullable: true, description: "Bytes the dump produced." }),
    storedBytes: t.expose("storedBytes", { type: "BigInt", nullable: true, description: "Bytes stored per target, after compression." }),
    compression: t.expose("compression", { type: CompressionEnum }),
    encryption: t.expose("encryption", { type: EncryptionModeEnum, description: "AGE: the stored artifact is an age v1 file (its key ends in `.age`)." }),
    sha256: t.exposeString("sha256", { nullable: true, description: "SHA-256 of the stored artifact, as written to every target." }),
    serverVersion: t.exposeString("serverVersion", { nullable: true }),
    tool: t.exposeString("tool", { nullable: true, description: "Dump program and flags (never secrets)." }),
    position: t.string({
      nullable: true,
      description: "Binlog coordinates, GTID set or WAL LSN at dump time, as JSON.",
      resolve: (b) => (b.position == null ? null : JSON.stringify(b.position)),
    }),
    error: t.exposeString("error", { nullable: true }),
    warnings: t.stringList({
      description:
        "What the dump left out or did not take consistently (routines it may not read, tables without transactions under the single-transaction option): the backup still succeeded, but misses these. Empty when nothing.",
      resolve: (b) => (Array.isArray(b.warnings) ? b.warnings.filter((w): w is string => typeof w === "string") : []),
    }),
    logTail: t.exposeString("logTail", { nullable: true, description: "The end of the dump program's stderr." }),
    attempt: t.exposeInt("attempt"),
    instanceId: t.exposeString("instanceId", {
      nullable: true,
      description: "The SQLGuard instance that claimed and ran the backup from the work queue (the one that queued it while PENDING).",
    }),
    artifacts: t.relation("artifacts"),
    copyProblems: t.field({
      type: [CopyProblemRef],
      description:
        "For a SUCCEEDED or PARTIAL backup: the targets it should be on (written to, or named by its schedule) without an intact copy (failed upload, CORRUPT or MISSING on verification). Empty = complete.",
      resolve: async (b, _a, ctx) => {
        if (!(RECOVERY_POINT_STATUSES as readonly string[]).includes(b.status)) return [];
        // Read with its targets and schedule: resolvers up the tree load the backup in several shapes.
        const full = await ctx.prisma.backup.findUnique({ where: { id: b.id }, include: copyInclude });
        return full ? copyProblems(full) : [];
      },
    }),
  }),
});

const BackupFilter = builder.inputType("BackupFilter", {
  fields: (t) => ({
    serverId: t.id(),
    database: t.string(),
    scheduleId: t.id(),
    status: t.field({ type: [BackupStatusEnum] }),
    storageTargetId: t.id(),
    trigger: t.field({ type: BackupTriggerEnum }),
    from: t.field({ type: "DateTime", description: "Created at or after." }),
    to: t.field({ type: "DateTime", description: "Created before." }),
    serverLabels: t.field({ type: [LabelInput], description: "Backups of the servers that carry every one of these labels now (e.g. env=prod)." }),
  }),
});

type Page = { nodes: Array<{ id: number; createdAt: Date }>; hasNextPage: boolean; after?: string | null; filter: object };
export const BackupConnection = prismaConnection<Page["nodes"][number], Page>("Backup", "Backup", {
  description: "A page of backups in the requested order (a Relay connection). Pass pageInfo.endCursor as `after` for the next page.",
  cursor: cursorOf,
  totalCount: (page, ctx) => ctx.services.backups.count(page.filter),
  legacyFields: true,
});

const BackupOrderEnum = builder.enumType("BackupOrder", { values: ["NEWEST_FIRST", "OLDEST_FIRST"] as const, description: "By creation time, then id." });

const RunBackupInput = builder.inputType("RunBackupInput", {
  fields: (t) => ({
    serverId: t.id({ required: true }),
    databases: t.stringList({ description: "Databases to back up; omitted or empty = all that the server's patterns select." }),
    storageTargetIds: t.idList({ description: "Targets to write to; omitted or empty = the default targets." }),
  }),
});

builder.queryFields((t) => ({
  backup: t.prismaField({
    type: "Backup",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.backups.get(id),
  }),
  backups: t.field({
    type: BackupConnection,
    args: {
      filter: t.arg({ type: BackupFilter }),
      first: t.arg.int({ defaultValue: 50 }),
      after: t.arg.string({ description: "pageInfo.endCursor (or an edge's cursor) of the previous page." }),
      order: t.arg({ type: BackupOrderEnum, defaultValue: "NEWEST_FIRST" }),
    },
    resolve: async (_r, args, ctx) => {
      const filter = args.filter ?? {};
      const page = await ctx.services.backups.list(filter, { first: args.first ?? 50, after: args.after, order: args.order });
      return { ...page, after: args.after, filter };
    },
  }),
}));

const RepairFailure = builder.objectRef<{ target: string; error: string }>("RepairFailure").implement({
  fields: (t) => ({ target: t.exposeString("target"), error: t.exposeString("error") }),
});

const BackupRepair = builder.objectRef<RepairResult>("BackupRepair").implement({
  description: "What repairBackup did: the targets that got a verified copy, and those still lacking one.",
  fields: (t) => ({
    backup: t.prismaField({ type: "Backup", resolve: (q, r, _a, ctx) => ctx.prisma.backup.findUniqueOrThrow({ ...q, where: { id: r.backupId } }) }),
    repaired: t.exposeStringList("repaired", { description: "Targets that now hold a checksum-verified copy." }),
    failed: t.field({ type: [RepairFailure], description: "Targets that still lack one, and why.", resolve: (r) => r.failed }),
  }),
});

builder.mutationFields((t) => ({
  repairBackup: t.field({
    type: BackupRepair,
    description:
      "Operator: copies a stored copy of a SUCCEEDED or PARTIAL backup (its SHA-256 checked as it streams) to every target it should be on without an intact copy (see copyProblems); a PARTIAL backup becomes SUCCEEDED once complete. Audited.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => ctx.services.repair.repair(ctx.principal!, id),
  }),
  runBackup: t.prismaField({
    type: ["Backup"],
    description: "Starts a backup of a server now: one record per database, returned at once (PENDING); they run in the background.",
    args: { input: t.arg({ type: RunBackupInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => ctx.services.backups.runBackup(ctx.principal!, input),
  }),
  deleteBackup: t.prismaField({
    type: "Backup",
    description: "Admin: deletes a finished backup's artifacts and manifests from every target; the record stays, DELETED.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.backups.delete(ctx.principal!, id),
  }),
  cancelBackup: t.prismaField({
    type: "Backup",
    description: "Cancels a pending backup, or stops a running one; a finished backup is returned unchanged.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.backups.cancel(ctx.principal!, id),
  }),
}));
