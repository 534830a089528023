import crypto from "node:crypto";
import path from "node:path";
import { Duplex, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { CompressionKind } from "../process/compress.ts";
import { Meter } from "../process/meter.ts";
import { lastLines, spawnChild, type ChildHandle, type ExitInfo } from "../process/spawn.ts";
import type { Decryption } from "../encryption/artifact-decryption.ts";
import { createDecoder, isDecryptFailure } from "./artifact-read.ts";
import { ChecksumMismatchError, RestoreError } from "./errors.ts";
import type { ClientCommand, RestoreCommands } from "./restore-command.ts";
import { DefinerRewriter } from "./definer-rewrite.ts";
import { DumpObjectScanner } from "./dump-objects-scan.ts";
import { PgOwnerFilter } from "./pg-owner-filter.ts";
import { SandboxLineFilter } from "./sandbox-line.ts";
import { StdinGate } from "./stdin-gate.ts";

/** One artifact's way into a client program. */
export type StreamRestoreOptions = {
  /** The stored artifact, as read from its storage target. */
  source: Readable;
  expectedSha256: string;
  compression: CompressionKind;
  /** An encrypted artifact (`.age`): decrypted before it is decompressed. */
  decryption?: Decryption | null;
  commands: RestoreCommands;
  /** SQL run first, inside the transaction (PostgreSQL overwrite: drop the old schemas). */
  prelude?: string;
  /** Aborting it (cancel, shutdown) kills every child before anything is committed. */
  signal: AbortSignal;
  onProgress?: (progress: { storedBytes: number; rawBytes: number }) => void;
  /** Sees every byte of the SQL fed to the client (a drill counts the dump's rows there). */
  onRawChunk?: (chunk: Buffer) => void;
  /**
   * Rewrite the dump for a restoring user without SET USER / SUPER: every DEFINER becomes
   * CURRENT_USER (MySQL/MariaDB), every `ALTER … OWNER TO` is dropped (PostgreSQL plain SQL).
   */
  rewriteDefiners?: boolean;
};

/** What a verified, committed restore read and fed. */
export type StreamRestoreResult = { storedBytes: number; rawBytes: number; sha256: string; stderrTail: string };

/**
 * artifact → SHA-256 → [age decryption] → decompressor → [pg_restore --file=-] → [sandbox line dropped] → client
 * stdin, all streamed. The client's stdin is released (PostgreSQL: COMMIT written, then EOF) only
 * once the whole artifact was read and its SHA-256 equals `expectedSha256` and every producer
 * exited cleanly; otherwise the client is killed first, so PostgreSQL rolls back. When the data path fails early the rest of the
 * artifact is still read, so a corrupt artifact always fails as "checksum mismatch".
 * Rejects with a RestoreError.
 */
export async function streamRestore(o: StreamRestoreOptions): Promise<StreamRestoreResult> {
  const { commands, signal } = o;
  // Stops every child once the restore has failed: closing their pipes is not enough for a child
  // that does not read them (a pg_restore or zstd blocked elsewhere would be left running).
  const stop = new AbortController();
  const children = AbortSignal.any([signal, stop.signal]);
  const client = spawnChild(commands.client.command, commands.client.args, { env: commands.client.env, signal: children });
  client.stdout.resume(); // query output (psql prints SELECT results) is not needed
  const decompressor = createDecoder(o.compression, o.decryption, children);
  const converter = commands.converter
    ? spawnChild(commands.converter.command, commands.converter.args, { env: commands.converter.env, signal: children })
    : null;
  const raw = new Meter({ onBytes: (rawBytes) => o.onProgress?.({ storedBytes, rawBytes }), onChunk: o.onRawChunk });

  const family = commands.transactional ? "pg" : "mysql";
  const rewriter = o.rewriteDefiners ? (family === "pg" ? new PgOwnerFilter() : new DefinerRewriter()) : null;
  // MySQL/MariaDB without a rewrite: notes the definers, so a client refused one can be told which
  // object it was (PostgreSQL's errors name the role themselves).
  const scanner = family === "mysql" && !rewriter ? new DumpObjectScanner(family) : null;

  let storedBytes = 0;
  let resolveHash!: (sha256: string | null) => void;
  const hashed = new Promise<string | null>((resolve) => (resolveHash = resolve));
  const gate = new StdinGate(client, {
    // Checked before the client may see the end of its input: nothing unverified is ever committed.
    beforeRelease: async () => {
      const sha256 = await hashed;
      if (sha256 !== o.expectedSha256) throw new RestoreError("CHECKSUM_MISMATCH", "checksum mismatch");
      await decompressor.finished;
      if (converter) await succeeded(converter, commands.converter!);
    },
    trailer: commands.transactional ? "COMMIT;\n" : "",
  });
  if (commands.transactional) client.stdin.write(`BEGIN;\n${o.prelude ?? ""}`);
  const stages: NodeJS.ReadWriteStream[] = [
    decompressor.stream,
    ...(converter ? [Duplex.from({ writable: converter.stdin, readable: converter.stdout })] : []),
    raw,
    ...(commands.stripSandboxLine ? [new SandboxLineFilter()] : []),
    // After the sandbox line is gone: the scanner counts lines as the client does.
    ...(rewriter ? [rewriter] : scanner ? [scanner] : []),
  ];
  const downstream = pipeline([...stages, gate] as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream], { signal: signal }).then(
    () => null,
    (error: unknown) => error,
  );

  // Once the decompressor has exited or the data path has failed, nothing will drain its input.
  const stopWriting = Promise.race([decompressor.done, downstream]);
  const read = await feed(o.source, decompressor.stream, stopWriting, signal, (bytes) => {
    storedBytes = bytes;
    o.onProgress?.({ storedBytes, rawBytes: raw.bytes });
  });
  resolveHash(read.sha256);
  // Abandoned stages may wait for the rest of their input: close them so everything ends.
  const abandon = () => {
    decompressor.close();
    converter?.stdin.destroy();
    converter?.stdout.destroy();
  };
  if (read.sha256 !== o.expectedSha256) {
    gate.killClient();
    abandon();
    stop.abort();
  }
  const flowError = await downstream;
  if (flowError) stop.abort();
  abandon();
  const exit = await client.exited;
  const decompressError = await decompressor.finished.then(
    () => null,
    (e: Error) => e,
  );
  const converterExit = converter ? await converter.exited : null;
  const failure = explainFailure({ signal, read, expectedSha256: o.expectedSha256, commands, exit, converterExit, decompressError, flowError });
  if (failure) throw scanner ? explainDefinerFailure(failure, scanner, commands) : failure;
  return { storedBytes, rawBytes: raw.bytes, sha256: read.sha256!, stderrTail: exit.stderrTail };
}

type Outcome = {
  signal: AbortSignal;
  read: { sha256: string | null; error: unknown };
  expectedSha256: string;
  commands: RestoreCommands;
  exit: ExitInfo;
  converterExit: ExitInfo | null;
  decompressError: Error | null;
  flowError: unknown;
};

/** The error that best explains a restore that did not succeed, or null when it did. */
function explainFailure(o: Outcome): RestoreError | null {
  if (o.signal.aborted) return o.signal.reason instanceof RestoreError ? o.signal.reason : new RestoreError("CANCELLED", "the restore was cancelled");
  if (o.read.error !== null)
    return new RestoreError("STORAGE_FAILED", `reading the artifact failed: ${(o.read.error as Error).message}`, { cause: o.read.error });
  if (o.read.sha256 !== o.expectedSha256) {
    return new ChecksumMismatchError(
      o.expectedSha256,
      o.read.sha256!,
      o.commands.transactional ? "the restore was rolled back before anything was committed" : "the restore was stopped",
    );
  }
  // An artifact that did not decrypt (altered, reordered, cut short, no identity) is the cause of whatever followed.
  if (isDecryptFailure(o.decompressError)) return new RestoreError("DECRYPT_FAILED", o.decompressError.message, { cause: o.decompressError });
  // A program that exited with a code failed on its own; one killed by a signal was stopped
  // because something else failed first, which is the better explanation.
  const { exit, converterExit } = o;
  if (exit.code !== null && exit.code !== 0) return childFailure(o.commands.client, exit);
  if (converterExit && converterExit.code !== null && converterExit.code !== 0) return childFailure(o.commands.converter!, converterExit);
  if (o.decompressError) return new RestoreError("DECOMPRESS_FAILED", o.decompressError.message, { cause: o.decompressError });
  // Stopped here because the flow failed: the flow's error explains it.
  if (converterExit && converterExit.code !== 0 && !converterExit.stopped) return childFailure(o.commands.converter!, converterExit);
  if (exit.code !== 0 && !exit.stopped) return childFailure(o.commands.client, exit);
  if (o.flowError)
    return new RestoreError("CLIENT_FAILED", `the restore stream failed: ${(o.flowError as Error).message}`, {
      cause: o.flowError,
      stderrTail: exit.stderrTail,
    });
  if (converterExit && converterExit.code !== 0) return childFailure(o.commands.converter!, converterExit);
  if (exit.code !== 0) return childFailure(o.commands.client, exit);
  return null;
}

/**
 * Reads the whole source into `input` (with backpressure) while hashing it. Once writing stops
 * (the data path failed or the decompressor exited), keeps reading only to hash: a corrupt
 * artifact must always be told apart. Ends `input` after the last byte. A cancel ends it at once,
 * even when the source stalls. Never throws: a read error or cancel is returned.
 */
async function feed(
  source: Readable,
  input: Duplex,
  stopWriting: Promise<unknown>,
  signal: AbortSignal,
  onBytes: (bytes: number) => void,
): Promise<{ sha256: string | null; error: unknown }> {
  let writing = true;
  void stopWriting.then(() => (writing = false));
  const hash = crypto.createHash("sha256");
  let bytes = 0;
  let stop = () => {};
  const aborted = new Promise<never>((_resolve, reject) => {
    stop = () => (source.destroy(), reject(signal.reason ?? new Error("aborted")));
    if (signal.aborted) stop();
    else signal.addEventListener("abort", stop, { once: true });
  });
  aborted.catch(() => {});
  try {
    const chunks = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    for (;;) {
      const next = await Promise.race([chunks.next(), aborted]);
      if (next.done) break;
      hash.update(next.value);
      onBytes((bytes += next.value.length));
      if (writing && !input.destroyed && !input.write(next.value)) await Promise.race([drainOrClose(input), stopWriting]);
    }
    if (writing && !input.destroyed) input.end();
    return { sha256: hash.digest("hex"), error: null };
  } catch (error) {
    return { sha256: null, error };
  } finally {
    signal.removeEventListener("abort", stop);
  }
}

/**
 * A client refused an object for its DEFINER (MariaDB/MySQL ERROR 1227: the restoring user lacks
 * SET USER / SUPER): the error names the object and its definer, found at the line the client gave.
 */
function explainDefinerFailure(failure: RestoreError, scanner: DumpObjectScanner, commands: RestoreCommands): RestoreError {
  const m = /ERROR 1227 \([0-9A-Z]+\) at line (\d+)/.exec(failure.stderrTail);
  const object = m ? scanner.objectAt(Number(m[1])) : null;
  if (!object) return failure;
  const user = commands.client.args.find((a) => a.startsWith("--user="))?.slice("--user=".length) ?? "the restoring user";
  return new RestoreError(
    "CLIENT_FAILED",
    `${object.kind.toLowerCase()} ${object.name} is defined by ${object.account}, and ${user} may not create objects for another account (it lacks SET USER / SUPER): restore with rewriteDefiners to make ${user} their definer, or as a user with those privileges; ${failure.message}`,
    { cause: failure, stderrTail: failure.stderrTail },
  );
}

async function succeeded(child: ChildHandle, command: ClientCommand): Promise<void> {
  const exit = await child.exited;
  if (exit.code !== 0) throw childFailure(command, exit);
}

function childFailure(command: ClientCommand, exit: ExitInfo): RestoreError {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  const words = lastLines(exit.stderrTail);
  return new RestoreError("CLIENT_FAILED", `${path.basename(command.command)} ${how}${words ? `: ${words}` : ""}`, { stderrTail: exit.stderrTail });
}

function drainOrClose(stream: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      stream.off("error", done);
      resolve();
    };
    stream.once("drain", done);
    stream.once("close", done);
    stream.once("error", done);
  });
}
