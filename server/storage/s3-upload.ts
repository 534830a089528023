import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
} from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";
import { initialPartSize, MAX_PARTS, nextPartSize } from "./s3-part-size.ts";
import { recordWrite, type UploadJournal, type WriteRecord } from "./upload-journal.ts";

/** The one method of S3Client the store uses: a fake in unit tests, a wrapper in benchmarks. */
export type S3Sender = { send(command: object, options?: { abortSignal?: AbortSignal }): Promise<any> };

/**
 * Why an upload failed, for the store to turn into a StorageError: the source stream failed, an S3
 * request failed (`reason` is the SDK's error), the signal aborted it, or a check failed (`message`
 * explains; the object's size, the part limit, the journal).
 */
export class UploadFailure extends Error {
  constructor(
    readonly stage: "source" | "request" | "aborted" | "check",
    readonly reason: unknown,
    message: string,
    readonly transient = false,
  ) {
    super(message, { cause: reason });
    this.name = "UploadFailure";
  }
}

export type StreamUploadOptions = {
  client: S3Sender;
  bucket: string;
  key: string;
  body: Readable;
  signal?: AbortSignal;
  expectedBytes?: number;
  contentType?: string;
  journal: UploadJournal;
  /** The record's key in the journal (the key inside the target, without the prefix). */
  journalKey: string;
  /** Parts in flight at once (default 2): memory is about (concurrency + 1) parts. */
  concurrency?: number;
  /** Called after each part was uploaded. */
  onPart?: (part: { partNumber: number; bytes: number }) => void;
};

/**
 * Uploads a stream of unknown length: one PutObject when it fits in the first part, otherwise a
 * multipart upload whose parts grow with the upload (s3-part-size.ts), `concurrency` of them in
 * flight, each a buffer (so the SDK can retry it). The multipart upload is recorded in the journal
 * before it is created and completed only once the stream ended; the object's size is then checked
 * against the bytes read. On any failure or abort, requests in flight are cancelled and awaited,
 * the multipart upload aborted and a possibly committed object deleted; rejects with UploadFailure.
 */
export async function uploadStream(o: StreamUploadOptions): Promise<{ bytes: number }> {
  const concurrency = o.concurrency ?? 2;
  const cancel = new AbortController();
  const onAbort = (): void => {
    cancel.abort();
    o.body.destroy(Object.assign(new Error("upload aborted"), { name: "AbortError" }));
  };
  o.signal?.addEventListener("abort", onAbort, { once: true });
  const send = (command: object) => o.client.send(command, { abortSignal: cancel.signal });
  const target = { Bucket: o.bucket, Key: o.key };

  const initial = initialPartSize(o.expectedBytes);
  const pool: Buffer[] = [];
  const take = (size: number): Buffer => {
    while (pool.length && pool[pool.length - 1]!.length !== size) pool.pop();
    return pool.pop() ?? Buffer.allocUnsafe(size);
  };
  const inFlight = new Set<Promise<void>>();
  const parts: CompletedPart[] = [];
  let requestError: unknown;
  let uploadId: string | undefined;
  let record: WriteRecord | undefined;
  let committing = false;
  let partNumber = 0;
  let sentBytes = 0;
  let bytes = 0;

  const startPart = async (buffer: Buffer, length: number): Promise<void> => {
    if (partNumber === 0) {
      // Unrecorded when the journal cannot be written: an interrupted upload then stays incomplete
      // until the bucket's lifecycle rule aborts it.
      record = await recordWrite(o.journal, o.journalKey);
      const created = await send(new CreateMultipartUploadCommand({ ...target, ContentType: o.contentType }));
      uploadId = created.UploadId as string;
      record.setUploadId(uploadId);
    }
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (requestError !== undefined) throw requestError;
    cancel.signal.throwIfAborted();
    if (partNumber >= MAX_PARTS) throw new UploadFailure("check", null, `the stream needs more than ${MAX_PARTS} parts`);
    const number = ++partNumber;
    sentBytes += length;
    const part: Promise<void> = send(
      new UploadPartCommand({ ...target, UploadId: uploadId, PartNumber: number, Body: buffer.subarray(0, length), ContentLength: length }),
    )
      .then(
        (result: { ETag?: string }) => {
          parts.push({ PartNumber: number, ETag: result.ETag });
          pool.push(buffer);
          o.onPart?.({ partNumber: number, bytes: length });
        },
        (error: unknown) => {
          // Errors of requests this upload cancelled itself are not the cause.
          if (cancel.signal.aborted) return;
          requestError = error;
          cancel.abort();
          o.body.destroy();
        },
      )
      .finally(() => inFlight.delete(part));
    inFlight.add(part);
  };

  try {
    o.signal?.throwIfAborted();
    let buffer = take(initial);
    let fill = 0;
    const chunks = o.body[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (error) {
        throw new UploadFailure("source", error, (error as Error)?.message ?? String(error));
      }
      if (next.done) break;
      const chunk = next.value;
      bytes += chunk.length;
      for (let offset = 0; offset < chunk.length; ) {
        // A full part goes out only when more data follows: a stream that fits in one part is one PutObject.
        if (fill === buffer.length) {
          await startPart(buffer, fill);
          buffer = take(nextPartSize(initial, sentBytes));
          fill = 0;
        }
        const copied = chunk.copy(buffer, fill, offset);
        fill += copied;
        offset += copied;
      }
    }
    if (partNumber === 0) {
      committing = true;
      await send(new PutObjectCommand({ ...target, Body: buffer.subarray(0, fill), ContentLength: fill, ContentType: o.contentType }));
    } else {
      await startPart(buffer, fill);
      await Promise.all(inFlight);
      if (requestError !== undefined) throw requestError;
      parts.sort((a, b) => a.PartNumber! - b.PartNumber!);
      committing = true;
      await send(new CompleteMultipartUploadCommand({ ...target, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    }
    // A proxy or server that lost bytes must not turn into a recorded success.
    const head = await send(new HeadObjectCommand(target));
    if (head.ContentLength !== bytes) {
      throw new UploadFailure(
        "check",
        null,
        `the stored object holds ${head.ContentLength ?? "an unknown number of"} bytes, but the stream delivered ${bytes}`,
      );
    }
    o.signal?.throwIfAborted();
    record?.end("done");
    return { bytes };
  } catch (caught) {
    cancel.abort();
    o.body.destroy();
    // Nothing may still be on its way when the upload is aborted or the key deleted.
    await Promise.allSettled([...inFlight]);
    let leftover = false;
    if (uploadId !== undefined) {
      leftover = await o.client.send(new AbortMultipartUploadCommand({ ...target, UploadId: uploadId })).then(
        () => false,
        (error: unknown) => abortMayWorkLater(error),
      );
    }
    // A PutObject or CompleteMultipartUpload may have taken effect although it failed for us.
    // Without one, the key still holds what it held before (if anything), and that is kept.
    if (committing) await o.client.send(new DeleteObjectCommand(target)).catch(() => {});
    record?.end(leftover ? "leftover" : "done");
    throw classify(caught, requestError, o.signal);
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
  }
}

/** The failure that explains the upload's end best: an abort, then a request, then the source. */
function classify(caught: unknown, requestError: unknown, signal: AbortSignal | undefined): UploadFailure {
  if (signal?.aborted) return new UploadFailure("aborted", signal.reason ?? caught, "aborted");
  if (requestError !== undefined) return new UploadFailure("request", requestError, (requestError as Error)?.message ?? String(requestError));
  if (caught instanceof UploadFailure) return caught;
  return new UploadFailure("request", caught, (caught as Error)?.message ?? String(caught));
}

/**
 * Whether an abort that failed may succeed later, so its journal record stays: the service was
 * unavailable or refused the credentials. Not when the upload is gone already (NoSuchUpload) or the
 * server cannot abort at all (NotImplemented), nor for other client errors.
 */
export function abortMayWorkLater(error: unknown): boolean {
  const e = (error ?? {}) as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  if (e.name === "NoSuchUpload" || e.name === "NotImplemented" || status === 404 || status === 501) return false;
  return status === undefined || status >= 500 || status === 429 || status === 403;
}
