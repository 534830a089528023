import type { S3Sender } from "../s3-upload.ts";

type Upload = { key: string; uploadId: string; initiated: Date };

/**
 * An in-memory S3 for what s3rver cannot do: AbortMultipartUpload and ListMultipartUploads, and
 * watching requests in flight. Objects keep only their size. `holdParts` makes UploadPart wait
 * until `release()`; `failAbort` makes AbortMultipartUpload fail with that error for those ids.
 */
export class FakeS3 implements S3Sender {
  readonly uploads: Upload[] = [];
  readonly aborted: string[] = [];
  readonly objects = new Map<string, number>();
  readonly partSizes: number[] = [];
  readonly failAbort = new Map<string, Error>();
  inFlightParts = 0;
  maxInFlightParts = 0;
  holdParts = false;
  #waiting: Array<() => void> = [];
  #nextId = 1;
  #parts = new Map<string, Map<number, number>>();

  /** Adds a multipart upload this fake did not see begin (another writer's). */
  addUpload(key: string, initiated: Date, uploadId = `foreign-${this.#nextId++}`): Upload {
    const upload = { key, uploadId, initiated };
    this.uploads.push(upload);
    this.#parts.set(uploadId, new Map());
    return upload;
  }

  /** Lets held parts go on. */
  release(): void {
    this.holdParts = false;
    for (const wake of this.#waiting.splice(0)) wake();
  }

  async send(command: object, options: { abortSignal?: AbortSignal } = {}): Promise<any> {
    const input = (command as { input: Record<string, any> }).input;
    const name = command.constructor.name.replace(/Command$/, "");
    options.abortSignal?.throwIfAborted();
    switch (name) {
      case "CreateMultipartUpload":
        return { UploadId: this.addUpload(input.Key, new Date(), `upload-${this.#nextId++}`).uploadId };
      case "UploadPart": {
        this.inFlightParts++;
        this.maxInFlightParts = Math.max(this.maxInFlightParts, this.inFlightParts);
        try {
          if (this.holdParts) await new Promise<void>((resolve) => this.#waiting.push(resolve));
          options.abortSignal?.throwIfAborted();
          const size = (input.Body as Buffer).length;
          this.partSizes.push(size);
          this.#parts.get(input.UploadId)?.set(input.PartNumber, size);
          return { ETag: `"${input.PartNumber}"` };
        } finally {
          this.inFlightParts--;
        }
      }
      case "CompleteMultipartUpload": {
        const parts = this.#parts.get(input.UploadId)!;
        this.objects.set(
          input.Key,
          [...parts.values()].reduce((a, b) => a + b, 0),
        );
        this.#drop(input.UploadId);
        return {};
      }
      case "PutObject":
        this.objects.set(input.Key, (input.Body as Buffer).length);
        return {};
      case "HeadObject": {
        const size = this.objects.get(input.Key);
        if (size === undefined) throw Object.assign(new Error("not found"), { name: "NotFound", $metadata: { httpStatusCode: 404 } });
        return { ContentLength: size, LastModified: new Date() };
      }
      case "DeleteObject":
        this.objects.delete(input.Key);
        return {};
      case "AbortMultipartUpload": {
        const failure = this.failAbort.get(input.UploadId);
        if (failure) throw failure;
        if (!this.uploads.some((u) => u.uploadId === input.UploadId)) {
          throw Object.assign(new Error("no such upload"), { name: "NoSuchUpload", $metadata: { httpStatusCode: 404 } });
        }
        this.aborted.push(input.UploadId);
        this.#drop(input.UploadId);
        return {};
      }
      case "ListMultipartUploads":
        return {
          Uploads: this.uploads.filter((u) => u.key.startsWith(input.Prefix ?? "")).map((u) => ({ Key: u.key, UploadId: u.uploadId, Initiated: u.initiated })),
          IsTruncated: false,
        };
      default:
        throw new Error(`FakeS3 does not handle ${name}`);
    }
  }

  #drop(uploadId: string): void {
    const at = this.uploads.findIndex((u) => u.uploadId === uploadId);
    if (at >= 0) this.uploads.splice(at, 1);
    this.#parts.delete(uploadId);
  }
}
