import crypto from "node:crypto";
import type { Readable } from "node:stream";
import type { CompressionKind } from "../process/compress.ts";
import type { DumpFormat, ServerConnection } from "../runner/dumpers/types.ts";
import { AgeError } from "../encryption/age-header.ts";
import { assertOpens, type Decryption } from "../encryption/artifact-decryption.ts";
import { hashStream } from "./artifact-read.ts";
import { ChecksumMismatchError, RestoreError, scrubSecret, toRestoreError } from "./errors.ts";
import { createScratch, prepareScratch, scratchDatabaseName, swapIn } from "./mysql-swap.ts";
import { buildRestoreCommands, type RestoreCommands } from "./restore-command.ts";
import { streamRestore, type StreamRestoreResult } from "./restore-stream.ts";
import { detectRestoreTools, type RestoreTools } from "./restore-tools.ts";
import { createDatabase, databaseExists, dropDatabase, endSessions, pgOverwritePrelude, withPg } from "./target-database.ts";
import { parallelLoaderProblem, spoolRestore } from "./parallel-restore.ts";
import type { ExtractedMember } from "../process/tar.ts";
import { pgIdent } from "../runner/dumpers/server-session.ts";
import { named, type TargetReport } from "./target-state.ts";

/** A stored artifact: how to open it, and what it must hash to. */
export type ArtifactSource = {
  /** Opens the artifact for reading; may be called twice (a PostgreSQL overwrite verifies first). */
  open(signal: AbortSignal): Promise<Readable>;
  sha256: string;
  compression: CompressionKind;
  format: DumpFormat;
  /** Encrypted artifacts (`.age`): the identities that open it, decrypted before decompression. */
  decryption?: Decryption | null;
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
  /** Called before each step that could leave the target in another state (the service records it, so a crash leaves it said). */
  onTargetState?: (report: TargetReport) => Promise<void>;
  tools?: RestoreTools;
  /** PARALLEL artifacts: where they are unpacked before loading (the system temporary directory by default). */
  spoolDir?: string;
  /** PARALLEL artifacts: myloader / pg_restore threads (this host's cores, at most 8, by default). */
  threads?: number;
  /** PARALLEL artifacts: the unpacked, verified directory, before anything is loaded (a drill counts the dump's rows there). */
  onUnpacked?: (dir: string, members: ExtractedMember[]) => Promise<void>;
  /** Plain SQL artifacts: every DEFINER rewritten to the restoring user (MySQL/MariaDB), OWNER TO dropped (PostgreSQL). */
  rewriteDefiners?: boolean;
};

/** A finished restore: bytes read and fed, the verified SHA-256, the restore time (RTO) and what the target now is. */
export type RestoreOutcome = {
  storedBytes: number;
  rawBytes: number;
  sha256: string;
  createdDatabase: boolean;
  restoreMs: number;
  stderrTail: string;
  target: TargetReport;
};

/** What one way of restoring hands back. */
type Restored = { result: StreamRestoreResult; target: TargetReport; created: boolean };

/**
 * Restores one artifact into a database; the one function the API, drills and the CLI share. The
 * target is never left half-restored:
 * - a new database is created first and dropped again if anything fails (a checksum mismatch included);
 * - PostgreSQL overwrite: the artifact's SHA-256 is checked before the database is touched, then
 *   it is replaced in one transaction, committed only once the stream verified;
 * - MySQL/MariaDB overwrite (dumps are not transactional): the backup is restored into a scratch
 *   database, and only once that copy is complete and verified swapped in (mysql-swap.ts).
 * Resolves with the target's state (CREATED / REPLACED); rejects with a RestoreError whose
 * `target` says what the target is left as and whose message says it too, never the password.
 */
export async function restoreArtifact(source: ArtifactSource, target: RestoreTarget, run: RestoreRun): Promise<RestoreOutcome> {
  const started = performance.now();
  const { conn, database } = target;
  const scrub = (text: string) => scrubSecret(text, conn.password);
  const unchanged: TargetReport = { state: "UNTOUCHED", detail: `${named(database)} was not changed` };
  try {
    const tools = run.tools ?? (await detectRestoreTools());
    const loaderProblem = source.format === "tar" ? parallelLoaderProblem(conn.engine, tools) : null;
    if (loaderProblem) throw new RestoreError("CONFIGURATION", loaderProblem, { target: unchanged });
    if (run.rewriteDefiners && source.format === "tar")
      throw new RestoreError("CONFIGURATION", "the definers of a PARALLEL artifact cannot be rewritten: restore it as a user with SET USER / SUPER", {
        target: unchanged,
      });
    const commandsFor = (db: string, applicationName?: string): Loader => {
      if (source.format === "tar") return { tar: true, database: db, tools };
      try {
        return buildRestoreCommands(conn, db, source.format, tools, { applicationName });
      } catch (error) {
        throw new RestoreError("CONFIGURATION", (error as Error).message, { target: unchanged });
      }
    };
    const commands = commandsFor(database);
    await assertDecryptable(source, run.signal, unchanged);
    const exists = await databaseExists(conn, database).catch((error: unknown) => connectionFailure(error, unchanged));
    if (exists && target.mode === "create") throw new RestoreError("TARGET_EXISTS", `database ${named(database)} already exists`, { target: unchanged });
    const restored = !exists
      ? await intoNewDatabase(source, target, commands, run)
      : conn.engine === "POSTGRESQL"
        ? source.format === "tar"
          ? await overPostgresParallel(source, target, commandsFor, run)
          : await overPostgres(source, target, commandsFor, run)
        : await overMysql(source, target, commandsFor, run);
    const { result } = restored;
    return {
      ...result,
      stderrTail: scrub(result.stderrTail),
      createdDatabase: restored.created,
      restoreMs: Math.round(performance.now() - started),
      target: { ...restored.target, detail: scrub(restored.target.detail) },
    };
  } catch (caught) {
    const error = toRestoreError(caught, run.signal);
    const report = error.target ?? unchanged;
    const settled = { ...report, detail: scrub(report.detail) };
    // "already exists" needs no "was not changed" after it.
    const message = error.reason === "TARGET_EXISTS" ? error.message : `${error.message}; ${settled.detail}`;
    throw new RestoreError(error.reason, scrub(message), { cause: error, stderrTail: scrub(error.stderrTail), target: settled });
  }
}

/** Creates the database, restores into it, and drops it again when anything fails. */
async function intoNewDatabase(source: ArtifactSource, target: RestoreTarget, commands: Loader, run: RestoreRun): Promise<Restored> {
  const { conn, database } = target;
  await createDatabase(conn, database).catch((error: unknown) =>
    connectionFailure(error, { state: "UNTOUCHED", detail: `${named(database)} was not created` }),
  );
  try {
    await run.onDatabaseCreated?.();
    const result = await stream(source, target.conn, commands, "", run);
    return { result, created: true, target: { state: "CREATED", detail: `the new database ${named(database)} holds the backup` } };
  } catch (caught) {
    const error = toRestoreError(caught, run.signal);
    const dropped = await dropDatabase(conn, database).then(
      () => true,
      () => false,
    );
    const report: TargetReport = dropped
      ? { state: "UNTOUCHED", detail: `the new database ${named(database)} was dropped` }
      : { state: "INCOMPLETE", detail: `the new database ${named(database)} holds part of the backup and could not be dropped: remove it by hand` };
    throw withTarget(error, report);
  }
}

/**
 * Verifies the whole artifact, then replaces the database's schemas inside the restore's one
 * transaction. When that fails (or is cancelled), the session psql leaves behind is ended too, so
 * the rollback is over, and no lock is waited for, by the time the failure is reported.
 */
async function overPostgres(
  source: ArtifactSource,
  target: RestoreTarget,
  commandsFor: (database: string, applicationName?: string) => Loader,
  run: RestoreRun,
): Promise<Restored> {
  const session = `sqlguard-restore ${crypto.randomBytes(4).toString("hex")}`;
  const commands = commandsFor(target.database, session);
  const unchanged: TargetReport = {
    state: "UNTOUCHED",
    detail: `${named(target.database)} was not changed (the restore's transaction was rolled back or never began)`,
  };
  await run.onTargetState?.(unchanged);
  try {
    await verifyFirst(source, run);
    const prelude = await pgOverwritePrelude(target.conn, target.database).catch((error: unknown) => connectionFailure(error, unchanged));
    const result = await stream(source, target.conn, commands, prelude, run);
    return { result, created: false, target: { state: "REPLACED", detail: `${named(target.database)} now holds the backup` } };
  } catch (caught) {
    const error = toRestoreError(caught, run.signal);
    const ended = await endSessions(target.conn, target.database, session).then(
      () => true,
      () => false,
    );
    throw withTarget(
      error,
      ended
        ? unchanged
        : {
            state: "UNTOUCHED",
            detail: `${named(target.database)} was not changed, but the restore's session (application_name "${session}") could not be ended: it rolls back once it notices psql is gone`,
          },
    );
  }
}

/** Restores into a scratch database and swaps it in once complete; the target is untouched until then. */
async function overMysql(source: ArtifactSource, target: RestoreTarget, commandsFor: (database: string) => Loader, run: RestoreRun): Promise<Restored> {
  const { conn, database } = target;
  const scratch = scratchDatabaseName();
  await run.onTargetState?.({
    state: "UNTOUCHED",
    detail: `restoring into the scratch database ${named(scratch)}; ${named(database)} is not changed until that copy is complete`,
    scratchDatabase: scratch,
  });
  let result: StreamRestoreResult;
  let definitions;
  try {
    await createScratch(conn, database, scratch).catch((error: unknown) => connectionFailure(error, null));
    result = await stream(source, conn, commandsFor(scratch), "", run);
    definitions = await prepareScratch(conn, scratch).catch((error: unknown) => {
      throw new RestoreError("CLIENT_FAILED", `reading the restored copy's definitions failed: ${(error as Error).message}`, { cause: error });
    });
    // The last point a cancel takes effect: the swap, once begun, runs to its end.
    run.signal.throwIfAborted();
    // Said before the swap begins, so a crash in it leaves the record saying what to look for.
    await run.onTargetState?.({
      state: "UNKNOWN",
      detail: `swapping the restored copy in ${named(scratch)} into ${named(database)}: if this stays, SQLGuard stopped mid-swap; tables named sqlguard_old_* in ${named(database)} are its former ones`,
      scratchDatabase: scratch,
    });
  } catch (caught) {
    const error = toRestoreError(caught, run.signal);
    const dropped = await dropDatabase(conn, scratch).then(
      () => true,
      () => false,
    );
    throw withTarget(error, {
      state: "UNTOUCHED",
      detail: `${named(database)} was not changed; ${dropped ? `the scratch database ${named(scratch)} was dropped` : `the scratch database ${named(scratch)} could not be dropped: drop it by hand`}`,
      scratchDatabase: scratch,
    });
  }
  const swapped = await swapIn(conn, database, scratch, definitions);
  const report: TargetReport = { state: swapped.state, detail: swapped.detail, scratchDatabase: scratch };
  if (swapped.state !== "REPLACED")
    throw new RestoreError("SWAP_FAILED", `swapping the restored copy in failed: ${swapped.error ?? "unknown error"}`, { target: report });
  return { result, created: false, target: report };
}

/** How an artifact reaches a database: a client's stdin (SQL, custom archives), or a PARALLEL tar unpacked into the spool. */
type Loader = RestoreCommands | { tar: true; database: string; tools: RestoreTools };

function stream(source: ArtifactSource, conn: ServerConnection, commands: Loader, prelude: string, run: RestoreRun): Promise<StreamRestoreResult> {
  run.signal.throwIfAborted();
  if ("tar" in commands)
    return spoolRestore(source, conn, commands.database, {
      signal: run.signal,
      tools: commands.tools,
      spoolDir: run.spoolDir,
      threads: run.threads,
      onProgress: (p) => run.onProgress?.({ phase: "restoring", ...p }),
      onUnpacked: run.onUnpacked,
    });
  return source.open(run.signal).then(
    (opened) =>
      streamRestore({
        source: opened,
        expectedSha256: source.sha256,
        compression: source.compression,
        decryption: source.decryption,
        commands,
        prelude,
        signal: run.signal,
        onProgress: (p) => run.onProgress?.({ phase: "restoring", ...p }),
        onRawChunk: run.onRawChunk,
        rewriteDefiners: run.rewriteDefiners,
      }),
    (error: unknown) => {
      throw new RestoreError("STORAGE_FAILED", `reading the artifact failed: ${(error as Error).message}`, { cause: error });
    },
  );
}

/**
 * An encrypted artifact: one of the identities must open its header before any database is
 * created or touched; otherwise DECRYPT_FAILED, naming the keys that would open it.
 */
async function assertDecryptable(source: ArtifactSource, signal: AbortSignal, unchanged: TargetReport): Promise<void> {
  if (!source.decryption) return;
  let stream: Readable;
  try {
    stream = await source.open(signal);
  } catch (error) {
    throw new RestoreError("STORAGE_FAILED", `reading the artifact failed: ${(error as Error).message}`, { cause: error, target: unchanged });
  }
  try {
    await assertOpens(stream, source.decryption);
  } catch (error) {
    if (error instanceof AgeError) throw new RestoreError("DECRYPT_FAILED", error.message, { cause: error, target: unchanged });
    throw new RestoreError("STORAGE_FAILED", `reading the artifact failed: ${(error as Error).message}`, { cause: error, target: unchanged });
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

/**
 * PostgreSQL overwrite of a PARALLEL artifact: `pg_restore --jobs` cannot run in one transaction,
 * so the backup is restored into a scratch database and, once complete, swapped in with two
 * ALTER DATABASE … RENAME in one transaction (the target's sessions ended first; its owner kept);
 * the old database is dropped after. A failure before the swap leaves the target as it was.
 */
async function overPostgresParallel(
  source: ArtifactSource,
  target: RestoreTarget,
  commandsFor: (database: string) => Loader,
  run: RestoreRun,
): Promise<Restored> {
  const { conn, database } = target;
  const scratch = scratchDatabaseName();
  const untouched = (dropped: boolean): TargetReport => ({
    state: "UNTOUCHED",
    detail: `${named(database)} was not changed; ${dropped ? `the scratch database ${named(scratch)} was dropped` : `the scratch database ${named(scratch)} could not be dropped: drop it by hand`}`,
    scratchDatabase: scratch,
  });
  await run.onTargetState?.({
    state: "UNTOUCHED",
    detail: `restoring into the scratch database ${named(scratch)}; ${named(database)} is not changed until that copy is complete`,
    scratchDatabase: scratch,
  });
  let result: StreamRestoreResult;
  try {
    await createDatabase(conn, scratch).catch((error: unknown) => connectionFailure(error, null));
    result = await stream(source, conn, commandsFor(scratch), "", run);
    run.signal.throwIfAborted();
    await run.onTargetState?.({
      state: "UNKNOWN",
      detail: `swapping the restored copy in ${named(scratch)} into ${named(database)}: if this stays, SQLGuard stopped mid-swap`,
      scratchDatabase: scratch,
    });
  } catch (caught) {
    const error = toRestoreError(caught, run.signal);
    const dropped = await dropDatabase(conn, scratch).then(
      () => true,
      () => false,
    );
    throw withTarget(error, untouched(dropped));
  }
  const old = `${scratch}_old`;
  try {
    await swapPgDatabases(conn, database, scratch, old);
  } catch (error) {
    const dropped = await dropDatabase(conn, scratch).then(
      () => true,
      () => false,
    );
    throw new RestoreError("SWAP_FAILED", `swapping the restored copy in failed: ${(error as Error).message}`, { target: untouched(dropped) });
  }
  const droppedOld = await dropDatabase(conn, old).then(
    () => true,
    () => false,
  );
  return {
    result,
    created: false,
    target: {
      state: "REPLACED",
      detail: `${named(database)} now holds the backup${droppedOld ? "" : `; its former contents are in ${named(old)}: drop it by hand`}`,
      scratchDatabase: scratch,
    },
  };
}

/** Renames `database` to `old` and `scratch` to `database` in one transaction, ending the sessions on `database` first (a few tries). */
async function swapPgDatabases(conn: ServerConnection, database: string, scratch: string, old: string): Promise<void> {
  await withPg(conn, null, async (c) => {
    const owner = (await c.query<{ o: string }>("SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = $1", [database])).rows[0]?.o;
    for (let attempt = 1; ; attempt++) {
      await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()", [[database, scratch]]);
      try {
        await c.query("BEGIN");
        await c.query(`ALTER DATABASE ${pgIdent(database)} RENAME TO ${pgIdent(old)}`);
        await c.query(`ALTER DATABASE ${pgIdent(scratch)} RENAME TO ${pgIdent(database)}`);
        if (owner) await c.query(`ALTER DATABASE ${pgIdent(database)} OWNER TO ${pgIdent(owner)}`);
        await c.query("COMMIT");
        return;
      } catch (error) {
        await c.query("ROLLBACK").catch(() => {});
        if (attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  });
}

function withTarget(error: RestoreError, target: TargetReport): RestoreError {
  return new RestoreError(error.reason, error.message, { cause: error.cause ?? error, stderrTail: error.stderrTail, target });
}

function connectionFailure(error: unknown, target: TargetReport | null): never {
  throw new RestoreError("CONNECTION_FAILED", (error as Error).message, { cause: error, target: target ?? undefined });
}
