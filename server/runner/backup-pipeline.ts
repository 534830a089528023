import { pipeline } from "node:stream/promises";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { createCompressor, type CompressionKind } from "./compress.ts";
import type { DumpCommand } from "./dumpers/types.ts";
import { BackupError, DumpFailedError, isTransientDumpError } from "./errors.ts";
import { FanOut } from "./fan-out.ts";
import { Meter } from "./meter.ts";
import { spawnChild } from "./spawn.ts";

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
  const { dump, signal } = options;
  const dumpChild = spawnChild(dump.command, dump.args, { env: dump.env, signal });
  const compressor = createCompressor(options.compression, options.level, signal);
  // Awaited below; this only keeps an early failure from counting as unhandled meanwhile.
  compressor.finished.catch(() => {});
  const raw = new Meter({ onBytes: (rawBytes) => options.onProgress?.({ rawBytes, storedBytes: stored.bytes }) });
  const stored = new Meter({ hash: true });

  // The gate before any artifact is committed: every producer must have succeeded.
  const producersOk = async () => {
    const exit = await dumpChild.exited;
    if (exit.code !== 0) {
      throw new DumpFailedError(exit.code, exit.signal, exit.stderrTail, exit.signal === null && isTransientDumpError(exit.stderrTail));
    }
    await compressor.finished.catch((error: Error) => {
      throw new BackupError("COMPRESSOR_FAILED", error.message);
    });
  };
  const fanOut = new FanOut(options.targets.length, producersOk);
  const puts = options.targets.map((t, i) =>
    t.store
      .put(t.key, fanOut.branches[i]!, { signal, expectedBytes: options.expectedBytes, contentType: t.contentType })
      .then(
        (r): TargetResult => ({ id: t.id, ok: true, bytes: r.bytes }),
        (error: unknown): TargetResult => {
          fanOut.drop(i);
          return { id: t.id, ok: false, error };
        },
      ),
  );

  let flowError: unknown;
  try {
    await pipeline(dumpChild.stdout, raw, compressor.stream, stored, fanOut, { signal });
  } catch (error) {
    flowError = error;
  }
  const targets = await Promise.all(puts);
  const exit = await dumpChild.exited;
  await compressor.finished.catch(() => {});

  if (flowError !== undefined) throw explain(flowError, signal, targets);
  if (!targets.some((t) => t.ok)) throw storageFailure(targets);
  return { rawBytes: raw.bytes, storedBytes: stored.bytes, sha256: stored.digest(), targets, stderrTail: exit.stderrTail };
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
