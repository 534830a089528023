import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StorageTarget } from "../db/generated/client.ts";
import { SecretBox } from "../secrets/secret-box.ts";
import { StorageError } from "./artifact-store.ts";
import { createStore, probeStore } from "./create-store.ts";
import { LocalStore } from "./local-store.ts";
import { describeArtifactStoreContract, sourceStream } from "./storage.contract.ts";

const tempDir = (): Promise<string> => fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-local-store-"));

describeArtifactStoreContract("LocalStore", async () => {
  const dir = await tempDir();
  return { store: new LocalStore({ basePath: dir }), cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
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

  it("never lists partial files, and removePartials removes only old ones", async () => {
    const base = path.join(dir, "sweep");
    await fs.mkdir(path.join(base, "deep"), { recursive: true });
    await store.put("sweep/done.sql", Readable.from([Buffer.from("ok")]));
    await fs.writeFile(path.join(base, "old.sql.partial"), "x");
    await fs.writeFile(path.join(base, "deep", "old2.sql.partial"), "x");
    await fs.writeFile(path.join(base, "fresh.sql.partial"), "x");
    const hourAgo = new Date(Date.now() - 3600_000);
    await fs.utimes(path.join(base, "old.sql.partial"), hourAgo, hourAgo);
    await fs.utimes(path.join(base, "deep", "old2.sql.partial"), hourAgo, hourAgo);

    const listed = [];
    for await (const object of store.list("sweep/")) listed.push(object.key);
    expect(listed).toEqual(["sweep/done.sql"]);

    expect(await store.removePartials(new Date(Date.now() - 60_000))).toBe(2);
    expect((await fs.readdir(base)).sort()).toEqual(["deep", "done.sql", "fresh.sql.partial"]);
    await store.discard("sweep/fresh.sql");
    expect((await fs.readdir(base)).sort()).toEqual(["deep", "done.sql"]);
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
