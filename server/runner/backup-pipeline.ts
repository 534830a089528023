import { existsSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AgeEncrypt } from "../encryption/age-stream.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { compressionLevelProblem, createCompressor, type CompressionKind } from "../process/compress.ts";
import type { DumpCommand, ReplicationPosition } from "./dumpers/types.ts";
import { BackupError, DumpFailedError, isTransientDumpError } from "./errors.ts";
import { DumpPositionReader } from "./dump-position.ts";
import { FanOut } from "./fan-out.ts";
import { Meter } from "../process/meter.ts";
import { closedFilesIn } from "../process/open-files.ts";
import { tarGrowingDirectory, type TarMember } from "../process/tar.ts";
import { tcpClientPorts } from "../process/sockets.ts";
import { endingOf, howItEnded, lastLines, spawnChild, spawnReading, type ExitInfo } from "../process/spawn.ts";

export type PipelineTarget = { id: number; store: ArtifactStore; key: string; contentType: string };

export type TargetResult = { id: number; ok: true; bytes: number } | { id: number; ok: false; error: unknown };

export type PipelineResult = {
  rawBytes: number;
  storedBytes: number;
  sha256: string;
  targets: TargetResult[];
  stderrTail: string;
  /** A PARALLEL dump: the tar's members (name, size, SHA-256) and the most the spool held. */
  members?: TarMember[];
  spoolPeakBytes?: number;
  /** The snapshot's binlog position read from the dump's own comments (DumpCommand.positionInStream). */
  position?: ReplicationPosition | null;
};

export type PipelineOptions = {
  dump: DumpCommand;
  compression: CompressionKind;
  level: number;
  targets: PipelineTarget[];
  /** Aborting it (cancel, timeout, stall, shutdown) stops everything and leaves no artifact. */
  signal: AbortSignal;
  /** Sizes S3 parts; the previous backup's stored size. */
  expectedBytes?: number;
  /**
   * Encrypts the compressed stream (age v1, node:crypto ChaCha20-Poly1305) to these X25519
   * recipients (32-byte public keys): the checksum and the targets then see the encrypted bytes.
   */
  encryptTo?: Buffer[];
  /** Called with the raw (dump) and stored (compressed, then encrypted) byte counts as data flows. */
  onProgress?: (progress: { rawBytes: number; storedBytes: number }) => void;
};

/**
 * One backup's data path: dump stdout → raw byte count → compressor → (age encryption) → SHA-256
 * and byte count → every storage target at once. Memory stays flat: each stage holds at most its stream buffers.
 * Artifacts are committed only after the dump and the compressor exited cleanly. Resolves with
 * per-target results when at least one target stored the artifact; rejects otherwise, leaving no
 * artifact anywhere and no child process running, with the BackupError that names the cause
 * (DumpFailedError for a dump that failed on its own, COMPRESSOR_FAILED, STORAGE_FAILED,
 * CONFIGURATION for a compression level the compressor does not take), never a consequence of it
 * (the broken pipe of a dump whose compressor died).
 */
export async function runPipeline(options: PipelineOptions): Promise<PipelineResult> {
  const levelProblem = compressionLevelProblem(options.compression, options.level);
  if (levelProblem) throw new BackupError("CONFIGURATION", `compression level ${options.level} ${levelProblem}`);
  if (options.encryptTo && !options.encryptTo.length) throw new BackupError("CONFIGURATION", "encryption is on but there is no encryption key to encrypt to");
  // Encryption runs in this process after the compressor: it sees only the compressed bytes.
  const encrypt = options.encryptTo ? [new AgeEncrypt(options.encryptTo)] : [];
  const { signal } = options;
  // Stops every child on any failure, not only on abort: a dump left running holds a connection
  // and a snapshot open on the server.
  const stop = new AbortController();
  const children = AbortSignal.any([signal, stop.signal]);
  const stored = new Meter({ hash: true, onBytes: () => options.onProgress?.({ rawBytes: source.rawBytes(), storedBytes: stored.bytes }) });
  const session = new SessionWatch();
  const kit: SourceKit = {
    signal: children,
    stop: () => (session.sample(), stop.abort()),
    storedBytes: () => stored.bytes,
    started: (pid) => session.watch(pid),
  };
  let source: Source;
  try {
    source = options.dump.outputDir
      ? spoolSource(options, options.dump.outputDir, kit)
      : options.compression === "ZSTD" && canCountRawBytes() && !options.dump.positionInStream
        ? directZstdSource(options, kit)
        : inProcessSource(options, kit);
  } catch (error) {
    // spawn() itself refused (an argument it cannot pass): whatever did start is stopped.
    stop.abort();
    session.close();
    throw new BackupError("CONFIGURATION", `the dump could not be started: ${(error as Error).message}`, false, { cause: error });
  }
  const onAbort = () => session.sample();
  signal.addEventListener("abort", onAbort, { once: true });

  const fanOut = new FanOut(options.targets.length, source.producersOk);
  const puts = options.targets.map((t, i) =>
    t.store.put(t.key, fanOut.branches[i]!, { signal, expectedBytes: options.expectedBytes, contentType: t.contentType }).then(
      (r): TargetResult => ({ id: t.id, ok: true, bytes: r.bytes }),
      (error: unknown): TargetResult => {
        fanOut.drop(i);
        return { id: t.id, ok: false, error };
      },
    ),
  );

  let flowError: unknown;
  try {
    await pipeline([...source.streams, ...encrypt, stored, fanOut], { signal });
  } catch (error) {
    flowError = error;
    kit.stop();
  }
  const targets = await Promise.all(puts);
  const ended = await source.ended();
  session.close();
  signal.removeEventListener("abort", onAbort);

  if (flowError !== undefined) {
    // A dump that died of a signal may have left its session waiting on the server.
    if (ended.dump.signal !== null && session.ports.length) await options.dump.endServerSession?.(session.ports);
    throw explain(flowError, signal, ended, targets);
  }
  if (!targets.some((t) => t.ok)) throw storageFailure(targets);
  return {
    rawBytes: ended.rawBytes,
    storedBytes: stored.bytes,
    sha256: stored.digest(),
    targets,
    stderrTail: ended.dump.stderrTail,
    ...(source.spool ? { members: source.spool.members, spoolPeakBytes: source.spool.peakBytes() } : {}),
    ...(source.position ? { position: source.position() } : {}),
  };
}

const PORT_POLL_MS = 50;

/**
 * The TCP client ports of the dump's connection, sampled while it runs: once the dump was killed
 * they are how its session on the server is found (and ended: it may be waiting for a lock).
 */
class SessionWatch {
  readonly #ports = new Set<number>();
  #pid: number | undefined;
  #timer: NodeJS.Timeout | undefined;

  watch(pid: number | undefined): void {
    this.#pid = pid;
    this.#timer = setInterval(() => this.sample(), PORT_POLL_MS);
  }

  sample(): void {
    for (const port of tcpClientPorts(this.#pid)) this.#ports.add(port);
    // Dump programs open one connection: once it is known there is nothing more to look for.
    if (this.#ports.size) this.close();
  }

  close(): void {
    clearInterval(this.#timer);
  }

  get ports(): number[] {
    return [...this.#ports];
  }
}

/** How the producers ended: the dump, and the compressor when it is a program (zstd). */
type Ended = { dump: ExitInfo; compressor: ExitInfo | null; rawBytes: number };

/** Where the compressed bytes come from, and how to tell that every producer succeeded. */
type Source = {
  /** The stages before the checksum; the last one yields the compressed artifact. */
  streams: Array<NodeJS.ReadableStream | NodeJS.ReadWriteStream>;
  rawBytes(): number;
  /** Resolves once the dump and the compressor both exited cleanly; rejects with the cause otherwise. */
  producersOk(): Promise<void>;
  /** Once every child has exited: how each ended, and the exact dump size. */
  ended(): Promise<Ended>;
  /** A spooled (PARALLEL) dump: the tar's members so far, and the most the spool held. */
  spool?: { members: TarMember[]; peakBytes(): number };
  /** The position the dump wrote in its comments, once it ended (only when the dump carries one). */
  position?: () => ReplicationPosition | null;
};

/**
 * What a source's children share: the signal that stops them, `stop` (fired by a child that ended
 * badly: the others are of no use then, and a dump waiting on a lock would never notice), the
 * stored byte count for progress, and `started`, told the dump's pid.
 */
type SourceKit = { signal: AbortSignal; stop: () => void; storedBytes: () => number; started: (dumpPid: number | undefined) => void };

function stopOthersIfBad(exited: Promise<ExitInfo>, stop: () => void): void {
  void exited.then((exit) => endingOf(exit) !== "ok" && stop());
}

/** dump → this process (raw count) → compressor (zstd child, zlib gzip, or none) → this process. */
function inProcessSource(options: PipelineOptions, { signal, stop, storedBytes, started }: SourceKit): Source {
  const compressor = createCompressor(options.compression, options.level, signal);
  if (compressor.exited) stopOthersIfBad(compressor.exited, stop);
  const dumpChild = spawnChild(options.dump.command, options.dump.args, { env: options.dump.env, signal });
  started(dumpChild.pid);
  stopOthersIfBad(dumpChild.exited, stop);
  const raw = new Meter({ onBytes: (rawBytes) => options.onProgress?.({ rawBytes, storedBytes: storedBytes() }) });
  const ended = async (): Promise<Ended> => ({ dump: await dumpChild.exited, compressor: await compressor.exited, rawBytes: raw.bytes });
  // Only the comment lines are kept: a cheap pass-through (the direct zstd path cannot see the bytes).
  const reader = options.dump.positionInStream ? new DumpPositionReader() : null;
  return {
    streams: reader ? [dumpChild.stdout, reader, raw, compressor.stream] : [dumpChild.stdout, raw, compressor.stream],
    ...(reader ? { position: () => reader.position() } : {}),
    rawBytes: () => raw.bytes,
    producersOk: async () => {
      const failure = producerFailure(await ended());
      if (failure) throw failure;
    },
    ended,
  };
}

const SPOOL_POLL_MS = 250;

/**
 * A PARALLEL dump: the program (mydumper, pg_dump -Fd) writes its directory into the spool, its
 * growth counting as progress (so the stall watchdog sees a hung dump); each file it has closed
 * streams on as a tar member (and is removed once read) → raw byte count → compressor, the rest
 * once it exited cleanly. The tar is a plain Readable entering the same compress → checksum →
 * targets path as any dump; a dump that fails fails the stream, so nothing is committed.
 */
function spoolSource(options: PipelineOptions, outputDir: string, { signal, stop, storedBytes, started }: SourceKit): Source {
  const { dump } = options;
  const dumpChild = spawnChild(dump.command, dump.args, { env: dump.env, signal });
  started(dumpChild.pid);
  stopOthersIfBad(dumpChild.exited, stop);
  dumpChild.stdout.resume(); // mydumper's messages: its errors are on stderr
  let peak = 0;
  let polling = false;
  const poll = setInterval(() => {
    if (polling) return;
    polling = true;
    void directoryBytes(outputDir)
      .then((bytes) => {
        if (bytes > peak) {
          peak = bytes;
          options.onProgress?.({ rawBytes: peak, storedBytes: storedBytes() });
        }
      })
      .finally(() => (polling = false));
  }, SPOOL_POLL_MS);
  const members: TarMember[] = [];
  const raw = new Meter({ onBytes: (rawBytes) => options.onProgress?.({ rawBytes: Math.max(rawBytes, peak), storedBytes: storedBytes() }) });
  // Files the dump has closed are stored (and removed) while it writes the others.
  const finished = dumpChild.exited.then(async (exit) => {
    clearInterval(poll);
    if (endingOf(exit) !== "ok") throw dumpFailure(exit);
    peak = Math.max(peak, await directoryBytes(outputDir));
  });
  finished.catch(() => {});
  // mydumper writes `metadata.partial`, closes it and renames it `metadata` as it ends: a closed
  // `.partial` file is not finished (taken in that instant it would vanish or be stored twice).
  const closedFiles = async () => (await closedFilesIn(outputDir, dumpChild.pid)).filter((name) => !name.endsWith(".partial"));
  const tarred = () => tarGrowingDirectory(outputDir, { closedFiles, finished }, { onMember: (m) => members.push(m), signal });
  // The dump has ended by the time the tar flows: the compressor may have every core.
  const compressor = createCompressor(options.compression, options.level, signal, { threads: os.availableParallelism() });
  if (compressor.exited) stopOthersIfBad(compressor.exited, stop);
  const ended = async (): Promise<Ended> => {
    const dumpExit = await dumpChild.exited;
    clearInterval(poll);
    return { dump: dumpExit, compressor: await compressor.exited, rawBytes: raw.bytes };
  };
  return {
    streams: [Readable.from(tarred()), raw, compressor.stream],
    rawBytes: () => raw.bytes,
    producersOk: async () => {
      const failure = producerFailure(await ended());
      if (failure) throw failure;
    },
    ended,
    spool: { members, peakBytes: () => peak },
  };
}

/** Bytes of the files directly in `dir` (a dump directory is flat); 0 while it does not exist. */
async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[]))
    total += await fs.stat(path.join(dir, name)).then(
      (s) => s.size,
      () => 0,
    );
  return total;
}

const RAW_POLL_MS = 250;
/** zstd's closing report at -vv: `/*stdin*\ : 42.67%   (  3893 B =>   1661 B, /*stdout*\)`; sizes are padded. */
const ZSTD_REPORT = /\(\s*(\d+) B =>/;

/**
 * dump | zstd as two processes joined by a pipe this process never reads: the raw dump (the bulk
 * of the bytes) is not copied through Node, which on a small machine leaves its CPU to the dump
 * and the compressor. The raw size is read from /proc/<dump>/io while it runs (progress, stall
 * detection) and exactly from zstd's closing report (`-vv`: "(N B => M B", padded to six places).
 */
function directZstdSource(options: PipelineOptions, { signal, stop, storedBytes, started }: SourceKit): Source {
  const { dump } = options;
  const dumpChild = spawnChild(dump.command, dump.args, { env: dump.env, signal });
  started(dumpChild.pid);
  stopOthersIfBad(dumpChild.exited, stop);
  const zstd = spawnReading("zstd", [`-${options.level}`, "-vv", "-c", "--no-progress"], dumpChild.stdout, { signal });
  stopOthersIfBad(zstd.exited, stop);
  // zstd holds its own copy of the pipe: this process's end must not take any of the data.
  dumpChild.stdout.destroy();
  let raw = 0;
  const poll = setInterval(() => {
    const written = writtenBytes(dumpChild.pid);
    if (written > raw) {
      raw = written;
      options.onProgress?.({ rawBytes: raw, storedBytes: storedBytes() });
    }
  }, RAW_POLL_MS);
  const done = Promise.all([dumpChild.exited, zstd.exited]).finally(() => clearInterval(poll));
  const ended = async (): Promise<Ended> => {
    const [dumpExit, zstdExit] = await done;
    const reported = ZSTD_REPORT.exec(zstdExit.stderrTail);
    return { dump: dumpExit, compressor: zstdExit, rawBytes: reported ? Number(reported[1]) : raw };
  };
  return {
    streams: [zstd.stdout],
    rawBytes: () => raw,
    producersOk: async () => {
      const failure = producerFailure(await ended());
      if (failure) throw failure;
    },
    ended,
  };
}

/**
 * The producer that failed on its own, if one did. A dump that fails ends the compressor's input
 * cleanly (it exits 0); a compressor that dies breaks the dump's pipe (SIGPIPE, or "errno 32/104
 * on write"): so a compressor that failed on its own is the cause, then a dump that did, and a
 * broken pipe only when nothing else explains it.
 */
function producerFailure(ended: Ended, consequencesToo = true): BackupError | null {
  const dumpEnding = endingOf(ended.dump);
  const compressorEnding = ended.compressor ? endingOf(ended.compressor) : "ok";
  if (compressorEnding === "failed") return compressorFailure(ended.compressor!);
  if (dumpEnding === "failed") return dumpFailure(ended.dump);
  if (!consequencesToo) return null;
  if (dumpEnding !== "ok") return dumpFailure(ended.dump);
  if (compressorEnding !== "ok") return compressorFailure(ended.compressor!);
  return null;
}

function dumpFailure(exit: ExitInfo): DumpFailedError {
  return new DumpFailedError(exit.code, exit.signal, exit.stderrTail, exit.signal === null && isTransientDumpError(exit.stderrTail));
}

/** What zstd -vv says on every run (banner, parameters, sizes): no explanation of a failure. */
const ZSTD_CHATTER = /^(\*\*\* .*|--.*|Using std(in|out) for .*|Decompression will require .*|.*=>.*|.*Completed in .*|\s*)$/;

function compressorFailure(exit: ExitInfo): BackupError {
  const words = lastLines(
    exit.stderrTail
      .split("\n")
      .filter((line) => !ZSTD_CHATTER.test(line))
      .join("\n"),
  );
  return new BackupError("COMPRESSOR_FAILED", `the compressor (zstd) ${howItEnded(exit)}${words ? `: ${words}` : ""}`);
}

/** Bytes a process has written so far (its stdout and stderr), from /proc; 0 when unknown. */
function writtenBytes(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return Number(/wchar:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

let procIo: boolean | undefined;

/** Whether /proc/<pid>/io can be read here (Linux with procfs): the direct path's progress needs it. */
function canCountRawBytes(): boolean {
  procIo ??= writtenBytes(process.pid) > 0 || existsSync(`/proc/${process.pid}/io`);
  return procIo;
}

/**
 * Turns whatever stopped the flow into the BackupError that explains it best: the abort's
 * reason; a producer that failed on its own (its failure broke the stream); a storage target's own
 * error (a full disk, an S3 outage: the producers then died of broken pipes or were stopped);
 * the flow's error itself.
 */
function explain(error: unknown, signal: AbortSignal, ended: Ended, targets: TargetResult[]): BackupError {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    return reason instanceof BackupError ? reason : new BackupError("CANCELLED", "the backup was cancelled");
  }
  const producer = producerFailure(ended, false);
  if (producer) return producer;
  if (error instanceof BackupError) return error;
  if (!targets.some((t) => t.ok)) return storageFailure(targets);
  return new BackupError("STORAGE_FAILED", `the backup stream failed: ${(error as Error).message}`, false, { cause: error });
}

function storageFailure(targets: TargetResult[]): BackupError {
  const failures = targets.filter((t): t is Extract<TargetResult, { ok: false }> => !t.ok);
  const transient = failures.length > 0 && failures.every((f) => (f.error as { transient?: boolean }).transient === true);
  const detail = failures.map((f) => (f.error as Error).message).join("; ");
  return new BackupError("STORAGE_FAILED", `no storage target stored the backup: ${detail}`, transient);
}
