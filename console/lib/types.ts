// Enum types of the GraphQL API, taken from the committed schema.graphql (object types come from each
// query's `ResultOf`), and the option lists the console's forms and filters show, in display order.
import type { graphql } from "./graphql-tada";

/** The TypeScript union of a schema enum's values. */
type EnumOf<Name extends string> = ReturnType<typeof graphql.scalar<Name>>;

export type Role = EnumOf<"Role">;
export type Engine = EnumOf<"Engine">;
export type BackupStatus = EnumOf<"BackupStatus">;
export type DatabaseStatus = EnumOf<"DatabaseStatus">;
export type StorageKind = EnumOf<"StorageKind">;
export type BackupOrder = EnumOf<"BackupOrder">;
export type RestoreStatus = EnumOf<"RestoreStatus">;
export type Compression = EnumOf<"Compression">;
export type MissedRunPolicy = EnumOf<"MissedRunPolicy">;
export type PgFormat = EnumOf<"PgFormat">;
export type DumpEngine = EnumOf<"DumpEngine">;
export type GtidPurged = EnumOf<"GtidPurged">;
export type WebhookFormat = EnumOf<"WebhookFormat">;
export type EncryptionMode = EnumOf<"EncryptionMode">;

export const ROLES: Role[] = ["VIEWER", "OPERATOR", "ADMIN"];
export const ENGINES: Engine[] = ["MARIADB", "MYSQL", "POSTGRESQL"];
export const COMPRESSIONS: Compression[] = ["ZSTD", "GZIP", "NONE"];
export const BACKUP_STATUSES: BackupStatus[] = ["PENDING", "RUNNING", "SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED", "SKIPPED", "DELETED"];
