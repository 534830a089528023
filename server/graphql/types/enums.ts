import * as E from "../../db/generated/enums.ts";
import { builder } from "../builder.ts";

/** Enums shared by several types; their values come from the Prisma schema. */
export const EngineEnum = builder.enumType(E.Engine, { name: "Engine", description: "Database engine of a server." });
export const StorageKindEnum = builder.enumType(E.StorageKind, { name: "StorageKind" });
export const CompressionEnum = builder.enumType(E.Compression, { name: "Compression" });
export const PgFormatEnum = builder.enumType(E.PgFormat, { name: "PgFormat", description: "pg_dump output format." });
export const GtidPurgedEnum = builder.enumType(E.GtidPurged, { name: "GtidPurged" });
export const DumpEngineEnum = builder.enumType(E.DumpEngine, {
  name: "DumpEngine",
  description: "SINGLE: one mysqldump / pg_dump stream; PARALLEL: mydumper / pg_dump -Fd -j into a spool, stored as one tar.",
});
export const MissedRunPolicyEnum = builder.enumType(E.MissedRunPolicy, {
  name: "MissedRunPolicy",
  description: "What happens at start to a run missed while SQLGuard was down.",
});
export const RoleEnum = builder.enumType(E.Role, {
  name: "Role",
  description: "VIEWER reads; OPERATOR also runs backups and restores; ADMIN also changes configuration and users.",
});
export const BackupStatusEnum = builder.enumType(E.BackupStatus, {
  name: "BackupStatus",
  description:
    "PENDING → RUNNING → SUCCEEDED (every target stored) / PARTIAL (some) / FAILED / CANCELLED; DELETED by retention; SKIPPED when a run overlapped.",
});
export const ArtifactStatusEnum = builder.enumType(E.ArtifactStatus, {
  name: "ArtifactStatus",
  description: "The state of one backup's copy on one storage target.",
});
export const BackupTriggerEnum = builder.enumType(E.BackupTrigger, { name: "BackupTrigger" });
export const EncryptionModeEnum = builder.enumType(E.EncryptionMode, {
  name: "EncryptionMode",
  description: "NONE: artifacts are stored as compressed; AGE: encrypted after compression (age v1, `.age`) to every current encryption key.",
});
