import { Duplex, PassThrough } from "node:stream";
import zlib from "node:zlib";
import { spawnChild, type ExitInfo } from "./spawn.ts";

export type CompressionKind = "ZSTD" | "GZIP" | "NONE";

export type Compressor = {
  stream: Duplex;
  /** Resolves when the compressor finished cleanly; rejects if its program failed. */
  finished: Promise<void>;
};

/** File name suffix per compression. */
export const COMPRESSION_SUFFIX: Record<CompressionKind, string> = { ZSTD: ".zst", GZIP: ".gz", NONE: "" };

/**
 * A streaming compressor: zstd through the `zstd` program (faster than any in-process binding
 * available here, and its memory is bounded by the level's window), gzip in-process with zlib,
 * or none.
 */
export function createCompressor(kind: CompressionKind, level: number, signal?: AbortSignal): Compressor {
  if (kind === "GZIP") return { stream: zlib.createGzip({ level }), finished: Promise.resolve() };
  if (kind === "NONE") return { stream: new PassThrough(), finished: Promise.resolve() };
  const child = spawnChild("zstd", [`-${level}`, "-q", "-c", "--no-progress"], { signal });
  const finished = child.exited.then((exit: ExitInfo) => {
    if (exit.code !== 0) throw new Error(`zstd failed (exit ${exit.code ?? exit.signal}): ${exit.stderrTail.trim()}`);
  });
  return { stream: Duplex.from({ writable: child.stdin, readable: child.stdout }), finished };
}
