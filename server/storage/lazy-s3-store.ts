import type { Readable } from "node:stream";
import type { ArtifactStore, StoredObject } from "./artifact-store.ts";
import type { S3Store, S3StoreOptions } from "./s3-store.ts";

/**
 * An S3Store that loads the AWS SDK (about 25 MB resident, half a second of startup) on first use:
 * a process whose targets are all LOCAL, or that never touches its S3 targets (an `api` instance
 * listing backups), never loads it. Behaves exactly as the S3Store it builds.
 */
export class LazyS3Store implements ArtifactStore {
  readonly kind = "S3" as const;
  #store: Promise<S3Store> | null = null;

  constructor(readonly options: S3StoreOptions) {}

  #load(): Promise<S3Store> {
    this.#store ??= import("./s3-store.ts").then(({ S3Store }) => new S3Store(this.options));
    return this.#store;
  }

  async put(key: string, body: Readable, options?: { signal?: AbortSignal; expectedBytes?: number; contentType?: string }): Promise<{ bytes: number }> {
    return (await this.#load()).put(key, body, options);
  }

  async get(key: string, options?: { signal?: AbortSignal }): Promise<Readable> {
    return (await this.#load()).get(key, options);
  }

  async head(key: string): Promise<StoredObject | null> {
    return (await this.#load()).head(key);
  }

  async delete(key: string): Promise<void> {
    return (await this.#load()).delete(key);
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    yield* (await this.#load()).list(prefix);
  }

  async discard(key: string): Promise<void> {
    return (await this.#load()).discard(key);
  }

  async removePartials(olderThan: Date): Promise<number> {
    return (await this.#load()).removePartials(olderThan);
  }
}
