import { createRequire } from "node:module";
import type { TableStats } from "./table-stats.ts";
import type { ReplicationPosition } from "./dumpers/types.ts";

const VERSION = (createRequire(import.meta.url)("../../package.json") as { version: string }).version;

export const MANIFEST_FORMAT = "sqlguard-manifest/1";

/**
 * The sidecar `<artifact key>.manifest.json`: enough to restore with standard tools and no
 * SQLGuard (what engine and tool made it, how it is compressed, its checksum), and to rebuild the
 * metadata records if the metadata database is lost. Never contains a secret.
 */
export type Manifest = {
  format: typeof MANIFEST_FORMAT;
  sqlguardVersion: string;
  backupId: number;
  server: { name: string; engine: string; host: string; port: number; version: string };
  database: string;
  schedule: string | null;
  trigger: string;
  dump: { tool: string; format: "sql" | "pg-custom" };
  compression: { algorithm: "zstd" | "gzip" | "none"; level: number };
  artifact: { key: string; rawBytes: number; storedBytes: number; sha256: string };
  position: ReplicationPosition | null;
  /** Tables, row counts and objects at dump time, when restore drills check this schedule's backups. */
  tableStats?: TableStats | null;
  /** What the dump left out or did not take consistently (Backup.warnings); absent in older manifests. */
  warnings?: string[];
  startedAt: string;
  finishedAt: string;
  restore: string;
};

const RESTORE_HINTS: Record<string, string> = {
  "sql:zstd": "zstd -dc <artifact> | mariadb <database>   (or mysql)",
  "sql:gzip": "gzip -dc <artifact> | mariadb <database>   (or mysql)",
  "sql:none": "mariadb <database> < <artifact>   (or mysql)",
  "pg-sql:zstd": "zstd -dc <artifact> | psql --dbname <database>",
  "pg-sql:gzip": "gzip -dc <artifact> | psql --dbname <database>",
  "pg-sql:none": "psql --dbname <database> -f <artifact>",
  "pg-custom:zstd": "zstd -dc <artifact> | pg_restore --no-owner --dbname <database>",
  "pg-custom:gzip": "gzip -dc <artifact> | pg_restore --no-owner --dbname <database>",
  "pg-custom:none": "pg_restore --no-owner --dbname <database> <artifact>",
};

export function buildManifest(input: Omit<Manifest, "format" | "sqlguardVersion" | "restore">): Manifest {
  const family = input.server.engine === "POSTGRESQL" ? (input.dump.format === "pg-custom" ? "pg-custom" : "pg-sql") : "sql";
  return {
    format: MANIFEST_FORMAT,
    sqlguardVersion: VERSION,
    ...input,
    restore: `${RESTORE_HINTS[`${family}:${input.compression.algorithm}`]}; verify first: sha256sum <artifact> = ${input.artifact.sha256}`,
  };
}
