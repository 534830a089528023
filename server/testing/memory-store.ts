import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { StorageError, type ArtifactStore, type StoredObject } from "../storage/artifact-store.ts";

/**
 * An in-memory ArtifactStore for unit tests of the runner. `failAfterBytes` makes `put` fail once
 * that many bytes were read (a storage outage mid-upload); `committed` lists finished puts in order.
 */
export class MemoryStore implements ArtifactStore {
  readonly kind = "LOCAL" as const;
  readonly objects = new Map<string, Buffer>();
  readonly committed: string[] = [];

  constructor(private readonly options: { failAfterBytes?: number; transient?: boolean } = {}) {}

  async put(key: string, body: Readable, options: { signal?: AbortSignal } = {}): Promise<{ bytes: number }> {
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of body) {
      options.signal?.throwIfAborted();
      bytes += (chunk as Buffer).length;
      if (this.options.failAfterBytes !== undefined && bytes > this.options.failAfterBytes) {
        body.destroy();
        throw new StorageError("UNAVAILABLE", "memory store: simulated outage", this.options.transient ?? true);
      }
      chunks.push(chunk as Buffer);
    }
    this.objects.set(key, Buffer.concat(chunks));
    this.committed.push(key);
    return { bytes };
  }

  async get(key: string): Promise<Readable> {
    const data = this.objects.get(key);
    if (!data) throw new StorageError("NOT_FOUND", `no object ${key}`, false);
    return Readable.from([data]);
  }

  async head(key: string): Promise<StoredObject | null> {
    const data = this.objects.get(key);
    return data ? { key, bytes: data.length, modifiedAt: new Date() } : null;
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    for (const [key, data] of this.objects) if (key.startsWith(prefix)) yield { key, bytes: data.length, modifiedAt: new Date() };
  }

  async discard(): Promise<void> {}

  async removePartials(): Promise<number> {
    return 0;
  }

  /** Reads an object back, for assertions. */
  async read(key: string): Promise<Buffer> {
    return buffer(await this.get(key));
  }
}
