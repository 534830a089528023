import crypto from "node:crypto";
import { Duplex, PassThrough, type Readable } from "node:stream";
import zlib from "node:zlib";
import { AgeError } from "../encryption/age-header.ts";
import { AgeDecrypt } from "../encryption/age-stream.ts";
import type { Decryption } from "../encryption/artifact-decryption.ts";
import type { CompressionKind } from "../process/compress.ts";
import { lastLines, spawnChild } from "../process/spawn.ts";

/**
 * Reads a whole stream and returns its SHA-256 and size; `onBytes` sees the running total.
 * Rejects with the stream's error.
 */
export async function hashStream(source: Readable, onBytes?: (bytes: number) => void): Promise<{ sha256: string; bytes: number }> {
  const hash = crypto.createHash("sha256");
  let bytes = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    onBytes?.(bytes);
  }
  return { sha256: hash.digest("hex"), bytes };
}

/**
 * `finished` rejects when decompression failed; `done` settles once it takes no more input;
 * `close` ends a decompressor the data path abandoned (zstd would otherwise wait for more input).
 */
export type Decompressor = { stream: Duplex; finished: Promise<void>; done: Promise<void>; close: () => void };

/** The inverse of runner/compress.ts: `zstd -d` as a child, gunzip in-process, or nothing. */
export function createDecompressor(kind: CompressionKind, signal?: AbortSignal): Decompressor {
  if (kind === "GZIP" || kind === "NONE") {
    const stream = kind === "GZIP" ? zlib.createGunzip() : new PassThrough();
    const done = new Promise<void>((resolve) => stream.once("close", () => resolve()));
    // A truncated or damaged stream is a zlib error; a close without one is another stage's failure.
    const finished = new Promise<void>((resolve, reject) => {
      stream.once("error", (e) => reject(new Error(`gzip: ${e.message}`)));
      void done.then(resolve);
    });
    finished.catch(() => {});
    return { stream, finished, done, close: () => void stream.destroy() };
  }
  const child = spawnChild("zstd", ["-d", "-c", "-q"], { signal });
  const finished = child.exited.then((exit) => {
    if (exit.code !== 0) throw new Error(`zstd -d failed (exit ${exit.code ?? exit.signal}): ${lastLines(exit.stderrTail)}`);
  });
  finished.catch(() => {});
  const close = () => {
    child.stdin.destroy();
    child.stdout.destroy();
  };
  return { stream: Duplex.from({ writable: child.stdin, readable: child.stdout }), finished, done: child.exited.then(() => {}), close };
}

/**
 * What turns stored bytes back into the dump: the decompressor, behind `age -d` when the artifact
 * is encrypted (decrypted in-process, each 64 KiB chunk authenticated before it is passed on).
 * `finished` rejects with the AgeError when decryption failed (no identity, altered, reordered,
 * cut short): that explains the failure better than the decompressor's complaint about its input.
 */
export function createDecoder(kind: CompressionKind, decryption: Decryption | null | undefined, signal?: AbortSignal): Decompressor {
  const inner = createDecompressor(kind, signal);
  if (!decryption) return inner;
  const age = new AgeDecrypt(decryption.identities, decryption.noIdentity);
  const closed = new Promise<void>((resolve) => age.once("close", () => resolve()));
  const decrypted = new Promise<void>((resolve, reject) => {
    age.once("error", reject);
    age.once("end", () => resolve());
    // Closed without an error or its end: another stage failed, which explains it.
    void closed.then(() => resolve());
  });
  decrypted.catch(() => {});
  age.once("error", () => inner.close());
  age.pipe(inner.stream as unknown as NodeJS.WritableStream);
  const finished = decrypted.then(() => inner.finished);
  finished.catch(() => {});
  return {
    stream: Duplex.from({ writable: age, readable: inner.stream }),
    finished,
    done: Promise.race([inner.done, closed]),
    close: () => {
      age.destroy();
      inner.close();
    },
  };
}

/** True when a decoder failed because the artifact could not be decrypted (RestoreError DECRYPT_FAILED). */
export function isDecryptFailure(error: unknown): error is AgeError {
  return error instanceof AgeError;
}
