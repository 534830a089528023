import crypto from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StorageTarget } from "../db/generated/client.ts";
import { SecretBox } from "../secrets/secret-box.ts";
import { startS3rver, type S3rverHandle } from "../testing/s3rver.ts";
import { StorageError } from "./artifact-store.ts";
import { createStore, probeStore } from "./create-store.ts";
import { choosePartSize, S3Store, toStorageError } from "./s3-store.ts";
import { describeArtifactStoreContract } from "./storage.contract.ts";

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

describeArtifactStoreContract("S3Store", async () => {
  const server = await startS3rver();
  return { store: storeFor(server, { prefix: "/backups/prod/" }), cleanup: () => server.stop() };
});

describe("choosePartSize", () => {
  it.each([
    [undefined, 8 * MiB],
    [0, 8 * MiB],
    [1024, 8 * MiB],
    [36_000 * MiB, 8 * MiB],
    [36_000 * MiB + 1, 9 * MiB],
  ])("expected %s bytes -> %s", (expected, partSize) => {
    expect(choosePartSize(expected)).toBe(partSize);
  });

  it.each([100 * GiB, 1024 * GiB, 7 * 1024 * GiB])("fits twice %s bytes in 9000 whole-MiB parts", (expected) => {
    const size = choosePartSize(expected);
    expect(size * 9000).toBeGreaterThanOrEqual(2 * expected);
    expect(size % MiB).toBe(0);
  });

  it("is capped at 5 GiB", () => {
    expect(choosePartSize(100 * 1024 * GiB)).toBe(5 * GiB);
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
