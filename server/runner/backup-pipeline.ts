import { existsSync, readFileSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { createCompressor, type CompressionKind } from "../process/compress.ts";
import type { DumpCommand } from "./dumpers/types.ts";
import { BackupError, DumpFailedError, isTransientDumpError } from "./errors.ts";
import { FanOut } from "./fan-out.ts";
import { Meter } from "../process/meter.ts";
import { lastLines, spawnChild, spawnReading, type ExitInfo } from "../process/spawn.ts";

export type PipelineTarget = { id: number; store: ArtifactStore; key: string; contentType: string };

export type TargetResult = { id: number; ok: true; bytes: number } | { id: number; ok: false; error: unknown };

export type PipelineResult = {
  rawBytes: number;
  storedBytes: number;
  sha256: string;
  targets: TargetResult[];
  stderrTail: string;
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
  /** Called with the raw (dump) and stored (compressed) byte counts as data flows. */
  onProgress?: (progress: { rawBytes: number; storedBytes: number }) => void;
};

/**
 * One backup's data path: dump stdout → raw byte count → compressor → SHA-256 and byte count →
 * every storage target at once. Memory stays flat: each stage holds at most its stream buffers.
 * Artifacts are committed only after the dump and the compressor exited cleanly. Resolves with
 * per-target results when at least one target stored the artifact; rejects with a BackupError
 * (DumpFailedError for a failed dump) otherwise, leaving no artifact anywhere.
 */
export async function runPipeline(options: PipelineOptions): Promise<PipelineResult> {
  const { signal } = options;
  const stored = new Meter({ hash: true, onBytes: () => options.onProgress?.({ rawBytes: source.rawBytes(), storedBytes: stored.bytes }) });
  const source =
    options.compression === "ZSTD" && canCountRawBytes() ? directZstdSource(options, () => stored.bytes) : inProcessSource(options, () => stored.bytes);

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
    await pipeline([...source.streams, stored, fanOut], { signal });
  } catch (error) {
    flowError = error;
  }
  const targets = await Promise.all(puts);
  const ended = await source.ended();

  if (flowError !== undefined) throw explain(flowError, signal, targets);
  if (!targets.some((t) => t.ok)) throw storageFailure(targets);
  return { rawBytes: ended.rawBytes, storedBytes: stored.bytes, sha256: stored.digest(), targets, stderrTail: ended.stderrTail };
}

/** Where the compressed bytes come from, and how to tell that every producer succeeded. */
type Source = {
  /** The stages before the checksum; the last one yields the compressed artifact. */
  streams: Array<NodeJS.ReadableStream | NodeJS.ReadWriteStream>;
  rawBytes(): number;
  /** Resolves once the dump and the compressor both exited cleanly; rejects with the reason otherwise. */
  producersOk(): Promise<void>;
  /** Once the flow is over: the exact dump size and the dump's stderr tail. */
  ended(): Promise<{ rawBytes: number; stderrTail: string }>;
};

function dumpFailure(exit: ExitInfo): DumpFailedError {
  return new DumpFailedError(exit.code, exit.signal, exit.stderrTail, exit.signal === null && isTransientDumpError(exit.stderrTail));
}

/** dump → this process (raw count) → compressor (zstd child, zlib gzip, or none) → this process. */
function inProcessSource(options: PipelineOptions, storedBytes: () => number): Source {
  const { dump, signal } = options;
  const dumpChild = spawnChild(dump.command, dump.args, { env: dump.env, signal });
  const compressor = createCompressor(options.compression, options.level, signal);
  // Awaited below; this only keeps an early failure from counting as unhandled meanwhile.
  compressor.finished.catch(() => {});
  const raw = new Meter({ onBytes: (rawBytes) => options.onProgress?.({ rawBytes, storedBytes: storedBytes() }) });
  return {
    streams: [dumpChild.stdout, raw, compressor.stream],
    rawBytes: () => raw.bytes,
    producersOk: async () => {
      const exit = await dumpChild.exited;
      if (exit.code !== 0) throw dumpFailure(exit);
      await compressor.finished.catch((error: Error) => {
        throw new BackupError("COMPRESSOR_FAILED", error.message);
      });
    },
    ended: async () => {
      const exit = await dumpChild.exited;
      await compressor.finished.catch(() => {});
      return { rawBytes: raw.bytes, stderrTail: exit.stderrTail };
    },
  };
}

const RAW_POLL_MS = 250;

/**
 * dump | zstd as two processes joined by a pipe this process never reads: the raw dump (the bulk
 * of the bytes) is not copied through Node, which on a small machine leaves its CPU to the dump
 * and the compressor. The raw size is read from /proc/<dump>/io while it runs (progress, stall
 * detection) and exactly from zstd's closing report (`-vv`: "(N B => M B").
 */
function directZstdSource(options: PipelineOptions, storedBytes: () => number): Source {
  const { dump, signal } = options;
  const dumpChild = spawnChild(dump.command, dump.args, { env: dump.env, signal });
  const zstd = spawnReading("zstd", [`-${options.level}`, "-vv", "-c", "--no-progress"], dumpChild.stdout, { signal });
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
  return {
    streams: [zstd.stdout],
    rawBytes: () => raw,
    producersOk: async () => {
      const [dumpExit, zstdExit] = await done;
      const zstdFailed =
        zstdExit.code !== 0
          ? new BackupError("COMPRESSOR_FAILED", `zstd failed (exit ${zstdExit.code ?? zstdExit.signal}): ${lastLines(zstdExit.stderrTail)}`)
          : null;
      // A failing dump ends zstd's input cleanly (zstd exits 0), but a failing zstd breaks the dump's
      // pipe (SIGPIPE, or exit 141 through a shell): a zstd that exited non-zero is the cause.
      if (zstdFailed && zstdExit.code !== null) throw zstdFailed;
      if (dumpExit.code !== 0) throw dumpFailure(dumpExit);
      if (zstdFailed) throw zstdFailed;
    },
    ended: async () => {
      const [dumpExit, zstdExit] = await done;
      const reported = /\((\d+) B =>/.exec(zstdExit.stderrTail);
      return { rawBytes: reported ? Number(reported[1]) : raw, stderrTail: dumpExit.stderrTail };
    },
  };
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

/** Turns whatever stopped the flow into the BackupError that explains it best. */
function explain(error: unknown, signal: AbortSignal, targets: TargetResult[]): BackupError {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    return reason instanceof BackupError ? reason : new BackupError("CANCELLED", "the backup was cancelled");
  }
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
