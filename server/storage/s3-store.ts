import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";
import { StorageError, type ArtifactStore, type StoredObject } from "./artifact-store.ts";
import { abortMayWorkLater, uploadStream, UploadFailure, type S3Sender } from "./s3-upload.ts";
import { MemoryUploadJournals, type UploadJournal, type UploadRecord } from "./upload-journal.ts";

/** How far an S3 server's clock may be behind ours when matching an upload to its record. */
const CLOCK_SKEW_MS = 5 * 60_000;

export type S3StoreOptions = {
  bucket: string;
  region: string;
  endpoint?: string;
  /** Key prefix inside the bucket; slashes at either end are ignored. */
  prefix?: string;
  forcePathStyle: boolean;
  /**
   * Static credentials. Without them the SDK's default chain finds credentials in the environment
   * (AWS_* variables, shared config files, web identity / IRSA, ECS or EC2 instance roles).
   */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Connection timeout and socket idle timeout of each request (default 10 s and 120 s). */
  requestTimeoutMs?: number;
  /** Where multipart uploads are recorded; without one, only this process's own are ever aborted. */
  journal?: UploadJournal;
  /** Replaces the S3 client (unit tests with a fake, benchmarks with a wrapper). */
  client?: S3Sender;
  /** Called after each uploaded part (benchmarks). */
  onPart?: (part: { key: string; partNumber: number; bytes: number }) => void;
};

// The SDK prints a "NodeVersionSupportWarning" on the first client of every process on Node < 22
// (every CLI call, every server start). SQLGuard supports Node 20; the SDK's own switch turns it
// off unless the operator set it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/**
 * Artifacts as objects in an S3-compatible bucket under an optional prefix. A put is a single
 * PutObject when the body fits in one part, else a multipart upload (s3-upload.ts) whose parts grow
 * with the stream, recorded in the journal and completed only on success; on failure it is aborted
 * and the key deleted, so nothing is left behind. After the upload the object's size is checked.
 * Only multipart uploads the journal recorded, and whose writer is dead, are ever aborted.
 */
export class S3Store implements ArtifactStore {
  readonly kind = "S3" as const;
  readonly #client: S3Sender;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #secret: string;
  readonly #journal: UploadJournal;
  readonly #onPart: S3StoreOptions["onPart"];

  constructor(options: S3StoreOptions) {
    this.#bucket = options.bucket;
    this.#prefix = (options.prefix ?? "").replace(/^\/+|\/+$/g, "");
    this.#secret = options.secretAccessKey ?? "";
    this.#journal = options.journal ?? new MemoryUploadJournals().forTarget(0);
    this.#onPart = options.onPart;
    const credentials =
      options.accessKeyId && options.secretAccessKey ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } : undefined;
    this.#client =
      options.client ??
      new S3Client({
        region: options.region,
        endpoint: options.endpoint || undefined,
        forcePathStyle: options.forcePathStyle,
        // Undefined: the default provider chain (environment, instance profile, IRSA…).
        credentials,
        maxAttempts: 3,
        // Checksums only when an operation requires them: the default (WHEN_SUPPORTED) sends streamed
        // bodies with aws-chunked framing, which many S3-compatible servers store verbatim (corrupt).
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
        requestHandler: {
          connectionTimeout: options.requestTimeoutMs ?? 10_000,
          socketTimeout: options.requestTimeoutMs ?? 120_000,
        },
      });
  }

  /**
   * Uploads `body`; resolves with the byte count once the object is complete and its size checked.
   * `expectedBytes` (an upper-bound estimate) sizes the first parts. On failure or abort every
   * request in flight is cancelled, the multipart upload aborted and the key deleted.
   */
  async put(key: string, body: Readable, options: { signal?: AbortSignal; expectedBytes?: number; contentType?: string } = {}): Promise<{ bytes: number }> {
    const objectKey = this.#key(key);
    const onPart = this.#onPart;
    try {
      return await uploadStream({
        client: this.#client,
        bucket: this.#bucket,
        key: objectKey,
        body,
        signal: options.signal,
        expectedBytes: options.expectedBytes,
        contentType: options.contentType,
        journal: this.#journal,
        journalKey: key,
        onPart: onPart && ((part) => onPart({ key, ...part })),
      });
    } catch (error) {
      const failure = error as UploadFailure;
      const where = `s3://${this.#bucket}/${objectKey}`;
      if (!(failure instanceof UploadFailure)) throw this.#error(error, "upload", objectKey);
      switch (failure.stage) {
        case "aborted":
          throw this.#error(failure.reason, "upload", objectKey, true);
        case "source":
          if (failure.reason instanceof StorageError) throw failure.reason;
          throw new StorageError("FAILED", `cannot upload ${where}: the source stream failed: ${failure.message}`, false, { cause: failure.reason });
        case "check":
          throw this.#scrub(new StorageError("FAILED", `cannot upload ${where}: ${failure.message}`, failure.transient, { cause: failure.reason }));
        default:
          throw this.#error(failure.reason, "upload", objectKey);
      }
    }
  }

  /** Streams an object; NOT_FOUND when it does not exist. */
  async get(key: string, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    const objectKey = this.#key(key);
    try {
      const result = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: objectKey }), {
        abortSignal: options.signal,
      });
      if (!result.Body) throw new Error("the response has no body");
      return result.Body as Readable;
    } catch (error) {
      throw this.#error(error, "read", objectKey, options.signal?.aborted);
    }
  }

  async head(key: string): Promise<StoredObject | null> {
    const objectKey = this.#key(key);
    try {
      const result = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: objectKey }));
      return { key, bytes: result.ContentLength ?? 0, modifiedAt: result.LastModified ?? new Date(0) };
    } catch (error) {
      const mapped = this.#error(error, "stat", objectKey);
      if (mapped.code === "NOT_FOUND") return null;
      throw mapped;
    }
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.#key(key);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: objectKey }));
    } catch (error) {
      const mapped = this.#error(error, "delete", objectKey);
      if (mapped.code !== "NOT_FOUND") throw mapped;
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    const base = this.#prefix ? `${this.#prefix}/` : "";
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.#client.send(new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: base + prefix, ContinuationToken: token }));
      } catch (error) {
        throw this.#error(error, "list", base + prefix);
      }
      for (const object of page.Contents ?? []) {
        if (!object.Key?.startsWith(base)) continue;
        yield { key: object.Key.slice(base.length), bytes: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * Aborts the multipart uploads of `key` the journal recorded (never one running in this
   * process). Best effort: never throws.
   */
  async discard(key: string): Promise<void> {
    this.#key(key);
    await this.#journal
      .leftovers({ key })
      .then((records) => this.#abortRecorded(records))
      .catch(() => 0);
  }

  /**
   * Aborts the multipart uploads the journal recorded whose writer is dead (not renewed since
   * `olderThan`, or left by an earlier process of this instance); returns how many. Uploads under
   * the prefix that the journal does not know (another instance's, another program's) are never
   * touched. Best effort per upload: one that cannot be aborted now stays recorded for next time.
   */
  async removePartials(olderThan: Date): Promise<number> {
    return this.#abortRecorded(await this.#journal.leftovers({ staleBefore: olderThan }));
  }

  async #abortRecorded(records: UploadRecord[]): Promise<number> {
    let removed = 0;
    for (const record of records) {
      const objectKey = this.#key(record.key);
      try {
        const ids = record.uploadId ? [record.uploadId] : await this.#uploadsBegunAfter(objectKey, record.startedAt);
        for (const uploadId of ids) {
          await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: objectKey, UploadId: uploadId }));
          removed++;
        }
        await this.#journal.forget(record.id);
      } catch (error) {
        // Gone already, or never possible on this server: nothing to retry. Otherwise the record stays.
        if (!abortMayWorkLater(error)) await this.#journal.forget(record.id);
      }
    }
    return removed;
  }

  /**
   * The multipart uploads of exactly `objectKey` begun since `since`: those of a writer that died
   * after recording its upload and before learning the upload's id.
   */
  async #uploadsBegunAfter(objectKey: string, since: Date): Promise<string[]> {
    const found: string[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.#client.send(
        new ListMultipartUploadsCommand({ Bucket: this.#bucket, Prefix: objectKey, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      );
      for (const upload of page.Uploads ?? []) {
        if (upload.Key === objectKey && upload.UploadId && upload.Initiated && upload.Initiated.getTime() >= since.getTime() - CLOCK_SKEW_MS) {
          found.push(upload.UploadId);
        }
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return found;
  }

  #key(key: string): string {
    if (key === "" || key.startsWith("/")) {
      throw new StorageError("FAILED", `invalid storage key ${JSON.stringify(key)}: must be relative and non-empty`, false);
    }
    return this.#prefix ? `${this.#prefix}/${key}` : key;
  }

  #error(error: unknown, action: string, objectKey: string, aborted = false): StorageError {
    const mapped = aborted
      ? new StorageError("ABORTED", `cannot ${action} s3://${this.#bucket}/${objectKey}: aborted`, false, { cause: error })
      : toStorageError(error, action, `s3://${this.#bucket}/${objectKey}`);
    return this.#scrub(mapped);
  }

  #scrub(error: StorageError): StorageError {
    if (!this.#secret || !error.message.includes(this.#secret)) return error;
    return new StorageError(error.code, error.message.replaceAll(this.#secret, "***"), error.transient);
  }
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
]);
const UNAVAILABLE_NAMES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "InternalError",
  "ServiceUnavailable",
]);
const DENIED_NAMES = new Set(["AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled", "InvalidToken", "ExpiredToken"]);

/**
 * Maps an S3 SDK, network or abort error to a StorageError named after `action` and `where`
 * (`s3://bucket/key`): 404s NOT_FOUND; 403s and credential problems ACCESS_DENIED; 5xx, throttling,
 * timeouts and connection errors UNAVAILABLE (transient); aborts ABORTED; anything else FAILED.
 */
export function toStorageError(error: unknown, action: string, where: string): StorageError {
  if (error instanceof StorageError) return error;
  const err = (error ?? {}) as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = err.name ?? "Error";
  const status = err.$metadata?.httpStatusCode;
  const code = err.code ?? "";
  const detail = `${name === "Error" ? "" : `${name}: `}${err.message || (status ? `HTTP ${status}` : String(error))}`;
  const make = (storageCode: StorageError["code"], reason: string, transient = false): StorageError =>
    new StorageError(storageCode, `cannot ${action} ${where}: ${reason} (${detail})`, transient, { cause: error });

  if (name === "AbortError" || code === "ABORT_ERR") return make("ABORTED", "aborted");
  if (name === "CredentialsProviderError") {
    return make(
      "ACCESS_DENIED",
      "no credentials: give the target an access key and secret, or give SQLGuard's environment credentials (instance profile, IRSA, AWS_* variables)",
    );
  }
  if (name === "NoSuchKey" || name === "NotFound" || status === 404) {
    return name === "NoSuchBucket" ? make("FAILED", "the bucket does not exist") : make("NOT_FOUND", "no such object");
  }
  if (DENIED_NAMES.has(name) || status === 403) return make("ACCESS_DENIED", "access denied, check the credentials and bucket policy");
  if (name === "NotImplemented" || status === 501) return make("FAILED", "not supported by this S3 server");
  if (UNAVAILABLE_NAMES.has(name) || NETWORK_CODES.has(code) || (status !== undefined && status >= 500) || /socket hang up/i.test(err.message ?? "")) {
    return make("UNAVAILABLE", "the S3 service is unavailable", true);
  }
  return make("FAILED", "request failed");
}
