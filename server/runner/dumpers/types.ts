import type { DumpOptions } from "../../db/generated/client.ts";

export type { EngineName, ServerConnection } from "../../process/server-connection.ts";

/** The dump option profile; null fields and a missing profile mean the schema's defaults. */
export type DumpProfile = Pick<
  DumpOptions,
  | "singleTransaction"
  | "quick"
  | "routines"
  | "triggers"
  | "events"
  | "hexBlob"
  | "setGtidPurged"
  | "columnStatistics"
  | "pgFormat"
  | "noOwner"
  | "noPrivileges"
  | "mysqlExtraFlags"
  | "pgExtraFlags"
> &
  Partial<Pick<DumpOptions, "engine" | "threads" | "chunkRows">>;

/** How an artifact is laid out: a SQL stream, pg_dump's custom archive, or a tar of a dump directory (mydumper, pg_dump -Fd). */
export type DumpFormat = "sql" | "pg-custom" | "tar";

/** The dump client programs found on this machine. */
export type DumpTools = {
  /** `mariadb-dump` or `mysqldump` (path), with its version line; null when neither is installed. */
  mysqlDump: { path: string; flavor: "mariadb" | "mysql"; version: string } | null;
  pgDump: { path: string; version: string } | null;
  /** mydumper (the PARALLEL engine for MySQL/MariaDB); absent or null when not installed. */
  mydumper?: { path: string; version: string } | null;
};

/**
 * A ready-to-spawn dump: argv without a shell, credentials only in `env` (MYSQL_PWD / PGPASSWORD,
 * or a 0600 defaults file whose path is in argv and which `cleanup` removes).
 */
export type DumpCommand = {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Tool and flags for the manifest and the record: never a secret. */
  description: string;
  /** Artifact format: plain SQL, pg_dump's custom archive, or a tar of a parallel engine's directory. */
  format: DumpFormat;
  /**
   * PARALLEL engines: the directory the program writes (mydumper, pg_dump -Fd) instead of stdout;
   * once it exited cleanly the pipeline streams it as a tar, removing each file as it is read.
   */
  outputDir?: string;
  cleanup: () => Promise<void>;
  /**
   * Ends the dump's session on the server, found by the client ports of the dump's TCP
   * connections, after the dump was stopped or killed: a session waiting for a lock outlives its
   * killed client, holding a connection and a snapshot. Best effort; never throws.
   */
  endServerSession?: (clientPorts: number[]) => Promise<void>;
  /** The dump carries its snapshot's binlog position in its comments (--master-data=2): the pipeline reads it from the stream. */
  positionInStream?: boolean;
};

/** How a dump is built beyond its profile. */
export type BuildOptions = {
  /** Record the snapshot's exact binlog position in the dump (--master-data=2 / --source-data=2): point-in-time recovery is on. */
  exactPosition?: boolean;
};

/** Binlog coordinates or GTID set at dump time, where the server reports them. */
export type ReplicationPosition = { binlogFile?: string; binlogPosition?: number; gtidSet?: string; lsn?: string };

/** The result of inspecting a server before a backup (or for testServerConnection). */
export type ServerInspection = {
  version: string;
  /** Every non-system database, in name order, before include/exclude patterns. */
  databases: string[];
  /** Why a consistent dump may fail, e.g. missing privileges; empty when all is well. */
  warnings: string[];
};
