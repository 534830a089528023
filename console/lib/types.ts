// Types of the GraphQL API as the console reads it, written from the committed schema.graphql.
// Each query selects a subset; optional members are those some queries leave out.

export type Role = "ADMIN" | "OPERATOR" | "VIEWER";
export type Engine = "MARIADB" | "MYSQL" | "POSTGRESQL";
export type BackupStatus = "CANCELLED" | "DELETED" | "FAILED" | "PARTIAL" | "PENDING" | "RUNNING" | "SKIPPED" | "SUCCEEDED";
export type DatabaseStatus = "FAILING" | "NEVER" | "OK" | "OVERDUE";
export type ArtifactStatus = "CORRUPT" | "DELETED" | "FAILED" | "MISSING" | "PENDING" | "STORED";
export type StorageKind = "LOCAL" | "S3";
export type BackupTrigger = "CATCH_UP" | "MANUAL" | "SCHEDULED";
export type BackupOrder = "NEWEST_FIRST" | "OLDEST_FIRST";
export type RestoreStatus = "CANCELLED" | "FAILED" | "PENDING" | "RUNNING" | "SUCCEEDED";
export type Compression = "GZIP" | "NONE" | "ZSTD";
export type PgFormat = "CUSTOM" | "PLAIN";
export type GtidPurged = "AUTO" | "OFF" | "ON";

export const ROLES: Role[] = ["VIEWER", "OPERATOR", "ADMIN"];
export const ENGINES: Engine[] = ["MARIADB", "MYSQL", "POSTGRESQL"];
export const COMPRESSIONS: Compression[] = ["ZSTD", "GZIP", "NONE"];
export const BACKUP_STATUSES: BackupStatus[] = ["PENDING", "RUNNING", "SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED", "SKIPPED", "DELETED"];

export interface Viewer {
  id: number;
  username: string;
  role: Role;
}

export interface Server {
  id: number;
  name: string;
  engine: Engine;
  host: string;
  port: number;
  username: string;
  passwordSet: boolean;
  tls: boolean;
  enabled: boolean;
  includeDatabases: string[];
  excludeDatabases: string[];
  maxConcurrent: number;
  dumpOptionsId: number | null;
}

export interface StorageTarget {
  id: number;
  name: string;
  kind: StorageKind;
  enabled: boolean;
  isDefault: boolean;
  path: string | null;
  prefix: string;
  bucket: string | null;
  endpoint: string | null;
  region: string | null;
  accessKeyId: string | null;
  secretAccessKeySet: boolean;
  forcePathStyle: boolean;
}

export interface BackupArtifact {
  id: number;
  key: string;
  sizeBytes: string | null;
  status: ArtifactStatus;
  error: string | null;
  storedAt: string | null;
  storageTargetId: number | null;
  storageTarget: { id: number; name: string; kind: StorageKind } | null;
}

export interface BackupSummary {
  id: number;
  status: BackupStatus;
  serverName: string;
  database: string;
  scheduleName: string | null;
  trigger: BackupTrigger;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  storedBytes: string | null;
  progressBytes: string | null;
  error: string | null;
}

export interface Schedule {
  id: number;
  name: string;
  description: string | null;
  cronExpression: string;
  timezone: string;
  enabled: boolean;
  allServers: boolean;
  missedRunPolicy: "RUN_ONCE" | "SKIP";
  nextRunAt: string | null;
  nextRuns: string[];
  servers: { id: number; name: string }[];
  storageTargets: { id: number; name: string }[];
}

export interface RetentionRule {
  id: number;
  scheduleId: number;
  storageTargetId: number;
  storageTarget: { id: number; name: string };
  keepForever: boolean;
  keepLast: number | null;
  maxAgeDays: number | null;
  minKeep: number;
  gfsHourly: number | null;
  gfsDaily: number | null;
  gfsWeekly: number | null;
  gfsMonthly: number | null;
  gfsYearly: number | null;
}

export interface Restore {
  id: number;
  status: RestoreStatus;
  serverName: string;
  database: string;
  overwrite: boolean;
  requestedBy: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  totalBytes: string | null;
  progressBytes: string | null;
  rawBytes: string | null;
  error: string | null;
  logTail: string | null;
}

export interface DumpOptions {
  id: number;
  name: string;
  description: string | null;
  singleTransaction: boolean;
  quick: boolean;
  routines: boolean;
  triggers: boolean;
  events: boolean;
  hexBlob: boolean;
  setGtidPurged: GtidPurged | null;
  columnStatistics: boolean | null;
  pgFormat: PgFormat;
  noOwner: boolean;
  noPrivileges: boolean;
  mysqlExtraFlags: string[];
  pgExtraFlags: string[];
  compression: Compression;
  compressionLevel: number;
}
