import type { Readable } from "node:stream";

/** One stored object, as listed by a store. */
export type StoredObject = { key: string; bytes: number; modifiedAt: Date };

/**
 * Where artifacts live: a local directory or an S3-compatible bucket. Keys are relative,
 * '/'-separated (`server/database/schedule/20261123T020000Z_42.sql.zst`); the store adds its own
 * base path or prefix. Every implementation passes storage.contract.ts.
 */
export interface ArtifactStore {
  readonly kind: "LOCAL" | "S3";

  /**
   * Writes `body` under `key`. The object exists under its final name only once it is complete and
   * durable (local: `<key>.partial`, fsync, rename; S3: multipart completed). On any failure, or when
   * `signal` aborts, nothing is left under the final name and the partial upload is removed, and
   * the promise rejects. `expectedBytes` sizes S3 parts (learned from the previous backup).
   */
  put(key: string, body: Readable, options?: { signal?: AbortSignal; expectedBytes?: number; contentType?: string }): Promise<{ bytes: number }>;

  /** Reads an object; rejects with StorageError code NOT_FOUND when it does not exist. */
  get(key: string, options?: { signal?: AbortSignal }): Promise<Readable>;

  /** Size and time of an object, or null when it does not exist. */
  head(key: string): Promise<StoredObject | null>;

  /** Deletes an object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;

  /** Every object under a key prefix ("" = all), in no particular order; never partial uploads. */
  list(prefix: string): AsyncIterable<StoredObject>;

  /**
   * Removes what an interrupted `put(key)` may have left (local: `<key>.partial`; S3: incomplete
   * multipart uploads of key). Never touches the complete object; a missing leftover is not an error.
   */
  discard(key: string): Promise<void>;

  /** Removes leftovers of interrupted writes last modified before `olderThan`; returns how many. */
  removePartials(olderThan: Date): Promise<number>;
}

export type StorageErrorCode = "NOT_FOUND" | "ACCESS_DENIED" | "UNAVAILABLE" | "ABORTED" | "FAILED";

/**
 * A storage failure with a bounded code (metrics and retries key on it) and whether retrying may
 * help (network errors, S3 5xx and throttling, timeouts). Never carries credentials.
 */
export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StorageError";
  }
}
