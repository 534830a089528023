import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import crypto from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { StorageTarget } from "../db/generated/client.ts";
import { SecretBox } from "../secrets/secret-box.ts";
import { StorageError } from "./artifact-store.ts";
import { createStore, probeStore } from "./create-store.ts";
import { LocalStore } from "./local-store.ts";
import { describeArtifactStoreContract, sourceStream } from "./storage.contract.ts";
import { MemoryUploadJournals } from "./upload-journal.ts";

const tempDir = (): Promise<string> => fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-local-store-"));

describeArtifactStoreContract("LocalStore", async (journal) => {
  const dir = await tempDir();
  return { store: new LocalStore({ basePath: dir, journal }), cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
});

describe("LocalStore", () => {
  let dir: string;
  let store: LocalStore;

  beforeAll(async () => {
    dir = await tempDir();
    store = new LocalStore({ basePath: dir });
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const exists = (file: string): Promise<boolean> =>
    fs.access(file).then(
      () => true,
      () => false,
    );

  it("writes only <key>.partial while a put is in progress, with mode 0640", async () => {
    const body = sourceStream(Buffer.alloc(3 * 1024 * 1024, 7), { pauseAt: 1024 * 1024 });
    const controller = new AbortController();
    const put = store.put("srv/db/slow.sql", body, { signal: controller.signal });
    await body.paused;
    const file = path.join(dir, "srv/db/slow.sql");
    expect(await exists(file)).toBe(false);
    expect(await exists(`${file}.partial`)).toBe(true);
    expect((await fs.stat(`${file}.partial`)).mode & 0o777).toBe(0o640 & ~process.umask());
    expect(await fs.readdir(path.dirname(file))).toEqual(["slow.sql.partial"]);
    controller.abort();
    await expect(put).rejects.toMatchObject({ code: "ABORTED" });
    expect(await fs.readdir(path.dirname(file))).toEqual([]);
  });

  it("rejects with a clear error when the directory cannot be written, leaving no file", async () => {
    // Root ignores permission bits, so a parent that is a regular file is the portable failure.
    const blocker = path.join(dir, "not-a-dir");
    await fs.writeFile(blocker, "x");
    const broken = new LocalStore({ basePath: path.join(blocker, "sub") });
    const error = await broken.put("a/b.sql", Readable.from([Buffer.from("data")])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ code: "FAILED", transient: false });
    expect((error as Error).message).toContain(`cannot write ${path.join(blocker, "sub", "a", "b.sql")}: a parent path is not a directory`);
    expect(await broken.head("a/b.sql")).toBeNull();
  });

  it("maps a permission problem to ACCESS_DENIED", async () => {
    const locked = path.join(dir, "locked");
    await fs.mkdir(locked, { mode: 0o500 });
    await fs.chmod(dir, 0o755);
    // Root ignores directory modes, so as root the put runs in a child process as nobody.
    const error =
      process.getuid?.() === 0
        ? await putAsNobody(locked)
        : await new LocalStore({ basePath: locked }).put("x.sql", Readable.from([Buffer.from("d")])).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ACCESS_DENIED", transient: false });
    expect((error as Error).message).toBe(`cannot write ${path.join(locked, "x.sql")}: permission denied`);
    await fs.chmod(locked, 0o700);
  });

  it("never lists partial files", async () => {
    await store.put("listing/done.sql", Readable.from([Buffer.from("ok")]));
    await fs.writeFile(path.join(dir, "listing", "other.sql.partial"), "x");
    const listed = [];
    for await (const object of store.list("listing/")) listed.push(object.key);
    expect(listed).toEqual(["listing/done.sql"]);
  });

  // Before: every *.partial under the target older than the cut-off was deleted at start, including
  // files SQLGuard never wrote (two foreign files were lost that way).
  it("removes only the partial files of recorded puts whose writer is dead, never foreign ones", async () => {
    const base = path.join(dir, "sweep");
    await fs.mkdir(path.join(base, "deep"), { recursive: true });
    const journals = new MemoryUploadJournals("instance-a");
    const swept = new LocalStore({ basePath: dir, journal: journals.forTarget(7) });
    const hourAgo = new Date(Date.now() - 3600_000);
    const plant = async (key: string, record: { instanceId: string; heartbeatAt: Date; startedAt?: Date } | null) => {
      await fs.writeFile(path.join(dir, `${key}.partial`), "x");
      await fs.utimes(path.join(dir, `${key}.partial`), hourAgo, hourAgo);
      if (record) journals.add({ storageTargetId: 7, key, startedAt: record.startedAt ?? hourAgo, ...record });
    };
    await plant("sweep/dead.sql", { instanceId: "instance-b", heartbeatAt: hourAgo });
    await plant("sweep/deep/dead2.sql", { instanceId: "instance-b", heartbeatAt: hourAgo });
    // This instance's previous process (it restarted): dead although its heartbeat is recent.
    await plant("sweep/mine-before-restart.sql", { instanceId: "instance-a", heartbeatAt: new Date(), startedAt: hourAgo });
    // A peer's put still running: its record is renewed.
    await plant("sweep/peer-running.sql", { instanceId: "instance-b", heartbeatAt: new Date(), startedAt: new Date() });
    // Files SQLGuard never recorded, whatever their name and age.
    await plant("sweep/foreign.sql", null);
    await plant("sweep/deep/user-file", null);
    // Recorded for another target.
    journals.add({ storageTargetId: 8, key: "sweep/foreign.sql", instanceId: "instance-b", startedAt: hourAgo, heartbeatAt: hourAgo });

    expect(await swept.removePartials(new Date(Date.now() - 60_000))).toBe(3);
    expect((await fs.readdir(base)).sort()).toEqual(["deep", "foreign.sql.partial", "peer-running.sql.partial"]);
    expect(await fs.readdir(path.join(base, "deep"))).toEqual(["user-file.partial"]);
    expect(journals.records.map((r) => r.key).sort()).toEqual(["sweep/foreign.sql", "sweep/peer-running.sql"]);

    // discard: the caller knows the write is dead (its backup was failed); foreign files stay.
    await swept.discard("sweep/peer-running.sql");
    await swept.discard("sweep/foreign.sql");
    expect((await fs.readdir(base)).sort()).toEqual(["deep", "foreign.sql.partial"]);
  });

  it("records a put while it runs and drops the record once it is committed or cleaned up", async () => {
    const journals = new MemoryUploadJournals("instance-a");
    const recorded = new LocalStore({ basePath: dir, journal: journals.forTarget(1) });
    const body = sourceStream(Buffer.alloc(2 * 1024 * 1024, 1), { pauseAt: 1024 * 1024 });
    const controller = new AbortController();
    const put = recorded.put("journal/a.sql", body, { signal: controller.signal });
    await body.paused;
    expect(journals.records).toMatchObject([{ storageTargetId: 1, key: "journal/a.sql", instanceId: "instance-a" }]);
    // Running in this process: never a leftover, not even for discard.
    expect(await recorded.removePartials(new Date(Date.now() + 60_000))).toBe(0);
    await recorded.discard("journal/a.sql");
    expect(await exists(path.join(dir, "journal/a.sql.partial"))).toBe(true);
    controller.abort();
    await expect(put).rejects.toMatchObject({ code: "ABORTED" });
    expect(journals.records).toEqual([]);
    await recorded.put("journal/b.sql", Readable.from([Buffer.from("done")]));
    expect(journals.records).toEqual([]);
  });

  describe("short writes", () => {
    type Written = Promise<{ bytesWritten: number }>;
    let proto: { write: (...args: never[]) => Written; writev: (...args: never[]) => Written };
    /** The first `n` bytes of `buffers`, as buffers (what a write(2) that took only n bytes wrote). */
    const firstBytes = (buffers: Buffer[], n: number) => {
      const out: Buffer[] = [];
      for (const b of buffers) {
        if (n <= 0) break;
        out.push(b.subarray(0, n));
        n -= b.length;
      }
      return out;
    };
    const total = (buffers: Buffer[]) => buffers.reduce((sum, b) => sum + b.length, 0);
    beforeAll(async () => {
      const handle = await fs.open(path.join(dir, "probe-handle"), "w");
      proto = Object.getPrototypeOf(handle);
      await handle.close();
    });
    afterEach(() => {
      vi.restoreAllMocks();
    });
    const data = crypto.randomBytes(3 * 1024 * 1024 + 17);

    // Before: the byte count handle.write returns was ignored, so a write that took only part of
    // a chunk left a truncated file that was committed (and recorded with the stream's SHA-256).
    it("writes the rest of a chunk the file system took only part of", async () => {
      const original = proto.write;
      vi.spyOn(proto, "write").mockImplementation(function (this: unknown, buffer: Buffer, offset = 0, length = buffer.length - offset) {
        // Like write(2) interrupted by a signal: at most 100 KiB per call.
        return (original as (...a: unknown[]) => Written).call(this, buffer, offset, Math.min(length, 100 * 1024));
      } as never);
      const originalv = proto.writev;
      vi.spyOn(proto, "writev").mockImplementation(function (this: unknown, buffers: Buffer[]) {
        return (originalv as (...a: unknown[]) => Written).call(this, firstBytes(buffers, 100 * 1024));
      } as never);
      await expect(store.put("short/a.sql", sourceStream(data))).resolves.toEqual({ bytes: data.length });
      vi.restoreAllMocks();
      const read = await fs.readFile(path.join(dir, "short/a.sql"));
      expect(read.length).toBe(data.length);
      expect(read.equals(data)).toBe(true);
    });

    it("refuses to commit a file whose size differs from the bytes the stream delivered", async () => {
      const original = proto.write;
      let calls = 0;
      // A file system that claims to have written everything but dropped the tail of one chunk.
      vi.spyOn(proto, "write").mockImplementation(async function (this: unknown, buffer: Buffer, offset = 0, length = buffer.length - offset) {
        const lying = ++calls === 1;
        await (original as (...a: unknown[]) => Written).call(this, buffer, offset, lying ? length - 10 : length);
        return { bytesWritten: length, buffer };
      } as never);
      const originalv = proto.writev;
      vi.spyOn(proto, "writev").mockImplementation(async function (this: unknown, buffers: Buffer[]) {
        const lying = ++calls === 1;
        const length = total(buffers);
        await (originalv as (...a: unknown[]) => Written).call(this, lying ? firstBytes(buffers, length - 10) : buffers);
        return { bytesWritten: length, buffers };
      } as never);
      const error = await store.put("short/b.sql", sourceStream(data)).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: "FAILED",
        message: `cannot write ${path.join(dir, "short/b.sql")}: the file holds ${data.length - 10} bytes, but the stream delivered ${data.length}`,
      });
      expect(await store.head("short/b.sql")).toBeNull();
      expect(await exists(path.join(dir, "short/b.sql.partial"))).toBe(false);
    });
  });

  it.each(["", "/abs/x.sql", "a/../../etc/passwd", "..", "a//b.sql", "a/./b.sql", "a/b.sql/", "nul\0.sql", "x.sql.partial"])(
    "rejects the bad key %j",
    async (key) => {
      await expect(store.put(key, Readable.from([Buffer.from("x")]))).rejects.toMatchObject({
        code: "FAILED",
        message: expect.stringContaining("invalid storage key"),
      });
      await expect(store.get(key)).rejects.toBeInstanceOf(StorageError);
      await expect(store.delete(key)).rejects.toBeInstanceOf(StorageError);
    },
  );

  it("is built from a LOCAL target and checked by probeStore", async () => {
    const box = new SecretBox(Buffer.alloc(32, 1));
    const target = { id: 1, name: "disk", kind: "LOCAL", path: path.join(dir, "probed") } as StorageTarget;
    const probed = createStore(target, box);
    expect(probed).toBeInstanceOf(LocalStore);
    await expect(probeStore(probed)).resolves.toMatchObject({ ok: true, latencyMs: expect.any(Number) });
    expect(await fs.readdir(path.join(dir, "probed", ".sqlguard-probe"))).toEqual([]);
    expect(() => createStore({ ...target, path: null }, box)).toThrow('storage target "disk" has no path');

    const blocker = path.join(dir, "probe-blocker");
    await fs.writeFile(blocker, "x");
    await expect(probeStore(new LocalStore({ basePath: blocker }))).rejects.toMatchObject({
      code: "FAILED",
      message: expect.stringMatching(/^write failed: cannot write .*probe-blocker\/\.sqlguard-probe\/.*: a parent path is not a directory/),
    });
  });
});

/** Runs LocalStore.put under uid/gid 65534 (nobody) and returns the error it rejected with. */
async function putAsNobody(basePath: string): Promise<{ code: string; transient: boolean; message: string }> {
  const script = path.join(path.dirname(basePath), "put-as-nobody.mjs");
  await fs.writeFile(
    script,
    `const { LocalStore } = await import(process.argv[2]);
const { Readable } = await import("node:stream");
const e = await new LocalStore({ basePath: process.argv[3] }).put("x.sql", Readable.from([Buffer.from("d")])).catch((e) => e);
process.stdout.write(JSON.stringify({ code: e.code, transient: e.transient, message: e.message }));`,
    { mode: 0o644 },
  );
  const child = spawnSync(process.execPath, ["--import", "tsx", script, fileURLToPath(new URL("./local-store.ts", import.meta.url)), basePath], {
    uid: 65534,
    gid: 65534,
    cwd: process.cwd(),
    encoding: "utf8",
  });
  if (child.status !== 0) throw new Error(`the probe as nobody failed: ${child.stderr}`);
  return JSON.parse(child.stdout);
}
