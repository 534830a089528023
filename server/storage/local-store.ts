import type { Dirent } from "node:fs";
import fs, { type FileHandle } from "node:fs/promises";
import path from "node:path";
import { addAbortSignal, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StorageError, type ArtifactStore, type StoredObject } from "./artifact-store.ts";
import { MemoryUploadJournals, recordWrite, type UploadJournal, type UploadRecord, type WriteRecord } from "./upload-journal.ts";

const PARTIAL = ".partial";

export type LocalStoreOptions = {
  basePath: string;
  /** Where writes in progress are recorded; without one, only this process's own leftovers are ever removed. */
  journal?: UploadJournal;
};

/**
 * Artifacts as files under a base directory. A put writes `<key>.partial`, fsyncs it, checks its
 * size, renames it to the final name and fsyncs the directory, so a file under its final name is
 * always complete. Every put is recorded in the journal first, and only recorded partial files are
 * ever removed as leftovers: the directory may hold files SQLGuard did not write.
 */
/** The most bytes gathered while one write is in flight (memory per put stays below twice this). */
const WRITE_BATCH = 1024 * 1024;

export class LocalStore implements ArtifactStore {
  readonly kind = "LOCAL" as const;
  readonly basePath: string;
  readonly #journal: UploadJournal;

  constructor(options: LocalStoreOptions) {
    this.basePath = path.resolve(options.basePath);
    this.#journal = options.journal ?? new MemoryUploadJournals().forTarget(0);
  }

  /** Streams `body` to `<key>.partial`, then commits it; on failure removes the partial and rejects. */
  async put(key: string, body: Readable, options: { signal?: AbortSignal } = {}): Promise<{ bytes: number }> {
    const file = this.#file(key);
    const partial = file + PARTIAL;
    let bytes = 0;
    let record: WriteRecord | undefined;
    // The file system's own error (ENOSPC): pipeline() reports an AbortError in its place.
    let writeError: unknown;
    try {
      options.signal?.throwIfAborted();
      await fs.mkdir(path.dirname(file), { recursive: true });
      record = await recordWrite(this.#journal, key);
      const handle = await fs.open(partial, "w", 0o640);
      try {
        // Written through the handle (not a WriteStream that would close it) so it can be fsynced.
        await pipeline(
          body,
          async (chunks: AsyncIterable<Buffer>) => {
            // One write in flight while the next chunks are gathered (at most WRITE_BATCH of them):
            // the stream keeps flowing during a write, and a 64 KiB pipe read is not one syscall each.
            let inflight: Promise<void> | null = null;
            let batch: Buffer[] = [];
            let batched = 0;
            const write = (buffers: Buffer[]) => writeFully(handle, buffers).catch((error: unknown) => Promise.reject((writeError = error)));
            for await (const chunk of chunks) {
              batch.push(chunk);
              batched += chunk.length;
              bytes += chunk.length;
              if (inflight && batched < WRITE_BATCH) continue;
              await inflight;
              inflight = write(batch);
              // A failed write must end the loop at the next chunk, not become an unhandled rejection.
              inflight.catch(() => undefined);
              batch = [];
              batched = 0;
            }
            await inflight;
            if (batch.length > 0) await write(batch);
          },
          { signal: options.signal },
        );
        await handle.sync();
        // The last word before the commit: the file must hold every byte the stream delivered.
        const { size } = await handle.stat();
        if (size !== bytes) throw new StorageError("FAILED", `cannot write ${file}: the file holds ${size} bytes, but the stream delivered ${bytes}`, false);
      } finally {
        await handle.close().catch(() => {});
      }
      options.signal?.throwIfAborted();
      await fs.rename(partial, file);
    } catch (error) {
      body.destroy();
      const removed = await fs.rm(partial, { force: true }).then(
        () => true,
        () => false,
      );
      record?.end(removed ? "done" : "leftover");
      throw toStorageError(options.signal?.aborted ? error : (writeError ?? error), "write", file, options.signal);
    }
    record?.end("done");
    // The rename is durable only once the directory entry is on disk.
    await syncDirectory(path.dirname(file)).catch(() => {});
    return { bytes };
  }

  /** Opens an object for reading; NOT_FOUND when missing. */
  async get(key: string, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    const file = this.#file(key);
    try {
      const handle = await fs.open(file, "r");
      const stat = await handle.stat().catch(async (error: unknown) => {
        await handle.close();
        throw error;
      });
      if (!stat.isFile()) {
        await handle.close();
        throw Object.assign(new Error("not a regular file"), { code: "ENOENT" });
      }
      const stream = handle.createReadStream();
      return options.signal ? addAbortSignal(options.signal, stream) : stream;
    } catch (error) {
      throw toStorageError(error, "read", file, options.signal);
    }
  }

  async head(key: string): Promise<StoredObject | null> {
    const file = this.#file(key);
    try {
      const stat = await fs.stat(file);
      return stat.isFile() ? { key, bytes: stat.size, modifiedAt: stat.mtime } : null;
    } catch (error) {
      if (isMissing(error)) return null;
      throw toStorageError(error, "stat", file);
    }
  }

  /**
   * Deletes the file; a missing one is fine. Empty parent directories are left in place: removing
   * them could race with a concurrent put that has just created its directory.
   */
  async delete(key: string): Promise<void> {
    const file = this.#file(key);
    try {
      await fs.unlink(file);
    } catch (error) {
      if (!isMissing(error)) throw toStorageError(error, "delete", file);
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    if (prefix !== "") validateKey(prefix.replace(/\/$/, ""));
    // Walk only the deepest directory the prefix names, then filter by the full prefix.
    const dir = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
    for await (const rel of this.#walk(dir)) {
      if (rel.endsWith(PARTIAL) || !rel.startsWith(prefix)) continue;
      const stat = await fs.stat(this.#join(rel)).catch((error: unknown) => {
        if (isMissing(error)) return null;
        throw toStorageError(error, "stat", this.#join(rel));
      });
      if (stat?.isFile()) yield { key: rel, bytes: stat.size, modifiedAt: stat.mtime };
    }
  }

  /** Removes `<key>.partial` if a recorded put of `key` (not one running in this process) left it. */
  async discard(key: string): Promise<void> {
    this.#file(key);
    await this.#removeLeftovers(await this.#journal.leftovers({ key }));
  }

  /**
   * Removes the partial files of recorded puts whose writer is dead (not renewed since
   * `olderThan`, or left by an earlier process of this instance); returns how many. Files the
   * journal does not know are never touched, whatever their name.
   */
  async removePartials(olderThan: Date): Promise<number> {
    return this.#removeLeftovers(await this.#journal.leftovers({ staleBefore: olderThan }));
  }

  async #removeLeftovers(records: UploadRecord[]): Promise<number> {
    let removed = 0;
    for (const record of records) {
      const partial = this.#join(record.key) + PARTIAL;
      try {
        validateKey(record.key);
        await fs.unlink(partial);
        removed++;
      } catch (error) {
        if (!isMissing(error) && !(error instanceof StorageError)) throw toStorageError(error, "delete", partial);
      }
      await this.#journal.forget(record.id);
    }
    return removed;
  }

  /** Relative '/'-separated paths of all files under `dir` (relative, "" = base), depth first. */
  async *#walk(dir: string): AsyncGenerator<string> {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(this.#join(dir), { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw toStorageError(error, "list", this.#join(dir));
    }
    for (const entry of entries) {
      const rel = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) yield* this.#walk(rel);
      else if (entry.isFile()) yield rel;
    }
  }

  #file(key: string): string {
    validateKey(key);
    if (key.endsWith(PARTIAL)) throw invalidKey(key, `must not end with ${PARTIAL}`);
    return this.#join(key);
  }

  #join(rel: string): string {
    return rel === "" ? this.basePath : path.join(this.basePath, ...rel.split("/"));
  }
}

/** Throws StorageError FAILED unless `key` is relative, '/'-separated, without '.', '..' or empty segments. */
function validateKey(key: string): void {
  if (key === "") throw invalidKey(key, "is empty");
  if (key.includes("\0")) throw invalidKey(key, "contains a NUL character");
  if (key.startsWith("/")) throw invalidKey(key, "must be relative (starts with '/')");
  for (const segment of key.split("/")) {
    if (segment === "") throw invalidKey(key, "has an empty path segment");
    if (segment === "." || segment === "..") throw invalidKey(key, `has a '${segment}' segment`);
  }
}

function invalidKey(key: string, problem: string): StorageError {
  return new StorageError("FAILED", `invalid storage key ${JSON.stringify(key)}: ${problem}`, false);
}

/**
 * Writes all of `chunk` at the file's position: a write may accept fewer bytes than it was given
 * (a signal, a nearly full or network file system), and the rest must follow, not be dropped.
 */
/**
 * Writes every byte of `chunks` in order, in one writev where the file system takes it all (the
 * chunks are not copied into one buffer: fresh buffers per batch keep the garbage collector
 * busy in a server with a large heap), and again from where a short write stopped.
 */
async function writeFully(handle: FileHandle, chunks: Buffer[]): Promise<void> {
  let pending = chunks;
  while (pending.length > 0) {
    const { bytesWritten } = pending.length === 1 ? await handle.write(pending[0]!) : await handle.writev(pending);
    if (bytesWritten <= 0) throw Object.assign(new Error("the file system accepted no bytes"), { code: "EIO", syscall: "write" });
    let skip = bytesWritten;
    let i = 0;
    while (i < pending.length && skip >= pending[i]!.length) skip -= pending[i++]!.length;
    pending = pending.slice(i);
    if (skip > 0) pending[0] = pending[0]!.subarray(skip);
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

const REASONS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  ENOTDIR: "a parent path is not a directory",
  EISDIR: "is a directory",
  ENOENT: "no such file or directory",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
  EIO: "input/output error",
};

/** Maps an fs, stream or abort error to a StorageError whose message names the path and problem. */
function toStorageError(error: unknown, action: string, file: string, signal?: AbortSignal): StorageError {
  if (error instanceof StorageError) return error;
  const err = error as NodeJS.ErrnoException;
  if (signal?.aborted || err?.name === "AbortError") {
    return new StorageError("ABORTED", `${action} ${file} aborted`, false, { cause: error });
  }
  const code = err?.code ?? "";
  const message = err?.message || String(error);
  // Errors without a syscall during a write come from the body (the dump), not the file system.
  const reason = REASONS[code] ?? (action === "write" && !err?.syscall ? `the source stream failed: ${message}` : message);
  const where = err?.path && err.path !== file && !err.path.endsWith(PARTIAL) ? ` (${err.path})` : "";
  const text = `cannot ${action} ${file}: ${reason}${where}`;
  if (isMissing(error) && action === "read") return new StorageError("NOT_FOUND", text, false, { cause: error });
  if (code === "EACCES" || code === "EPERM") return new StorageError("ACCESS_DENIED", text, false, { cause: error });
  return new StorageError("FAILED", text, code === "EMFILE" || code === "ENFILE", { cause: error });
}
