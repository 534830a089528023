import crypto from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";

/**
 * Counts the bytes passing through and, optionally, their SHA-256; calls `onBytes` per chunk with
 * the total, and `onChunk` with the chunk itself (a reader that must see the data, such as a
 * restore drill counting the dump's rows).
 */
export class Meter extends Transform {
  bytes = 0;
  readonly #hash: crypto.Hash | null;
  readonly #onBytes?: (total: number) => void;
  readonly #onChunk?: (chunk: Buffer) => void;

  constructor(options: { hash?: boolean; onBytes?: (total: number) => void; onChunk?: (chunk: Buffer) => void } = {}) {
    super();
    this.#hash = options.hash ? crypto.createHash("sha256") : null;
    this.#onBytes = options.onBytes;
    this.#onChunk = options.onChunk;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.#hash?.update(chunk);
    this.#onChunk?.(chunk);
    this.#onBytes?.(this.bytes);
    done(null, chunk);
  }

  /** Lower-case hex SHA-256 of everything that passed; only once the stream has ended. */
  digest(): string {
    if (!this.#hash) throw new Error("this meter does not hash");
    return this.#hash.digest("hex");
  }
}
