import { HeadObjectCommand, S3Client, UploadPartCommand } from "@aws-sdk/client-s3";
import crypto from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StorageTarget } from "../db/generated/client.ts";
import { SecretBox } from "../secrets/secret-box.ts";
import { startS3rver, type S3rverHandle } from "../testing/s3rver.ts";
import { StorageError } from "./artifact-store.ts";
import { createStore, probeStore } from "./create-store.ts";
import { initialPartSize, nextPartSize, planParts } from "./s3-part-size.ts";
import { S3Store, toStorageError } from "./s3-store.ts";
import { describeArtifactStoreContract, sourceStream } from "./storage.contract.ts";
import { FakeS3 } from "./testing/fake-s3.ts";
import { MemoryUploadJournals } from "./upload-journal.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const SECRET = "s3rver-secret-do-not-log";

function storeFor(server: S3rverHandle, options: { prefix?: string; requestTimeoutMs?: number } = {}): S3Store {
  return new S3Store({
    bucket: server.bucket,
    region: "us-east-1",
    endpoint: server.endpoint,
    forcePathStyle: true,
    accessKeyId: "S3RVER",
    secretAccessKey: SECRET,
    ...options,
  });
}

describeArtifactStoreContract("S3Store", async (journal) => {
  const server = await startS3rver();
  return { store: new S3Store({ ...storeOptions(server), prefix: "/backups/prod/", journal }), cleanup: () => server.stop() };
});

describe("part sizes", () => {
  it.each([
    [undefined, 8 * MiB],
    [0, 8 * MiB],
    [1024, 8 * MiB],
    [36_000 * MiB, 8 * MiB],
    [36_000 * MiB + 1, 9 * MiB],
  ])("expected %s bytes -> first part %s", (expected, partSize) => {
    expect(initialPartSize(expected)).toBe(partSize);
  });

  it("starts from the expected size, capped at 4 GiB (the largest Buffer)", () => {
    expect(initialPartSize(1024 * GiB)).toBe(234 * MiB);
    expect(initialPartSize(100 * 1024 * GiB)).toBe(4 * GiB);
  });

  it("keeps the first size while the upload is within a thousand of them, then grows with it", () => {
    expect(nextPartSize(8 * MiB, 0)).toBe(8 * MiB);
    expect(nextPartSize(8 * MiB, 8000 * MiB)).toBe(8 * MiB);
    expect(nextPartSize(8 * MiB, 8000 * MiB + 1)).toBe(9 * MiB);
    expect(nextPartSize(64 * MiB, 100 * GiB)).toBe(103 * MiB);
    expect(nextPartSize(8 * MiB, 5000 * GiB)).toBe(4 * GiB);
  });

  // The old sizing (from the previous backup only, fixed for the whole upload) needed 10,000+ parts
  // past about 78 GiB: a first backup, a database that doubled, a change of compression.
  it.each([
    ["a first backup of 100 GiB", 100 * GiB, undefined],
    ["a database that grew 20 times", 400 * GiB, 20 * GiB],
    ["a switch from zstd to no compression", 900 * GiB, 90 * GiB],
    ["an object of S3's 5 TiB limit, nothing known", 5 * 1024 * GiB, undefined],
  ])("fits %s in 10,000 parts of at least 5 MiB (but the last)", (_label, total, expected) => {
    const parts = planParts(total, expected);
    expect(parts.reduce((a, b) => a + b, 0)).toBe(total);
    expect(parts.length).toBeLessThanOrEqual(10_000);
    expect(parts.slice(0, -1).every((p) => p >= 5 * MiB && p <= 4 * GiB)).toBe(true);
  });

  it("holds parts of about a thousandth of the upload: bounded memory per target", () => {
    const parts = planParts(100 * GiB);
    expect(Math.max(...parts)).toBeLessThanOrEqual(104 * MiB);
    expect(planParts(6 * GiB).every((p) => p <= 8 * MiB)).toBe(true);
  });
});

describe("toStorageError", () => {
  const fake = (name: string, status?: number, extra: object = {}) =>
    Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } }, extra);

  it.each([
    [fake("NoSuchKey", 404), "NOT_FOUND", false],
    [fake("NotFound", 404), "NOT_FOUND", false],
    [fake("NoSuchBucket", 404), "FAILED", false],
    [fake("AccessDenied", 403), "ACCESS_DENIED", false],
    [fake("InvalidAccessKeyId", 403), "ACCESS_DENIED", false],
    [fake("SignatureDoesNotMatch", 403), "ACCESS_DENIED", false],
    [fake("SlowDown", 503), "UNAVAILABLE", true],
    [fake("InternalError", 500), "UNAVAILABLE", true],
    [fake("Unknown", 502), "UNAVAILABLE", true],
    [fake("RequestTimeout", 400), "UNAVAILABLE", true],
    [fake("TimeoutError"), "UNAVAILABLE", true],
    [fake("Error", undefined, { code: "ECONNREFUSED" }), "UNAVAILABLE", true],
    [fake("Error", undefined, { code: "EPIPE" }), "UNAVAILABLE", true],
    [fake("AbortError"), "ABORTED", false],
    [fake("CredentialsProviderError"), "ACCESS_DENIED", false],
    [fake("NotImplemented", 501), "FAILED", false],
    [fake("EntityTooLarge", 400), "FAILED", false],
  ])("%s -> %s (transient %s)", (error, code, transient) => {
    const mapped = toStorageError(error, "upload", "s3://b/k");
    expect(mapped).toMatchObject({ code, transient });
    expect(mapped.message).toMatch(/^cannot upload s3:\/\/b\/k: /);
  });
});

describe("S3Store against s3rver", () => {
  let server: S3rverHandle;

  beforeAll(async () => {
    server = await startS3rver({ bucket: "sqlguard-extra" });
  });
  afterAll(async () => {
    await server.stop();
  });

  it("round-trips a multipart upload of more than two parts", async () => {
    const store = storeFor(server);
    const data = crypto.randomBytes(20 * MiB + 5);
    await expect(store.put("multi/big.sql.zst", Readable.from([data]), { expectedBytes: 1024 })).resolves.toEqual({ bytes: data.length });
    const read = await buffer(await store.get("multi/big.sql.zst"));
    expect(read.length).toBe(data.length);
    expect(read.equals(data)).toBe(true);
  });

  it("keeps keys inside its prefix", async () => {
    const inside = storeFor(server, { prefix: "tenant-a" });
    const outside = storeFor(server, { prefix: "tenant-b" });
    await inside.put("x/1.sql", Readable.from([Buffer.from("a")]));
    expect(await outside.head("x/1.sql")).toBeNull();
    const listed = [];
    for await (const object of storeFor(server).list("tenant-a/")) listed.push(object.key);
    expect(listed).toEqual(["tenant-a/x/1.sql"]);
  });

  it("is built from a storage target by createStore and passes probeStore", async () => {
    const box = new SecretBox(crypto.randomBytes(32));
    const target = {
      id: 1,
      name: "s3rver",
      kind: "S3",
      path: null,
      bucket: server.bucket,
      region: null,
      endpoint: server.endpoint,
      prefix: "probe-prefix",
      forcePathStyle: true,
      accessKeyId: "S3RVER",
      secretAccessKeyEnc: box.seal(SECRET),
    } as StorageTarget;
    const store = createStore(target, box);
    expect(store.kind).toBe("S3");
    await expect(probeStore(store)).resolves.toMatchObject({ ok: true, latencyMs: expect.any(Number) });
    const left = [];
    for await (const object of store.list("")) left.push(object.key);
    expect(left).toEqual([]);
    expect(() => createStore({ ...target, secretAccessKeyEnc: new SecretBox(crypto.randomBytes(32)).seal("x") }, box)).toThrow(
      /cannot read its secret access key/,
    );
  });

  it("reports an unreachable endpoint as UNAVAILABLE without leaking the secret", async () => {
    const gone = await startS3rver();
    await gone.stop();
    const store = new S3Store({
      bucket: gone.bucket,
      region: "us-east-1",
      endpoint: gone.endpoint,
      forcePathStyle: true,
      accessKeyId: "S3RVER",
      secretAccessKey: SECRET,
      requestTimeoutMs: 1000,
    });
    const error = await store.head("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ code: "UNAVAILABLE", transient: true });
    expect((error as Error).message).not.toContain(SECRET);
    await expect(probeStore(store)).rejects.toMatchObject({ code: "UNAVAILABLE", message: expect.stringMatching(/^write failed: /) });
  });

  it("rejects with a transient UNAVAILABLE error when S3 dies mid-upload", async () => {
    const dying = await startS3rver();
    try {
      const store = storeFor(dying, { requestTimeoutMs: 2000 });
      // A dump that keeps producing about 50 MiB/s for 2 s.
      const chunk = crypto.randomBytes(512 * 1024);
      let sent = 0;
      const body = new Readable({
        read() {
          setTimeout(() => this.push(sent++ < 200 ? chunk : null), 10);
        },
      });
      const started = Date.now();
      const put = store.put("dying/backup.sql.zst", body, { expectedBytes: 1024 });
      while (sent < 24) await new Promise((resolve) => setTimeout(resolve, 20));
      dying.kill();
      const error = await put.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageError);
      expect(error).toMatchObject({ code: "UNAVAILABLE", transient: true });
      expect((error as Error).message).toContain("s3://sqlguard-test/dying/backup.sql.zst");
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(body.destroyed).toBe(true);
    } finally {
      await dying.stop();
    }
  });
});

/** A client for `server` as S3Store builds one, to wrap in faults. */
function clientFor(server: S3rverHandle): S3Client {
  return new S3Client({
    region: "us-east-1",
    endpoint: server.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: SECRET },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

describe("S3Store against s3rver: edges", () => {
  let server: S3rverHandle;

  beforeAll(async () => {
    server = await startS3rver({ bucket: "sqlguard-edges" });
  });
  afterAll(async () => {
    await server.stop();
  });

  // Before: the upload's result was trusted; an object that lost bytes on the way (a proxy, a
  // gateway, a server bug) was recorded SUCCEEDED with the stream's SHA-256.
  it("checks the stored object's size after the upload, and deletes an object that lost bytes", async () => {
    const real = clientFor(server);
    const lossy = {
      send(command: object, options?: object) {
        // The second part arrives 1000 bytes short, as through a faulty proxy: the server completes a shorter object.
        if (command instanceof UploadPartCommand && command.input.PartNumber === 2) {
          const body = command.input.Body as Buffer;
          command.input.Body = body.subarray(0, body.length - 1000);
          command.input.ContentLength = body.length - 1000;
        }
        return real.send(command as never, options as never);
      },
    };
    const store = new S3Store({ bucket: server.bucket, region: "us-east-1", forcePathStyle: true, client: lossy });
    const data = crypto.randomBytes(20 * MiB);
    const error = await store.put("lossy/backup.sql.zst", Readable.from([data])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({
      code: "FAILED",
      message: `cannot upload s3://${server.bucket}/lossy/backup.sql.zst: the stored object holds ${data.length - 1000} bytes, but the stream delivered ${data.length}`,
    });
    expect(await store.head("lossy/backup.sql.zst")).toBeNull();

    // A single PutObject is checked too.
    const small = {
      send(command: object, options?: object) {
        if (command instanceof HeadObjectCommand)
          return real.send(command, options as never).then((r) => ({ ...r, ContentLength: (r.ContentLength ?? 0) - 1 }));
        return real.send(command as never, options as never);
      },
    };
    const smallStore = new S3Store({ bucket: server.bucket, region: "us-east-1", forcePathStyle: true, client: small });
    await expect(smallStore.put("lossy/small.sql", Readable.from([Buffer.from("twelve bytes")]))).rejects.toMatchObject({
      code: "FAILED",
      message: expect.stringContaining("the stored object holds 11 bytes, but the stream delivered 12"),
    });
    expect(await store.head("lossy/small.sql")).toBeNull();
  });

  // Before: createStore refused an S3 target without keys ("has no access key id"), although the
  // validation message promised the environment's credentials.
  it("uses the environment's credential chain for a target without keys", async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    // s3rver knows only this access key id (it checks no signature).
    process.env.AWS_ACCESS_KEY_ID = "S3RVER";
    process.env.AWS_SECRET_ACCESS_KEY = "environment-secret";
    try {
      const box = new SecretBox(crypto.randomBytes(32));
      const target = {
        id: 3,
        name: "irsa",
        kind: "S3",
        path: null,
        bucket: server.bucket,
        region: null,
        endpoint: server.endpoint,
        prefix: "chain",
        forcePathStyle: true,
        accessKeyId: null,
        secretAccessKeyEnc: null,
      } as StorageTarget;
      const store = createStore(target, box);
      await expect(probeStore(store)).resolves.toMatchObject({ ok: true });
      expect(() => createStore({ ...target, accessKeyId: "AKIA-ONLY" }, box)).toThrow('storage target "irsa" has no secret access key');
    } finally {
      for (const [name, value] of [
        ["AWS_ACCESS_KEY_ID", saved.id],
        ["AWS_SECRET_ACCESS_KEY", saved.secret],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it("records a multipart upload with its id while it runs, and drops the record once completed", async () => {
    const journals = new MemoryUploadJournals("instance-a");
    const store = new S3Store({ ...storeOptions(server), journal: journals.forTarget(5) });
    const body = sourceStream(crypto.randomBytes(12 * MiB), { pauseAt: 10 * MiB });
    const put = store.put("journal/x.sql.zst", body);
    await body.paused;
    while (!journals.records[0]?.uploadId) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(journals.records).toMatchObject([{ storageTargetId: 5, key: "journal/x.sql.zst", instanceId: "instance-a", uploadId: expect.any(String) }]);
    body.push(null);
    await expect(put).resolves.toEqual({ bytes: 10 * MiB });
    expect(journals.records).toEqual([]);
  });
});

function storeOptions(server: S3rverHandle) {
  return { bucket: server.bucket, region: "us-east-1", endpoint: server.endpoint, forcePathStyle: true, accessKeyId: "S3RVER", secretAccessKey: SECRET };
}

describe("S3Store with a fake S3 (what s3rver cannot do)", () => {
  const hourAgo = new Date(Date.now() - 3600_000);

  // Before: every start aborted all multipart uploads under the prefix begun more than 20 minutes
  // ago, so a rolling restart killed a peer's long upload, and another program's too.
  it("aborts only the recorded uploads whose writer is dead", async () => {
    const s3 = new FakeS3();
    const journals = new MemoryUploadJournals("instance-a");
    const store = new S3Store({ bucket: "b", region: "us-east-1", forcePathStyle: true, prefix: "prod", client: s3, journal: journals.forTarget(1) });
    const record = (key: string, r: { instanceId: string; heartbeatAt: Date; startedAt?: Date; uploadId?: string | null }) =>
      journals.add({ storageTargetId: 1, key, startedAt: r.startedAt ?? hourAgo, ...r });

    const dead = s3.addUpload("prod/a/dead.sql.zst", hourAgo);
    record("a/dead.sql.zst", { instanceId: "instance-b", heartbeatAt: hourAgo, uploadId: dead.uploadId });
    const peer = s3.addUpload("prod/a/peer.sql.zst", hourAgo);
    record("a/peer.sql.zst", { instanceId: "instance-b", heartbeatAt: new Date(), uploadId: peer.uploadId });
    const mine = s3.addUpload("prod/a/mine.sql.zst", hourAgo);
    record("a/mine.sql.zst", { instanceId: "instance-a", heartbeatAt: new Date(), uploadId: mine.uploadId });
    // The writer died after recording its upload, before it learned the id: only uploads of that
    // key begun since the record are its own.
    const orphan = s3.addUpload("prod/a/orphan.sql.zst", hourAgo);
    const older = s3.addUpload("prod/a/orphan.sql.zst", new Date(Date.now() - 86_400_000));
    record("a/orphan.sql.zst", { instanceId: "instance-b", heartbeatAt: hourAgo, startedAt: new Date(hourAgo.getTime() - 60_000) });
    const foreign = s3.addUpload("prod/a/not-ours.bin", hourAgo);
    // Gone already: the record is dropped without an error.
    record("a/finished.sql.zst", { instanceId: "instance-b", heartbeatAt: hourAgo, uploadId: "long-gone" });
    // S3 unavailable for this one: its record stays for the next start.
    const flaky = s3.addUpload("prod/a/flaky.sql.zst", hourAgo);
    record("a/flaky.sql.zst", { instanceId: "instance-b", heartbeatAt: hourAgo, uploadId: flaky.uploadId });
    s3.failAbort.set(flaky.uploadId, Object.assign(new Error("slow down"), { name: "SlowDown", $metadata: { httpStatusCode: 503 } }));

    expect(await store.removePartials(new Date(Date.now() - 20 * 60_000 + 30_000))).toBe(3);
    expect(s3.aborted.sort()).toEqual([dead.uploadId, mine.uploadId, orphan.uploadId].sort());
    expect(s3.uploads.map((u) => u.uploadId).sort()).toEqual([peer.uploadId, older.uploadId, foreign.uploadId, flaky.uploadId].sort());
    expect(journals.records.map((r) => r.key).sort()).toEqual(["a/flaky.sql.zst", "a/peer.sql.zst"]);

    // discard(key): its backup was failed, so its recorded upload goes, and only that.
    await store.discard("a/peer.sql.zst");
    expect(s3.aborted).toContain(peer.uploadId);
    expect(s3.uploads.map((u) => u.uploadId)).toContain(foreign.uploadId);
  });

  it("keeps at most two parts in flight, aborts on a failing source and keeps the record of an abort S3 refused for now", async () => {
    const s3 = new FakeS3();
    const journals = new MemoryUploadJournals("instance-a");
    const store = new S3Store({ bucket: "b", region: "us-east-1", forcePathStyle: true, client: s3, journal: journals.forTarget(1) });
    s3.holdParts = true;
    const body = sourceStream(crypto.randomBytes(60 * MiB), { failAt: 50 * MiB });
    const put = store.put("x/big.sql.zst", body);
    while (s3.inFlightParts < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    const uploadId = journals.records[0]!.uploadId!;
    s3.failAbort.set(uploadId, Object.assign(new Error("unavailable"), { name: "ServiceUnavailable", $metadata: { httpStatusCode: 503 } }));
    s3.release();
    await expect(put).rejects.toMatchObject({ code: "FAILED", message: expect.stringContaining("the source stream failed: dump process exited with code 2") });
    expect(s3.maxInFlightParts).toBe(2);
    expect(s3.partSizes.every((size) => size === 8 * MiB)).toBe(true);
    expect(s3.objects.size).toBe(0);
    // The abort failed transiently: the record stays, no longer in flight, for the next cleanup.
    expect(journals.records).toMatchObject([{ key: "x/big.sql.zst", uploadId }]);
    s3.failAbort.clear();
    expect(await store.removePartials(new Date(Date.now() + 1000))).toBe(1);
    expect(s3.aborted).toEqual([uploadId]);
    expect(journals.records).toEqual([]);
  });

  it("sends a stream that fits in the first part as one PutObject, else parts of the first size", async () => {
    const s3 = new FakeS3();
    const parts: number[] = [];
    const store = new S3Store({ bucket: "b", region: "us-east-1", forcePathStyle: true, client: s3, onPart: (p) => parts.push(p.bytes) });
    const data = crypto.randomBytes(40 * MiB + 3);
    await expect(store.put("x/grow.sql", Readable.from([data]), { expectedBytes: 16 * 1024 * GiB })).resolves.toEqual({ bytes: data.length });
    // 16 TiB expected: parts of 3.7 GiB are planned, so the 40 MiB stream fits in the first (only the bytes used become resident).
    expect(s3.objects.get("x/grow.sql")).toBe(data.length);
    expect(parts).toEqual([]);
    const unknown = new S3Store({ bucket: "b", region: "us-east-1", forcePathStyle: true, client: s3, onPart: (p) => parts.push(p.bytes) });
    await unknown.put("x/parts.sql", Readable.from([data]));
    expect(parts).toEqual([8 * MiB, 8 * MiB, 8 * MiB, 8 * MiB, 8 * MiB, 3]);
  });
});
