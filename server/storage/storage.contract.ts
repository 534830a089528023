import crypto from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StorageError, type ArtifactStore } from "./artifact-store.ts";
import { MemoryUploadJournals, type UploadJournal } from "./upload-journal.ts";

/** Builds a fresh store that records its writes in `journal`. */
export type StoreFactory = (journal: UploadJournal) => Promise<{ store: ArtifactStore; cleanup(): Promise<void> }>;

const MiB = 1024 * 1024;
// One random buffer shared by the tests: random bytes are slow to make, and the content does not matter.
const DATA = crypto.randomBytes(12 * MiB);

/**
 * A stream over `data` in 256 KiB chunks. With `pauseAt` it stops (without ending) once that many
 * bytes were read and resolves `paused`; with `failAt` it errors there instead. Destroying it is
 * immediate, as with a dump process that is killed.
 */
export function sourceStream(data: Buffer, options: { pauseAt?: number; failAt?: number } = {}): Readable & { paused: Promise<void> } {
  let offset = 0;
  let onPaused = (): void => {};
  const paused = new Promise<void>((resolve) => (onPaused = resolve));
  const stream = new Readable({
    read() {
      if (options.failAt !== undefined && offset >= options.failAt) {
        this.destroy(new Error("dump process exited with code 2"));
        return;
      }
      if (options.pauseAt !== undefined && offset >= options.pauseAt) {
        onPaused();
        return;
      }
      if (offset >= data.length) {
        this.push(null);
        return;
      }
      const end = Math.min(data.length, offset + 256 * 1024, options.pauseAt ?? Infinity, options.failAt ?? Infinity);
      this.push(data.subarray(offset, end));
      offset = end;
    },
  });
  return Object.assign(stream, { paused });
}

const sha256 = (data: Buffer): string => crypto.createHash("sha256").update(data).digest("hex");

async function keys(store: ArtifactStore, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const object of store.list(prefix)) found.push(object.key);
  return found.sort();
}

async function expectStorageError(promise: Promise<unknown>, code: StorageError["code"]): Promise<StorageError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected a StorageError ${code}, but it resolved`);
    },
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(StorageError);
  expect((error as StorageError).code).toBe(code);
  return error as StorageError;
}

/**
 * The behaviour every ArtifactStore must show (artifact-store.ts), run against a fresh store from
 * `factory`. Each test writes under its own random prefix.
 */
export function describeArtifactStoreContract(name: string, factory: StoreFactory): void {
  describe(`${name}: ArtifactStore contract`, () => {
    let store: ArtifactStore;
    let cleanup: () => Promise<void> = async () => {};
    const unique = (): string => `t-${crypto.randomUUID()}`;
    const journals = new MemoryUploadJournals("contract");

    beforeAll(async () => {
      ({ store, cleanup } = await factory(journals.forTarget(1)));
    });
    afterAll(async () => {
      await cleanup();
    });

    it("round-trips a multi-MiB stream and returns its size", async () => {
      const key = `${unique()}/srv/db/daily/backup.sql.zst`;
      const data = DATA.subarray(0, 5 * MiB + 123);
      await expect(store.put(key, sourceStream(data), { expectedBytes: data.length })).resolves.toEqual({ bytes: data.length });
      expect(sha256(await buffer(await store.get(key)))).toBe(sha256(data));
      const head = await store.head(key);
      expect(head).toMatchObject({ key, bytes: data.length });
      expect(head?.modifiedAt).toBeInstanceOf(Date);
    });

    it("overwrites an existing key", async () => {
      const key = `${unique()}/x.sql`;
      await store.put(key, Readable.from([Buffer.from("first version")]));
      await store.put(key, Readable.from([Buffer.from("second")]));
      expect((await buffer(await store.get(key))).toString()).toBe("second");
      expect((await store.head(key))?.bytes).toBe(6);
    });

    it("lists the keys under a prefix, relative to the store", async () => {
      const base = unique();
      for (const key of [`${base}/a/1.sql`, `${base}/a/2.sql`, `${base}/b/3.sql`]) {
        await store.put(key, Readable.from([Buffer.from(key)]));
      }
      expect(await keys(store, `${base}/a/`)).toEqual([`${base}/a/1.sql`, `${base}/a/2.sql`]);
      expect(await keys(store, `${base}/`)).toEqual([`${base}/a/1.sql`, `${base}/a/2.sql`, `${base}/b/3.sql`]);
      expect(await keys(store, `${base}/a/1`)).toEqual([`${base}/a/1.sql`]);
      expect(await keys(store, `${unique()}/`)).toEqual([]);
      const all = await keys(store, "");
      expect(all).toEqual(expect.arrayContaining([`${base}/a/1.sql`, `${base}/b/3.sql`]));
      const listed = [];
      for await (const object of store.list(`${base}/b/`)) listed.push(object);
      expect(listed).toEqual([{ key: `${base}/b/3.sql`, bytes: `${base}/b/3.sql`.length, modifiedAt: expect.any(Date) }]);
    });

    it("deletes an object, and deleting a missing one is fine", async () => {
      const key = `${unique()}/gone.sql`;
      await store.put(key, Readable.from([Buffer.from("bye")]));
      await store.delete(key);
      expect(await store.head(key)).toBeNull();
      await expect(store.delete(key)).resolves.toBeUndefined();
      await expect(store.delete(`${unique()}/never/was.sql`)).resolves.toBeUndefined();
    });

    it("reports a missing object as NOT_FOUND on get and null on head", async () => {
      const key = `${unique()}/missing.sql`;
      await expectStorageError(store.get(key), "NOT_FOUND");
      expect(await store.head(key)).toBeNull();
    });

    it.each([
      ["early", 300 * 1024],
      ["after several MiB", 10 * MiB],
    ])("leaves nothing when the body fails %s", async (_label, failAt) => {
      const base = unique();
      const key = `${base}/broken.sql.zst`;
      const error = await expectStorageError(store.put(key, sourceStream(DATA, { failAt }), { expectedBytes: 1024 }), "FAILED");
      expect(error.message).toMatch(/: the source stream failed: dump process exited with code 2$/);
      expect(await store.head(key)).toBeNull();
      expect(await keys(store, `${base}/`)).toEqual([]);
      await store.discard(key);
    });

    it("keeps the existing object when a put over it fails before completing", async () => {
      const key = `${unique()}/same.sql`;
      await store.put(key, Readable.from([Buffer.from("good backup")]));
      await expectStorageError(store.put(key, sourceStream(DATA, { failAt: 300 * 1024 })), "FAILED");
      expect((await buffer(await store.get(key))).toString()).toBe("good backup");
    });

    it("leaves nothing when aborted through the signal", async () => {
      const base = unique();
      const key = `${base}/aborted.sql.zst`;
      const body = sourceStream(DATA, { pauseAt: 9 * MiB });
      const controller = new AbortController();
      const put = store.put(key, body, { signal: controller.signal, expectedBytes: 1024 });
      await body.paused;
      await new Promise((resolve) => setTimeout(resolve, 100));
      controller.abort();
      await expectStorageError(put, "ABORTED");
      expect(await store.head(key)).toBeNull();
      expect(await keys(store, `${base}/`)).toEqual([]);
      expect(body.destroyed).toBe(true);
    });

    it("rejects at once when the signal was already aborted", async () => {
      const key = `${unique()}/never.sql`;
      await expectStorageError(store.put(key, sourceStream(DATA.subarray(0, 1024)), { signal: AbortSignal.abort() }), "ABORTED");
      expect(await store.head(key)).toBeNull();
    });

    it("handles keys with spaces, shell characters and Unicode", async () => {
      const key = `${unique()}/srv/we;ird $(x) ünï/manual/x.sql.zst`;
      const data = Buffer.from("SELECT 'ünïcode';\n");
      await expect(store.put(key, Readable.from([data]))).resolves.toEqual({ bytes: data.length });
      expect(await store.head(key)).toMatchObject({ key, bytes: data.length });
      expect(await keys(store, key.slice(0, key.indexOf("/") + 1))).toEqual([key]);
      expect((await buffer(await store.get(key))).equals(data)).toBe(true);
      await store.delete(key);
      expect(await store.head(key)).toBeNull();
    });

    it("records a large put while it runs, and keeps no record once it committed, failed or was aborted", async () => {
      const base = unique();
      const body = sourceStream(DATA, { pauseAt: 9 * MiB });
      const put = store.put(`${base}/recorded.sql.zst`, body);
      await body.paused;
      // The record exists before the first byte is written (S3: before the multipart upload is created).
      while (!journals.records.some((r) => r.key === `${base}/recorded.sql.zst`)) await new Promise((resolve) => setTimeout(resolve, 10));
      body.push(null);
      await expect(put).resolves.toEqual({ bytes: 9 * MiB });
      await expectStorageError(store.put(`${base}/failed.sql.zst`, sourceStream(DATA, { failAt: 10 * MiB })), "FAILED");
      const controller = new AbortController();
      const aborted = sourceStream(DATA, { pauseAt: 9 * MiB });
      const abortedPut = store.put(`${base}/aborted.sql.zst`, aborted, { signal: controller.signal });
      await aborted.paused;
      controller.abort();
      await expectStorageError(abortedPut, "ABORTED");
      expect(journals.records.filter((r) => r.key.startsWith(base))).toEqual([]);
    });

    it("still writes, unrecorded, when the journal cannot be written (metadata database down)", async () => {
      const down = (): Promise<never> => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:3306"));
      const broken: UploadJournal = { begin: down, setUploadId: down, end: down, leftovers: down, forget: down };
      const other = await factory(broken);
      try {
        const key = `${unique()}/during-an-outage.sql.zst`;
        await expect(other.store.put(key, sourceStream(DATA.subarray(0, 9 * MiB)))).resolves.toEqual({ bytes: 9 * MiB });
        expect((await other.store.head(key))?.bytes).toBe(9 * MiB);
      } finally {
        await other.cleanup();
      }
    });

    it("discards a never-written key without error and keeps complete objects", async () => {
      await expect(store.discard(`${unique()}/nothing/here.sql`)).resolves.toBeUndefined();
      const key = `${unique()}/kept.sql`;
      await store.put(key, Readable.from([Buffer.from("complete")]));
      await store.discard(key);
      expect(await store.head(key)).toMatchObject({ bytes: 8 });
      expect(await store.removePartials(new Date(Date.now() + 60_000))).toEqual(expect.any(Number));
      expect(await store.head(key)).toMatchObject({ bytes: 8 });
    });
  });
}
