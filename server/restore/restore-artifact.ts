import type { Readable } from "node:stream";
import type { CompressionKind } from "../process/compress.ts";
import type { ServerConnection } from "../runner/dumpers/types.ts";
import { ChecksumMismatchError, RestoreError, scrubSecret, toRestoreError } from "./errors.ts";
import { hashStream } from "./artifact-read.ts";
import { buildRestoreCommands } from "./restore-command.ts";
import { streamRestore } from "./restore-stream.ts";
import { detectRestoreTools, type RestoreTools } from "./restore-tools.ts";
import { createDatabase, databaseExists, dropDatabase, pgOverwritePrelude, recreateMysqlDatabase } from "./target-database.ts";

/** A stored artifact: how to open it, and what it must hash to. */
export type ArtifactSource = {
  /** Opens the artifact for reading; may be called twice (an overwrite verifies first). */
  open(signal: AbortSignal): Promise<Readable>;
  sha256: string;
  compression: CompressionKind;
  format: "sql" | "pg-custom";
};

/** Where to restore: `create` refuses an existing database; `overwrite` replaces one. */
export type RestoreTarget = { conn: ServerConnection; database: string; mode: "create" | "overwrite" };

/** How one restore runs: its cancel signal, progress and hooks. */
export type RestoreRun = {
  signal: AbortSignal;
  onProgress?: (progress: { phase: "verifying" | "restoring"; storedBytes: number; rawBytes: number }) => void;
  /** Called once the new database exists, before any data goes in (the service records it). */
  onDatabaseCreated?: () => Promise<void>;
  /** Sees every byte of SQL fed to the client, in order (a drill counts the dump's rows there). */
  onRawChunk?: (chunk: Buffer) => void;
  tools?: RestoreTools;
};

/** A finished restore: bytes read and fed, the verified SHA-256, and the restore time (RTO). */
export type RestoreOutcome = { storedBytes: number; rawBytes: number; sha256: string; createdDatabase: boolean; restoreMs: number; stderrTail: string };

/**
 * Restores one artifact into a database; the one function the API, drills and the CLI share.
 * A new database is created first and dropped again if anything fails, a checksum mismatch
 * included, so a failed restore leaves nothing. Overwriting reads the whole artifact and checks
 * its SHA-256 before the existing database is touched; PostgreSQL then replaces it in one
 * transaction, MySQL/MariaDB (whose dumps are not transactional) drop and recreate it. Rejects
 * with a RestoreError whose message never holds the password.
 */
export async function restoreArtifact(source: ArtifactSource, target: RestoreTarget, run: RestoreRun): Promise<RestoreOutcome> {
  const started = performance.now();
  const { conn, database } = target;
  const scrub = (text: string) => scrubSecret(text, conn.password);
  let created = false;
  try {
    let commands;
    try {
      commands = buildRestoreCommands(conn, database, source.format, run.tools ?? (await detectRestoreTools()));
    } catch (error) {
      throw new RestoreError("CONFIGURATION", (error as Error).message);
    }
    const exists = await databaseExists(conn, database).catch(connectionFailure);
    if (exists && target.mode === "create") throw new RestoreError("TARGET_EXISTS", `database ${JSON.stringify(database)} already exists`);
    let prelude = "";
    if (exists) {
      await verifyFirst(source, run);
      if (conn.engine === "POSTGRESQL") prelude = await pgOverwritePrelude(conn, database).catch(connectionFailure);
      else await recreateMysqlDatabase(conn, database).catch(connectionFailure);
    } else {
      await createDatabase(conn, database).catch(connectionFailure);
      created = true;
      await run.onDatabaseCreated?.();
    }
    run.signal.throwIfAborted();
    const result = await streamRestore({
      source: await source.open(run.signal),
      expectedSha256: source.sha256,
      compression: source.compression,
      commands,
      prelude,
      signal: run.signal,
      onProgress: (p) => run.onProgress?.({ phase: "restoring", ...p }),
      onRawChunk: run.onRawChunk,
    });
    return { ...result, stderrTail: scrub(result.stderrTail), createdDatabase: created, restoreMs: Math.round(performance.now() - started) };
  } catch (caught) {
    const error = toRestoreError(caught, run.signal);
    let message = error.message;
    if (created) {
      const dropped = await dropDatabase(conn, database).then(
        () => true,
        () => false,
      );
      message += dropped
        ? `; the new database ${JSON.stringify(database)} was dropped`
        : `; the new database ${JSON.stringify(database)} could not be dropped: remove it by hand`;
    }
    throw new RestoreError(error.reason, scrub(message), { cause: error, stderrTail: scrub(error.stderrTail) });
  }
}

/** Reads the whole artifact and compares its SHA-256 before an existing database is touched. */
async function verifyFirst(source: ArtifactSource, run: RestoreRun): Promise<void> {
  let stream: Readable;
  try {
    stream = await source.open(run.signal);
  } catch (error) {
    throw new RestoreError("STORAGE_FAILED", `reading the artifact failed: ${(error as Error).message}`, { cause: error });
  }
  const { sha256 } = await hashStream(stream, (bytes) => run.onProgress?.({ phase: "verifying", storedBytes: bytes, rawBytes: 0 })).catch((error: Error) => {
    throw new RestoreError("STORAGE_FAILED", `reading the artifact failed: ${error.message}`, { cause: error });
  });
  if (sha256 !== source.sha256) throw new ChecksumMismatchError(source.sha256, sha256, "the existing database was not touched");
}

function connectionFailure(error: unknown): never {
  throw new RestoreError("CONNECTION_FAILED", (error as Error).message, { cause: error });
}
