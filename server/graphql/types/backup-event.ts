import type { BackupEvent } from "../../runner/events.ts";
import { builder } from "../builder.ts";
import { BackupStatusEnum } from "./enums.ts";

const BackupEventTypeEnum = builder.enumType("BackupEventType", {
  values: ["CREATED", "STATUS", "PROGRESS"] as const,
  description: "CREATED: a backup was recorded; STATUS: its status changed; PROGRESS: bytes flowed (a few times a second at most).",
});

const BackupEventRef = builder.objectRef<BackupEvent>("BackupEvent").implement({
  description: "One live change of a backup.",
  fields: (t) => ({
    type: t.field({ type: BackupEventTypeEnum, resolve: (e) => e.type }),
    backupId: t.exposeID("backupId"),
    status: t.field({ type: BackupStatusEnum, nullable: true, resolve: (e) => (e.type === "STATUS" ? (e.status as never) : null) }),
    rawBytes: t.field({ type: "BigInt", nullable: true, description: "Dump bytes so far.", resolve: (e) => (e.type === "PROGRESS" ? e.rawBytes : null) }),
    storedBytes: t.field({
      type: "BigInt",
      nullable: true,
      description: "Compressed bytes so far.",
      resolve: (e) => (e.type === "PROGRESS" ? e.storedBytes : null),
    }),
    bytesPerSecond: t.float({ nullable: true, description: "Dump rate since the start.", resolve: (e) => (e.type === "PROGRESS" ? e.bytesPerSecond : null) }),
    backup: t.prismaField({
      type: "Backup",
      nullable: true,
      description: "The backup as it is now (one query per event: select it only when needed).",
      resolve: (query, e, _a, ctx) => ctx.prisma.backup.findUnique({ ...query, where: { id: e.backupId } }),
    }),
  }),
});

builder.subscriptionFields((t) => ({
  backupEvents: t.field({
    type: BackupEventRef,
    description: "Live backup events over SSE (Accept: text/event-stream): every backup, or one with backupId.",
    args: { backupId: t.arg.id() },
    subscribe: (_root, { backupId }, ctx) => ctx.services.backups.subscribe(ctx.principal!, { backupId }),
    resolve: (event) => event,
  }),
}));
