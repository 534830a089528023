// The words the console shows for the API's enum values ("PostgreSQL", "Partial", "Admin"). One table
// per enum, typed `Record<Enum, string>` so a value added to schema.graphql fails the type check until
// it has a word. Attributes keep the raw value (data-status, <option value>): tests and the API use it.
// Notification channel kinds and events are named in features/settings/notifications/words.ts.
import type { graphql } from "./graphql-tada";
import type {
  BackupOrder,
  BackupStatus,
  Compression,
  DatabaseStatus,
  DumpEngine,
  Engine,
  GtidPurged,
  MissedRunPolicy,
  PgFormat,
  RestoreStatus,
  Role,
  StorageKind,
  WebhookFormat,
} from "./types";

type EnumOf<Name extends string> = ReturnType<typeof graphql.scalar<Name>>;
export type ArtifactStatus = EnumOf<"ArtifactStatus">;
export type BackupTrigger = EnumOf<"BackupTrigger">;
export type RestoreTargetState = EnumOf<"RestoreTargetState">;
export type VerificationResult = EnumOf<"VerificationResult">;
export type DrillStatus = EnumOf<"DrillStatus">;
export type DrillTrigger = EnumOf<"DrillTrigger">;
export type DrillBaseline = EnumOf<"DrillBaseline">;
export type RetentionAction = EnumOf<"RetentionAction">;
export type RetentionDeletionKind = EnumOf<"RetentionDeletionKind">;
export type NotificationDeliveryStatus = EnumOf<"NotificationDeliveryStatus">;
export type ConfigurationAction = EnumOf<"ConfigurationAction">;
/** Health of a server or storage target as the dashboard shows it (not an API enum). */
export type HealthState = "UP" | "DOWN" | "ABSENT";

const ENGINE: Record<Engine, string> = { MARIADB: "MariaDB", MYSQL: "MySQL", POSTGRESQL: "PostgreSQL" };
const ROLE: Record<Role, string> = { ADMIN: "Admin", OPERATOR: "Operator", VIEWER: "Viewer" };
const COMPRESSION: Record<Compression, string> = { ZSTD: "zstd", GZIP: "gzip", NONE: "none" };
const STORAGE_KIND: Record<StorageKind, string> = { LOCAL: "Local", S3: "S3" };
const TRIGGER: Record<BackupTrigger, string> = { SCHEDULED: "Scheduled", MANUAL: "Manual", CATCH_UP: "Catch-up" };
const DUMP_ENGINE: Record<DumpEngine, string> = { SINGLE: "Single", PARALLEL: "Parallel" };
const PG_FORMAT: Record<PgFormat, string> = { CUSTOM: "Custom", PLAIN: "Plain SQL" };
const GTID_PURGED: Record<GtidPurged, string> = { AUTO: "Auto", ON: "On", OFF: "Off" };
const MISSED_RUN: Record<MissedRunPolicy, string> = { RUN_ONCE: "Run once", SKIP: "Skip" };
const WEBHOOK_FORMAT: Record<WebhookFormat, string> = { GENERIC: "Generic JSON", HEALTHCHECKS: "Healthchecks" };
const ORDER: Record<BackupOrder, string> = { NEWEST_FIRST: "Newest first", OLDEST_FIRST: "Oldest first" };
const DRILL_TRIGGER: Record<DrillTrigger, string> = { AFTER_BACKUP: "After backup", CRON: "Drill schedule", MANUAL: "Manual" };
const DRILL_BASELINE: Record<DrillBaseline, string> = {
  CAPTURED: "Captured at dump time",
  LIVE_SOURCE: "Live source",
  NONE: "None",
  CHECKPOINT: "Row-count checkpoint",
};
const RETENTION_ACTION: Record<RetentionAction, string> = { KEEP: "Keep", DELETE: "Delete" };
const DELETION_KIND: Record<RetentionDeletionKind, string> = { ARTIFACT: "artifact", LEFTOVER: "leftover", RECORD: "record" };
const CONFIGURATION_ACTION: Record<ConfigurationAction, string> = { CREATE: "Create", UPDATE: "Update", DELETE: "Delete" };

const BACKUP_STATUS: Record<BackupStatus, string> = {
  PENDING: "Pending",
  RUNNING: "Running",
  SUCCEEDED: "Succeeded",
  PARTIAL: "Partial",
  FAILED: "Failed",
  CANCELLED: "Cancelled",
  SKIPPED: "Skipped",
  DELETED: "Deleted",
};
const ARTIFACT_STATUS: Record<ArtifactStatus, string> = {
  PENDING: "Pending",
  STORED: "Stored",
  FAILED: "Failed",
  CORRUPT: "Corrupt",
  MISSING: "Missing",
  DELETED: "Deleted",
};
const DATABASE_STATUS: Record<DatabaseStatus, string> = {
  OK: "OK",
  DEGRADED: "Degraded",
  OVERDUE: "Overdue",
  FAILING: "Failing",
  NEVER: "Never backed up",
  ACKNOWLEDGED: "Acknowledged",
  DROPPED: "Dropped",
};
const RESTORE_STATUS: Record<RestoreStatus, string> = {
  PENDING: "Pending",
  RUNNING: "Running",
  SUCCEEDED: "Succeeded",
  FAILED: "Failed",
  CANCELLED: "Cancelled",
};
const RESTORE_TARGET_STATE: Record<RestoreTargetState, string> = {
  CREATED: "Created",
  REPLACED: "Replaced",
  UNTOUCHED: "Untouched",
  INCOMPLETE: "Incomplete",
  UNKNOWN: "Unknown",
};
const VERIFICATION: Record<VerificationResult, string> = {
  OK: "OK",
  CORRUPT: "Corrupt",
  MISSING: "Missing",
  MANIFEST_PROBLEM: "Manifest problem",
  UNREADABLE: "Unreadable",
};
const DRILL_STATUS: Record<DrillStatus, string> = { PASSED: "Passed", FAILED: "Failed", RUNNING: "Running", PENDING: "Queued" };
const DELIVERY_STATUS: Record<NotificationDeliveryStatus, string> = { PENDING: "Pending", SENT: "Sent", FAILED: "Failed", SUPPRESSED: "Suppressed" };
const HEALTH: Record<HealthState, string> = { UP: "Up", DOWN: "Down", ABSENT: "Absent" };
/** States only the console derives (the per-database page). */
const CONSOLE_STATES: Record<string, string> = { "SERVER DELETED": "Server deleted", "NOT SCHEDULED": "Not scheduled" };

export const engineLabel = (value: Engine): string => ENGINE[value] ?? humanize(value);
export const roleLabel = (value: Role): string => ROLE[value] ?? humanize(value);
export const compressionLabel = (value: Compression): string => COMPRESSION[value] ?? humanize(value);
/** Takes a string too: some API fields name the kind as a String. */
export const storageKindLabel = (value: StorageKind | string): string => STORAGE_KIND[value as StorageKind] ?? humanize(value);
export const triggerLabel = (value: BackupTrigger): string => TRIGGER[value] ?? humanize(value);
export const dumpEngineLabel = (value: DumpEngine): string => DUMP_ENGINE[value] ?? humanize(value);
export const pgFormatLabel = (value: PgFormat): string => PG_FORMAT[value] ?? humanize(value);
export const gtidPurgedLabel = (value: GtidPurged): string => GTID_PURGED[value] ?? humanize(value);
export const missedRunLabel = (value: MissedRunPolicy): string => MISSED_RUN[value] ?? humanize(value);
export const webhookFormatLabel = (value: WebhookFormat): string => WEBHOOK_FORMAT[value] ?? humanize(value);
export const orderLabel = (value: BackupOrder): string => ORDER[value] ?? humanize(value);
export const drillTriggerLabel = (value: DrillTrigger): string => DRILL_TRIGGER[value] ?? humanize(value);
export const drillBaselineLabel = (value: DrillBaseline): string => DRILL_BASELINE[value] ?? humanize(value);
export const retentionActionLabel = (value: RetentionAction): string => RETENTION_ACTION[value] ?? humanize(value);
export const deletionKindLabel = (value: RetentionDeletionKind): string => DELETION_KIND[value] ?? humanize(value);
export const configurationActionLabel = (value: ConfigurationAction): string => CONFIGURATION_ACTION[value] ?? humanize(value);
export const backupStatusLabel = (value: BackupStatus): string => BACKUP_STATUS[value] ?? humanize(value);
export const artifactStatusLabel = (value: ArtifactStatus): string => ARTIFACT_STATUS[value] ?? humanize(value);
export const databaseStatusLabel = (value: DatabaseStatus): string => DATABASE_STATUS[value] ?? humanize(value);
export const restoreStatusLabel = (value: RestoreStatus): string => RESTORE_STATUS[value] ?? humanize(value);
export const restoreTargetStateLabel = (value: RestoreTargetState): string => RESTORE_TARGET_STATE[value] ?? humanize(value);
export const verificationLabel = (value: VerificationResult): string => VERIFICATION[value] ?? humanize(value);
export const drillStatusLabel = (value: DrillStatus): string => DRILL_STATUS[value] ?? humanize(value);
export const deliveryStatusLabel = (value: NotificationDeliveryStatus): string => DELIVERY_STATUS[value] ?? humanize(value);
export const healthLabel = (value: HealthState): string => HEALTH[value] ?? humanize(value);

/** Every status-like enum StatusBadge shows; the same raw value has the same word in each. */
const STATUS: Record<string, string> = {
  ...BACKUP_STATUS,
  ...ARTIFACT_STATUS,
  ...DATABASE_STATUS,
  ...RESTORE_STATUS,
  ...RESTORE_TARGET_STATE,
  ...VERIFICATION,
  ...DRILL_STATUS,
  ...DELIVERY_STATUS,
  ...HEALTH,
  ...CONSOLE_STATES,
};

/** The word of any status value StatusBadge may get (backup, copy, database, restore, drill, health…). */
export function statusLabel(value: string): string {
  return STATUS[value] ?? humanize(value);
}

/** A value no table knows (a newer server than this console): "SOME_VALUE" → "Some value". */
function humanize(value: string): string {
  const words = String(value).toLowerCase().replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}
