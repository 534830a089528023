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
   * Writes `body` under `key`. The object exists under its final name only once it is complete,
   * durable and of the size the stream delivered (local: `<key>.partial`, fsync, size check, rename;
   * S3: upload completed, then its size checked). The write is recorded in the store's upload journal
   * before it starts. On any failure, or when `signal` aborts, nothing is left under the final name
   * and the partial upload is removed, and the promise rejects. `expectedBytes` (an upper-bound
   * estimate: the previous backup, the database's size) sizes the first S3 parts.
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
   * Removes what an interrupted `put(key)` recorded in the journal may have left (local:
   * `<key>.partial`; S3: its multipart upload), except a put running in this process: the caller
   * knows the writer is dead (its backup was failed). Never touches the complete object; a missing
   * leftover is not an error.
   */
  discard(key: string): Promise<void>;

  /**
   * Removes the leftovers of recorded writes whose writer is dead: not renewed since `olderThan`,
   * or left by an earlier process of this instance. Returns how many. Nothing the journal does not
   * know is touched (another program's files, another instance's running upload).
   */
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
