import { createHash } from "node:crypto";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { buffer } from "node:stream/consumers";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { MANIFEST_SUFFIX } from "./artifact-key.ts";

/** The copy read from the source store does not match the backup's SHA-256: nothing was committed. */
export class ChecksumMismatchError extends Error {
  readonly transient = false;
  constructor(
    readonly key: string,
    readonly actual: string,
  ) {
    super(`the source copy of ${key} does not match the backup's SHA-256 (read ${actual})`);
    this.name = "ChecksumMismatchError";
  }
}

/** Hashes what flows through; fails at the end (before the store commits) when the digest differs. */
class VerifyingStream extends Transform {
  readonly #hash = createHash("sha256");
  constructor(
    private readonly key: string,
    private readonly sha256: string,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#hash.update(chunk);
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    const actual = this.#hash.digest("hex");
    done(actual === this.sha256 ? null : new ChecksumMismatchError(this.key, actual));
  }
}

/**
 * Copies a backup's artifact and its manifest from one store to another, checking the artifact's
 * SHA-256 as it streams: a copy whose bytes differ fails before the target commits it (stores
 * commit only a complete, successful write), so nothing unverified is ever left there. The
 * manifest is written after the artifact; if it cannot be, the artifact is removed again. Throws
 * the store's error (StorageError, with `transient`) or ChecksumMismatchError.
 */
export async function copyArtifact(
  from: ArtifactStore,
  to: ArtifactStore,
  key: string,
  sha256: string,
  options: { signal?: AbortSignal; contentType?: string } = {},
): Promise<{ bytes: number }> {
  const manifest = await buffer(await from.get(key + MANIFEST_SUFFIX, { signal: options.signal }));
  const source = await from.get(key, { signal: options.signal });
  const verified = source.pipe(new VerifyingStream(key, sha256));
  source.on("error", (error) => verified.destroy(error));
  const stored = await to.put(key, verified, { signal: options.signal, contentType: options.contentType });
  try {
    await to.put(key + MANIFEST_SUFFIX, Readable.from([manifest]), { signal: options.signal, contentType: "application/json" });
  } catch (error) {
    await to.delete(key).catch(() => {});
    throw error;
  }
  return stored;
}
