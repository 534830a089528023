import crypto from "node:crypto";
import { once } from "node:events";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { pgClientEnv } from "../process/client-args.ts";
import { lastLines, spawnChild } from "../process/spawn.ts";
import { extractTar, type ExtractedMember } from "../process/tar.ts";
import { parallelThreads, writeDefaultsFile } from "../runner/dumpers/parallel-dumper.ts";
import type { ServerConnection } from "../runner/dumpers/types.ts";
import { createDecoder, isDecryptFailure } from "./artifact-read.ts";
import { ChecksumMismatchError, RestoreError } from "./errors.ts";
import type { ArtifactSource } from "./restore-artifact.ts";
import type { StreamRestoreResult } from "./restore-stream.ts";
import type { RestoreTools } from "./restore-tools.ts";

export type SpoolRestoreRun = {
  signal: AbortSignal;
  tools: RestoreTools;
  /** Where the artifact is unpacked (a directory of this restore's own is made inside, and removed after). */
  spoolDir?: string;
  /** myloader / pg_restore threads; this host's cores (at most 8) by default. */
  threads?: number;
  onProgress?: (progress: { storedBytes: number; rawBytes: number }) => void;
  /** The unpacked, verified directory, before anything is loaded (a drill counts the dump's rows there). */
  onUnpacked?: (dir: string, members: ExtractedMember[]) => Promise<void>;
};

/** Why a PARALLEL artifact cannot be restored here (its loader is missing), or null. */
export function parallelLoaderProblem(engine: ServerConnection["engine"], tools: RestoreTools): string | null {
  if (engine === "POSTGRESQL") return tools.pgRestore ? null : "pg_restore is not installed on this machine";
  return tools.myloader ? null : "myloader is not installed on this machine (PARALLEL backups of MySQL/MariaDB restore with it: apt-get install mydumper)";
}

/**
 * Restores a PARALLEL artifact (a tar of a mydumper or `pg_dump -Fd` directory) into an existing
 * database: the artifact streams through SHA-256 and the decompressor into a spool directory,
 * member by member; only once the whole artifact was read and its SHA-256 matched does
 * `myloader --threads=N` / `pg_restore --jobs=N` load it, so an unverified artifact never reaches
 * the server. The spool directory is removed in every case. Rejects with a RestoreError.
 */
export async function spoolRestore(source: ArtifactSource, conn: ServerConnection, database: string, run: SpoolRestoreRun): Promise<StreamRestoreResult> {
  const problem = parallelLoaderProblem(conn.engine, run.tools);
  if (problem) throw new RestoreError("CONFIGURATION", problem);
  const root = run.spoolDir ?? path.join(os.tmpdir(), "sqlguard-spool");
  await fs.mkdir(root, { recursive: true, mode: 0o700 });
  const dir = await fs.mkdtemp(path.join(root, "restore-"));
  try {
    const data = path.join(dir, "dump");
    await fs.mkdir(data, { mode: 0o700 });
    const unpacked = await unpack(source, data, run);
    await run.onUnpacked?.(data, unpacked.members);
    // Touched while the loader runs, so a start-up sweep of crashed leftovers never takes it for one.
    const touch = setInterval(() => void fs.utimes(data, new Date(), new Date()).catch(() => {}), 30_000);
    const stderrTail = await load(conn, database, dir, data, run).finally(() => clearInterval(touch));
    return { storedBytes: unpacked.storedBytes, rawBytes: unpacked.rawBytes, sha256: unpacked.sha256, stderrTail };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

type Unpacked = { members: ExtractedMember[]; storedBytes: number; rawBytes: number; sha256: string };

/** artifact → SHA-256 → [age decryption] → decompressor → tar members in `data`. A corrupt artifact always fails as a checksum mismatch. */
async function unpack(source: ArtifactSource, data: string, run: SpoolRestoreRun): Promise<Unpacked> {
  const { signal } = run;
  signal.throwIfAborted();
  let opened: Readable;
  try {
    opened = await source.open(signal);
  } catch (error) {
    throw new RestoreError("STORAGE_FAILED", `reading the artifact failed: ${(error as Error).message}`, { cause: error });
  }
  const decompressor = createDecoder(source.compression, source.decryption, signal);
  decompressor.stream.on("error", () => {});
  let rawBytes = 0;
  let storedBytes = 0;
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of decompressor.stream as AsyncIterable<Buffer>) {
      rawBytes += chunk.length;
      yield chunk;
    }
  }
  let extractError: unknown = null;
  // No per-member hashes: the whole artifact's SHA-256 is checked before anything is loaded.
  const extraction = extractTar(counted(), data, { signal, hash: false }).catch((error: unknown) => {
    extractError = error;
    decompressor.close();
    return null;
  });
  const hash = crypto.createHash("sha256");
  let readError: unknown = null;
  try {
    for await (const chunk of opened as AsyncIterable<Buffer>) {
      signal.throwIfAborted();
      hash.update(chunk);
      storedBytes += chunk.length;
      run.onProgress?.({ storedBytes, rawBytes });
      // Once unpacking has failed, the rest is still read, only to hash: a corrupt artifact must be told apart.
      if (extractError === null && !decompressor.stream.destroyed && !decompressor.stream.write(chunk))
        await Promise.race([once(decompressor.stream, "drain").catch(() => {}), extraction, decompressor.done]);
    }
    if (!decompressor.stream.destroyed) decompressor.stream.end();
  } catch (error) {
    readError = error;
    opened.destroy();
    decompressor.close();
  }
  const members = await extraction;
  const decompressError = await decompressor.finished.then(
    () => null,
    (error: Error) => error,
  );
  if (signal.aborted) throw signal.reason instanceof RestoreError ? signal.reason : new RestoreError("CANCELLED", "the restore was cancelled");
  if (readError) throw new RestoreError("STORAGE_FAILED", `reading the artifact failed: ${(readError as Error).message}`, { cause: readError });
  const sha256 = hash.digest("hex");
  if (sha256 !== source.sha256) throw new ChecksumMismatchError(source.sha256, sha256, "nothing was loaded into the database");
  if (isDecryptFailure(decompressError)) throw new RestoreError("DECRYPT_FAILED", decompressError.message, { cause: decompressError });
  if (decompressError) throw new RestoreError("DECOMPRESS_FAILED", decompressError.message, { cause: decompressError });
  if (extractError || !members)
    throw new RestoreError("DECOMPRESS_FAILED", `unpacking the artifact failed: ${(extractError as Error)?.message ?? "unknown error"}`, {
      cause: extractError,
    });
  return { members, storedBytes, rawBytes, sha256 };
}

/** Statements myloader commits at once (mydumper writes statements of up to 1 MB). */
const QUERIES_PER_TRANSACTION = 10;

/** myloader / pg_restore over the unpacked directory; resolves with its stderr tail, rejects with CLIENT_FAILED. */
async function load(conn: ServerConnection, database: string, dir: string, data: string, run: SpoolRestoreRun): Promise<string> {
  const threads = run.threads ?? parallelThreads(null);
  let command: string;
  let args: string[];
  let env: Record<string, string> = {};
  if (conn.engine === "POSTGRESQL") {
    command = run.tools.pgRestore!.path;
    // pg_restore needs --dbname to connect rather than print; a conninfo string that holds only
    // the (quoted) name keeps it from being parsed as anything else. The rest comes from libpq's environment.
    const conninfo = `dbname='${database.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
    args = ["--no-owner", "--exit-on-error", "--no-password", `--jobs=${threads}`, `--dbname=${conninfo}`, "--", data];
    env = pgClientEnv(conn, database, "sqlguard-restore");
  } else {
    command = run.tools.myloader!.path;
    const defaults = await writeDefaultsFile(dir, conn);
    args = [
      `--defaults-file=${defaults}`,
      `--directory=${data}`,
      `--database=${database}`,
      `--threads=${threads}`,
      // Ten ~1 MB statements per transaction instead of myloader's 1000: the server spends 15-20%
      // less CPU loading the same rows (measured on MariaDB 10.11: 40-42 s of mariadbd CPU per GiB
      // at 1 or 10, 47-58 s at 100 or 1000), which on a busy host is the restore's bound.
      `--queries-per-transaction=${QUERIES_PER_TRANSACTION}`,
      "--verbose=2",
      ...(conn.tls ? ["--ssl"] : []),
    ];
  }
  const child = spawnChild(command, args, { env, signal: run.signal });
  child.stdout.resume();
  const exit = await child.exited;
  if (run.signal.aborted) throw run.signal.reason instanceof RestoreError ? run.signal.reason : new RestoreError("CANCELLED", "the restore was cancelled");
  if (exit.code !== 0 || exit.signal !== null) {
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const words = lastLines(exit.stderrTail);
    throw new RestoreError("CLIENT_FAILED", `${path.basename(command)} ${how}${words ? `: ${words}` : ""}`, { stderrTail: exit.stderrTail });
  }
  return exit.stderrTail;
}
