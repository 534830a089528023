import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { pipeline, Transform, type Readable } from "node:stream";
import { StorageError, type ArtifactStore, type StoredObject } from "./artifact-store.ts";

const MiB = 1024 * 1024;
const MIN_PART = 8 * MiB;
const MAX_PART = 5 * 1024 * MiB;
/** S3 allows 10,000 parts; plan for 9,000 so estimation slack never runs into the limit. */
const PLANNED_PARTS = 9000;

export type S3StoreOptions = {
  bucket: string;
  region: string;
  endpoint?: string;
  /** Key prefix inside the bucket; slashes at either end are ignored. */
  prefix?: string;
  forcePathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  /** Connection timeout and socket idle timeout of each request (default 10 s and 120 s). */
  requestTimeoutMs?: number;
};

/**
 * Multipart part size for an upload expected to be `expectedBytes` long: at least 8 MiB, large
 * enough that twice the expected size fits in 9,000 parts (backups grow), at most 5 GiB (the S3
 * limit), in whole MiB.
 */
export function choosePartSize(expectedBytes?: number): number {
  const needed = expectedBytes && expectedBytes > 0 ? Math.ceil((2 * expectedBytes) / PLANNED_PARTS) : 0;
  return Math.min(MAX_PART, Math.ceil(Math.max(MIN_PART, needed) / MiB) * MiB);
}

/**
 * Artifacts as objects in an S3-compatible bucket under an optional prefix. A put is a multipart
 * upload (a single PutObject when the body fits in one part) that is completed only on success;
 * on failure it is aborted and the key deleted, so nothing is left behind.
 */
export class S3Store implements ArtifactStore {
  readonly kind = "S3" as const;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #secret: string;

  constructor(options: S3StoreOptions) {
    this.#bucket = options.bucket;
    this.#prefix = (options.prefix ?? "").replace(/^\/+|\/+$/g, "");
    this.#secret = options.secretAccessKey;
    this.#client = new S3Client({
      region: options.region,
      endpoint: options.endpoint || undefined,
      forcePathStyle: options.forcePathStyle,
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
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
   * Uploads `body`; resolves with the byte count once the object is complete. On failure or abort
   * every request in flight is cancelled, the multipart upload aborted and the key deleted.
   */
  async put(key: string, body: Readable, options: { signal?: AbortSignal; expectedBytes?: number; contentType?: string } = {}): Promise<{ bytes: number }> {
    const objectKey = this.#key(key);
    const cancel = new AbortController();
    let committing = false;
    let bytes = 0;
    let bodyError: unknown;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        callback(null, chunk);
      },
    });
    pipeline(body, counter, (error) => {
      // An AbortError here only means the uploader stopped reading after its own failure.
      if (error && error.name !== "AbortError" && bodyError === undefined) bodyError = error;
    });
    const onAbort = (): void => {
      cancel.abort();
      counter.destroy(Object.assign(new Error("upload aborted"), { name: "AbortError" }));
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    // No abortController is handed to Upload: its done() would reject at once while requests are
    // still in flight, and a late PutObject could then recreate the key after the cleanup below.
    // Cancelling the requests and the body makes done() settle only when nothing is in flight.
    const upload = new Upload({
      client: withAbortSignal(this.#client, cancel.signal, () => (committing = true)),
      params: { Bucket: this.#bucket, Key: objectKey, Body: counter, ContentType: options.contentType },
      partSize: choosePartSize(options.expectedBytes),
      queueSize: 2,
      leavePartsOnError: false,
    });
    try {
      options.signal?.throwIfAborted();
      await upload.done();
      options.signal?.throwIfAborted();
      return { bytes };
    } catch (error) {
      cancel.abort();
      counter.destroy();
      body.destroy();
      await upload.abort().catch(() => {});
      // A PutObject or CompleteMultipartUpload may have taken effect although it failed for us.
      // Without one, the key still holds what it held before (if anything), and that is kept.
      if (committing) await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: objectKey })).catch(() => {});
      if (options.signal?.aborted) throw this.#error(options.signal.reason ?? error, "upload", objectKey, true);
      if (bodyError instanceof StorageError) throw bodyError;
      if (bodyError !== undefined) {
        const reason = bodyError instanceof Error ? bodyError.message : String(bodyError);
        throw new StorageError("FAILED", `cannot upload s3://${this.#bucket}/${objectKey}: the source stream failed: ${reason}`, false, { cause: bodyError });
      }
      throw this.#error(error, "upload", objectKey);
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
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
   * Best effort: aborts incomplete multipart uploads of `key`. Never throws, since some
   * S3-compatible servers (s3rver among them) lack ListMultipartUploads.
   */
  async discard(key: string): Promise<void> {
    const objectKey = this.#key(key);
    await this.#abortUploads(objectKey, (upload) => upload.Key === objectKey).catch(() => 0);
  }

  /** Best effort: aborts incomplete multipart uploads under the prefix begun before `olderThan`. */
  async removePartials(olderThan: Date): Promise<number> {
    const base = this.#prefix ? `${this.#prefix}/` : "";
    let removed = 0;
    await this.#abortUploads(
      base,
      (upload) => upload.Initiated !== undefined && upload.Initiated < olderThan,
      () => removed++,
    ).catch(() => {});
    return removed;
  }

  async #abortUploads(prefix: string, select: (upload: { Key?: string; Initiated?: Date }) => boolean, onAborted: () => void = () => {}): Promise<void> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.#client.send(
        new ListMultipartUploadsCommand({ Bucket: this.#bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      );
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId || !select(upload)) continue;
        await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: upload.Key, UploadId: upload.UploadId }));
        onAborted();
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
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
    if (!this.#secret || !mapped.message.includes(this.#secret)) return mapped;
    return new StorageError(mapped.code, mapped.message.replaceAll(this.#secret, "***"), mapped.transient);
  }
}

/**
 * A view of `client` for one Upload: its requests are cancelled by `signal`, except
 * AbortMultipartUpload, which must still go out after a cancel (Upload never passes a signal to
 * send); `onCommit` is called when a request that can create the object is sent.
 */
function withAbortSignal(client: S3Client, signal: AbortSignal, onCommit: () => void): S3Client {
  const send = (command: unknown, options?: Record<string, unknown>): Promise<unknown> => {
    if (command instanceof AbortMultipartUploadCommand) return client.send(command);
    if (command instanceof PutObjectCommand || command instanceof CompleteMultipartUploadCommand) onCommit();
    return client.send(command as never, { ...options, abortSignal: signal } as never);
  };
  return new Proxy(client, {
    get: (target, property) => (property === "send" ? send : Reflect.get(target, property, target)),
  });
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
