import crypto from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import type { StorageTarget } from "../db/generated/client.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import { StorageError, type ArtifactStore } from "./artifact-store.ts";
import { LocalStore } from "./local-store.ts";
import { LazyS3Store } from "./lazy-s3-store.ts";
import { storagePathProblem } from "./storage-paths.ts";
import type { UploadJournals } from "./upload-journal.ts";

export type CreateStoreOptions = {
  /** Where the store records its writes (the metadata database); a process-local journal otherwise. */
  journals?: UploadJournals;
  /** SQLGuard's data directory: a LOCAL target must not be it or contain it. */
  dataDir?: string;
};

/**
 * Builds the store for a configured target, decrypting its S3 secret. An S3 target without keys
 * uses the environment's credential chain (instance profile, IRSA, AWS_* variables). Throws
 * StorageError FAILED when the target lacks a required field, its path is a system or data
 * directory (an old record: validation refuses those now), or its secret cannot be decrypted.
 */
export function createStore(target: StorageTarget, secrets: SecretBox, options: CreateStoreOptions = {}): ArtifactStore {
  const missing = (field: string): StorageError => new StorageError("FAILED", `storage target "${target.name}" has no ${field}`, false);
  const journal = options.journals?.forTarget(target.id);
  if (target.kind === "LOCAL") {
    if (!target.path) throw missing("path");
    const problem = storagePathProblem(target.path, options.dataDir);
    if (problem) throw new StorageError("FAILED", `storage target "${target.name}": its path ${target.path} ${problem}`, false);
    return new LocalStore({ basePath: target.path, journal });
  }
  if (!target.bucket) throw missing("bucket");
  if (Boolean(target.accessKeyId) !== Boolean(target.secretAccessKeyEnc)) throw missing(target.accessKeyId ? "secret access key" : "access key id");
  let secretAccessKey: string | undefined;
  if (target.secretAccessKeyEnc) {
    try {
      secretAccessKey = secrets.open(target.secretAccessKeyEnc);
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : "decryption failed";
      throw new StorageError("FAILED", `storage target "${target.name}": cannot read its secret access key: ${reason}`, false);
    }
  }
  // The AWS SDK is loaded on the store's first use, not when the server starts.
  return new LazyS3Store({
    bucket: target.bucket,
    region: target.region || "us-east-1",
    endpoint: target.endpoint || undefined,
    prefix: target.prefix,
    forcePathStyle: target.forcePathStyle,
    accessKeyId: target.accessKeyId ?? undefined,
    secretAccessKey,
    journal,
  });
}

/**
 * Checks that a store works end to end: writes a small object under `.sqlguard-probe/`, reads it
 * back, compares and deletes it. Resolves with the elapsed time; throws a StorageError naming the
 * failing step ("write failed: …", "read back differs", "delete failed: …").
 */
export async function probeStore(store: ArtifactStore): Promise<{ ok: true; latencyMs: number }> {
  const started = performance.now();
  const key = `.sqlguard-probe/${crypto.randomUUID()}`;
  const payload = crypto.randomBytes(1024);
  await step("write", () => store.put(key, Readable.from([payload]), { expectedBytes: payload.length, contentType: "application/octet-stream" }));
  try {
    const read = await step("read", async () => buffer(await store.get(key)));
    if (!read.equals(payload)) throw new StorageError("FAILED", `read back differs: wrote ${payload.length} bytes, read ${read.length} different bytes`, false);
  } catch (error) {
    await store.delete(key).catch(() => {});
    throw error;
  }
  await step("delete", () => store.delete(key));
  return { ok: true, latencyMs: Math.round(performance.now() - started) };
}

async function step<T>(name: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof StorageError) throw new StorageError(error.code, `${name} failed: ${error.message}`, error.transient, { cause: error });
    const message = error instanceof Error ? error.message : String(error);
    throw new StorageError("FAILED", `${name} failed: ${message}`, false, { cause: error });
  }
}
