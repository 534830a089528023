import type { RetentionPreview, SweepDeletion, SweepSummary, UnknownObjectReport } from "../../retention/sweeper.ts";
import type { PlannedGroup, PlannedItem } from "../../retention/sweep-plan.ts";
import { builder } from "../builder.ts";
import { BackupStatusEnum } from "./enums.ts";

const RetentionActionEnum = builder.enumType("RetentionAction", { values: ["KEEP", "DELETE"] as const });
const RetentionDeletionKindEnum = builder.enumType("RetentionDeletionKind", {
  description:
    "ARTIFACT: an expired good copy (object and manifest). LEFTOVER: what a failed copy left on a target of an otherwise good backup. RECORD: a failed, cancelled or skipped run past its grace period, with its leftovers.",
  values: ["ARTIFACT", "LEFTOVER", "RECORD"] as const,
});

type Decision = PlannedItem & Pick<PlannedGroup, "serverName" | "database" | "storageTargetId">;

const RetentionDecisionType = builder.objectRef<Decision>("RetentionDecision").implement({
  description: "What retention does with one backup on one storage target, and why.",
  fields: (t) => ({
    backupId: t.exposeID("backupId"),
    backup: t.prismaField({
      type: "Backup",
      nullable: true,
      description: "Null once the record is gone.",
      resolve: (query, d, _a, ctx) => ctx.prisma.backup.findUnique({ ...query, where: { id: d.backupId } }),
    }),
    storageTargetId: t.exposeID("storageTargetId"),
    serverName: t.exposeString("serverName"),
    database: t.exposeString("database"),
    status: t.expose("status", { type: BackupStatusEnum }),
    effectiveStatus: t.expose("effectiveStatus", {
      type: BackupStatusEnum,
      description: "The status on this target: a PARTIAL backup whose copy here failed counts as FAILED.",
    }),
    backupTime: t.field({
      type: "DateTime",
      description: "startedAt, else createdAt: what age and GFS periods are measured on.",
      resolve: (d) => d.startedAt ?? d.createdAt,
    }),
    action: t.expose("action", { type: RetentionActionEnum }),
    kind: t.expose("kind", { type: RetentionDeletionKindEnum, description: "What a DELETE removes." }),
    reasons: t.exposeStringList("reasons"),
  }),
});

const RetentionPreviewType = builder.objectRef<RetentionPreview>("RetentionPreview").implement({
  description: "Exactly what the next retention sweep of one schedule and storage target would delete, and why (a dry run).",
  fields: (t) => {
    const decisions = (p: RetentionPreview): Decision[] =>
      p.groups.flatMap((g) => g.items.map((i) => ({ ...i, serverName: g.serverName, database: g.database, storageTargetId: g.storageTargetId })));
    return {
      scheduleId: t.exposeID("scheduleId"),
      storageTargetId: t.exposeID("storageTargetId"),
      evaluatedAt: t.expose("evaluatedAt", { type: "DateTime" }),
      note: t.exposeString("note", { nullable: true }),
      deletions: t.field({ type: [RetentionDecisionType], resolve: (p) => decisions(p).filter((d) => d.action === "DELETE") }),
      decisions: t.field({ type: [RetentionDecisionType], description: "Every backup of the rule, kept or not.", resolve: decisions }),
      keepCount: t.int({ resolve: (p) => decisions(p).filter((d) => d.action === "KEEP").length }),
      deleteCount: t.int({ resolve: (p) => decisions(p).filter((d) => d.action === "DELETE").length }),
    };
  },
});

const RetentionDeletionType = builder.objectRef<SweepDeletion>("RetentionDeletion").implement({
  description:
    "One deletion of a sweep; done is false in a dry run, when storage failed (error says why) or when the artifact is pinned (pinnedBy says by whom); either is retried next sweep.",
  fields: (t) => ({
    backupId: t.exposeID("backupId"),
    storageTargetId: t.exposeID("storageTargetId"),
    serverName: t.exposeString("serverName"),
    database: t.exposeString("database"),
    kind: t.expose("kind", { type: RetentionDeletionKindEnum }),
    reasons: t.exposeStringList("reasons"),
    done: t.exposeBoolean("done"),
    error: t.exposeString("error", { nullable: true }),
    pinnedBy: t.exposeString("pinnedBy", {
      nullable: true,
      description: "The restore, drill or verification reading the artifact: it is kept until they are done.",
    }),
  }),
});

const UnknownStorageObjectType = builder.objectRef<UnknownObjectReport>("UnknownStorageObject").implement({
  description: "An object in a storage target that no backup record knows. Reported, never deleted.",
  fields: (t) => ({
    storageTargetId: t.exposeID("storageTargetId"),
    storageTargetName: t.exposeString("storageTargetName"),
    key: t.exposeString("key"),
    bytes: t.expose("bytes", { type: "BigInt" }),
    modifiedAt: t.expose("modifiedAt", { type: "DateTime" }),
  }),
});

const RetentionRunType = builder.objectRef<SweepSummary>("RetentionRun").implement({
  description: "What a retention sweep did (or, in a dry run, would do).",
  fields: (t) => ({
    dryRun: t.exposeBoolean("dryRun"),
    startedAt: t.expose("startedAt", { type: "DateTime" }),
    finishedAt: t.expose("finishedAt", { type: "DateTime" }),
    groups: t.exposeInt("groups", { description: "Schedule x target x server x database groups evaluated." }),
    evaluated: t.exposeInt("evaluated", { description: "Backups evaluated." }),
    deletions: t.field({ type: [RetentionDeletionType], resolve: (s) => s.deletions }),
    artifactsDeleted: t.exposeInt("artifactsDeleted"),
    backupsDeleted: t.exposeInt("backupsDeleted", { description: "Backups marked DELETED: no copy left." }),
    recordsRemoved: t.exposeInt("recordsRemoved", { description: "Failed, cancelled and skipped runs removed after their grace period." }),
    failures: t.exposeInt("failures"),
    pinned: t.exposeInt("pinned", { description: "Deletions put off because a restore, drill or verification had pinned the artifact." }),
    unknownObjectCount: t.exposeInt("unknownObjectCount"),
    unknownObjects: t.field({ type: [UnknownStorageObjectType], description: "Up to 100 per target.", resolve: (s) => s.unknownObjects }),
  }),
});

builder.queryFields((t) => ({
  retentionPreview: t.field({
    type: RetentionPreviewType,
    description: "What the next sweep would delete for this schedule and storage target, with the reasons for every backup.",
    args: { scheduleId: t.arg.id({ required: true }), storageTargetId: t.arg.id({ required: true }) },
    resolve: (_r, { scheduleId, storageTargetId }, ctx) => ctx.services.retention.preview(ctx.principal!, scheduleId, storageTargetId),
  }),
}));

builder.mutationFields((t) => ({
  runRetention: t.field({
    type: RetentionRunType,
    description: "Runs a retention sweep now (operator role), optionally as a dry run or for one schedule and/or storage target.",
    args: { dryRun: t.arg.boolean({ defaultValue: false }), scheduleId: t.arg.id(), storageTargetId: t.arg.id() },
    resolve: (_r, args, ctx) => ctx.services.retention.run(ctx.principal!, args),
  }),
}));
