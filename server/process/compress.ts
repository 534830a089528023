import { Duplex, PassThrough } from "node:stream";
import zlib from "node:zlib";
import { spawnChild, type ExitInfo } from "./spawn.ts";

export type CompressionKind = "ZSTD" | "GZIP" | "NONE";

export type Compressor = {
  stream: Duplex;
  /** The compressor program's exit (zstd); null when it runs in this process (gzip, none). */
  exited: Promise<ExitInfo> | null;
};

/** File name suffix per compression. */
export const COMPRESSION_SUFFIX: Record<CompressionKind, string> = { ZSTD: ".zst", GZIP: ".gz", NONE: "" };

/** The levels each compressor takes: zstd 1-19 (without --ultra), gzip 1-9; none ignores it. */
export const COMPRESSION_LEVELS: Record<CompressionKind, { min: number; max: number } | null> = {
  ZSTD: { min: 1, max: 19 },
  GZIP: { min: 1, max: 9 },
  NONE: null,
};

/** Why `level` cannot be used with `kind`, or null when it can. */
export function compressionLevelProblem(kind: CompressionKind, level: number): string | null {
  const range = COMPRESSION_LEVELS[kind];
  if (!range) return null;
  if (!Number.isInteger(level) || level < range.min || level > range.max) return `must be between ${range.min} and ${range.max} for ${kind}`;
  return null;
}

/**
 * A streaming compressor: zstd through the `zstd` program (faster than any in-process binding
 * available here, and its memory is bounded by the level's window), gzip in-process with zlib,
 * or none; `threads` gives zstd worker threads. Throws a RangeError for a level the compressor does not take (check
 * compressionLevelProblem first); `signal` stops the zstd child.
 */
export function createCompressor(kind: CompressionKind, level: number, signal?: AbortSignal, options: { threads?: number } = {}): Compressor {
  const problem = compressionLevelProblem(kind, level);
  if (problem) throw new RangeError(`compression level ${level} ${problem}`);
  if (kind === "GZIP") return { stream: zlib.createGzip({ level }), exited: null };
  if (kind === "NONE") return { stream: new PassThrough(), exited: null };
  // -T: zstd's own worker threads (its output stays one standard frame sequence any zstd reads).
  const threads = options.threads && options.threads > 1 ? [`-T${options.threads}`] : [];
  const child = spawnChild("zstd", [`-${level}`, ...threads, "-q", "-c", "--no-progress"], { signal });
  return { stream: Duplex.from({ writable: child.stdin, readable: child.stdout }), exited: child.exited };
}
