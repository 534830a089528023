import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MemoryStore } from "../testing/memory-store.ts";
import { descendants, fakeProgram, isRunning, withPathFirst } from "../testing/processes.ts";
import { runPipeline, type PipelineOptions } from "./backup-pipeline.ts";
import type { DumpCommand } from "./dumpers/types.ts";
import { BackupError, DumpFailedError } from "./errors.ts";

/** A stand-in dump: a shell snippet (test-only; real dumps never use a shell). */
function fakeDump(script: string): DumpCommand {
  return { command: "sh", args: ["-c", script], env: {}, description: "sh", format: "sql", cleanup: async () => {} };
}

function options(dump: DumpCommand, stores: MemoryStore[], extra: Partial<PipelineOptions> = {}): PipelineOptions {
  return {
    dump,
    compression: "ZSTD",
    level: 3,
    targets: stores.map((store, i) => ({ id: i + 1, store, key: `k${i}.sql.zst`, contentType: "application/zstd" })),
    signal: new AbortController().signal,
    ...extra,
  };
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-pipeline-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe("runPipeline", () => {
  it("stores the same compressed bytes on every target, with the SHA-256 of what was stored", async () => {
    const a = new MemoryStore();
    const b = new MemoryStore();
    const result = await runPipeline(options(fakeDump("seq 1 200000"), [a, b]));
    const stored = await a.read("k0.sql.zst");
    expect((await b.read("k1.sql.zst")).equals(stored)).toBe(true);
    expect(result.sha256).toBe(crypto.createHash("sha256").update(stored).digest("hex"));
    expect(result.storedBytes).toBe(stored.length);
    const original = execFileSync("sh", ["-c", "seq 1 200000"], { maxBuffer: 1 << 26 });
    expect(result.rawBytes).toBe(original.length);
    expect(execFileSync("zstd", ["-d", "-c"], { input: stored, maxBuffer: 1 << 26 }).equals(original)).toBe(true);
    expect(result.targets).toEqual([
      { id: 1, ok: true, bytes: stored.length },
      { id: 2, ok: true, bytes: stored.length },
    ]);
  });

  it("a spooled dump's closed *.partial file is not stored: it is stored under the name it is renamed to (mydumper's metadata)", async () => {
    const out = fs.mkdtempSync(path.join(work, "spool-"));
    // Closed at once, renamed a second later: the tar polls the directory meanwhile.
    const script = `echo started > "$1/metadata.partial"; printf 'data\\n' > "$1/db.t.sql"; sleep 1; echo finished >> "$1/metadata.partial"; mv "$1/metadata.partial" "$1/metadata"`;
    const dump: DumpCommand = {
      command: "sh",
      args: ["-c", script, "sh", out],
      env: {},
      description: "sh",
      format: "tar",
      outputDir: out,
      cleanup: async () => {},
    };
    const store = new MemoryStore();
    const result = await runPipeline({ ...options(dump, [store]), targets: [{ id: 1, store, key: "k.tar.zst", contentType: "application/zstd" }] });
    expect(result.members?.map((m) => m.name).sort()).toEqual(["db.t.sql", "metadata"]);
    const listed = execFileSync("sh", ["-c", "zstd -dc | tar -xOf - metadata"], { input: await store.read("k.tar.zst") }).toString();
    expect(listed).toBe("started\nfinished\n");
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it.each(["GZIP", "NONE"] as const)("compresses with %s", async (compression) => {
    const store = new MemoryStore();
    const result = await runPipeline(options(fakeDump("seq 1 1000"), [store], { compression, level: 6 }));
    const stored = await store.read("k0.sql.zst");
    const plain = compression === "GZIP" ? execFileSync("gzip", ["-d", "-c"], { input: stored }) : stored;
    expect(plain.toString()).toBe(execFileSync("seq", ["1", "1000"]).toString());
    expect(result.rawBytes).toBe(plain.length);
  });

  it("fails a dump that exits non-zero even though the compressor succeeded, and commits nothing", async () => {
    const store = new MemoryStore();
    const error = await runPipeline(options(fakeDump("seq 1 100000; echo 'mysqldump: Got error: 1044: Access denied' >&2; exit 2"), [store])).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DumpFailedError);
    expect((error as DumpFailedError).exitCode).toBe(2);
    expect((error as DumpFailedError).message).toContain("Access denied");
    expect((error as DumpFailedError).transient).toBe(false);
    expect(store.committed).toEqual([]);
  });

  it("marks a lost connection during the dump as transient", async () => {
    const error = await runPipeline(options(fakeDump("echo 'Lost connection to server during query (2013)' >&2; exit 2"), [new MemoryStore()])).catch(
      (e: unknown) => e,
    );
    expect((error as BackupError).transient).toBe(true);
  });

  it("keeps going when one target fails mid-stream, and reports it", async () => {
    const good = new MemoryStore();
    const bad = new MemoryStore({ failAfterBytes: 10_000 });
    const result = await runPipeline(options(fakeDump("head -c 3000000 /dev/urandom"), [good, bad], { compression: "NONE" }));
    expect(result.targets[0]).toMatchObject({ ok: true, bytes: 3_000_000 });
    expect(result.targets[1]).toMatchObject({ ok: false });
    expect(bad.committed).toEqual([]);
    expect((await good.read("k0.sql.zst")).length).toBe(3_000_000);
  });

  it("fails when every target fails, transient if every failure is", async () => {
    const error = await runPipeline(
      options(fakeDump("head -c 3000000 /dev/urandom"), [new MemoryStore({ failAfterBytes: 1000 })], { compression: "NONE" }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackupError);
    expect((error as BackupError).reason).toBe("STORAGE_FAILED");
    expect((error as BackupError).transient).toBe(true);
  });

  it("stops everything on abort, kills the dump, and commits nothing", async () => {
    const store = new MemoryStore();
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new BackupError("STALLED", "no progress")), 300);
    const error = await runPipeline(options(fakeDump("while true; do echo data; sleep 0.01; done"), [store], { signal: controller.signal })).catch(
      (e: unknown) => e,
    );
    expect((error as BackupError).reason).toBe("STALLED");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(store.committed).toEqual([]);
  });

  it.each([
    ["ZSTD", 0],
    ["ZSTD", 20],
    ["GZIP", 10],
    ["GZIP", 19],
  ] as const)("refuses %s level %i before starting anything", async (compression, level) => {
    const pidFile = path.join(work, `refused-${compression}-${level}`);
    const error = await runPipeline(options(fakeDump(`echo $$ > ${pidFile}; exec sleep 600`), [new MemoryStore()], { compression, level })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BackupError);
    expect(error).toMatchObject({ reason: "CONFIGURATION", message: expect.stringMatching(new RegExp(`^compression level ${level} must be between 1 and`)) });
    expect(fs.existsSync(pidFile)).toBe(false); // no dump was started, so none is left behind
  });

  it("fails with the compressor's reason when zstd fails on start, stops the dump, and commits nothing", async () => {
    const store = new MemoryStore();
    const pidFile = path.join(work, "blocked-dump");
    // It fails once the dump runs (and has told its pid).
    const bin = fakeProgram("zstd", `while [ ! -s ${pidFile} ]; do sleep 0.01; done; echo 'zstd: cannot start here' >&2; exit 1`);
    // A dump that writes nothing yet (a mysqldump waiting for a lock) would never see a broken pipe.
    const error = await withPathFirst(bin, () => runPipeline(options(fakeDump(`echo $$ > ${pidFile}; exec sleep 600`), [store]))).catch((e: unknown) => e);
    fs.rmSync(bin, { recursive: true, force: true });
    expect(error).toBeInstanceOf(BackupError);
    expect(error).toMatchObject({ reason: "COMPRESSOR_FAILED", message: "the compressor (zstd) exited with code 1: zstd: cannot start here" });
    expect(isRunning(Number(fs.readFileSync(pidFile, "utf8")))).toBe(false);
    expect(store.committed).toEqual([]);
  });

  it("names zstd, not the dump's broken pipe, when zstd is killed mid-stream", async () => {
    const store = new MemoryStore();
    let killed = false;
    const error = await runPipeline(
      options(fakeDump("exec cat /dev/urandom"), [store], {
        onProgress: ({ storedBytes }) => {
          if (killed || storedBytes < 1_000_000) return;
          killed = true;
          for (const p of descendants(process.pid, "zstd")) process.kill(p.pid, "SIGKILL");
        },
      }),
    ).catch((e: unknown) => e);
    expect(killed).toBe(true);
    expect(error).toMatchObject({ reason: "COMPRESSOR_FAILED", message: "the compressor (zstd) was killed by SIGKILL" });
    expect(descendants(process.pid)).toEqual([]);
    expect(store.committed).toEqual([]);
  });

  it("names the dump when the dump is killed, and leaves no zstd behind", async () => {
    let killed = false;
    const error = await runPipeline(
      options(fakeDump("exec cat /dev/urandom"), [new MemoryStore()], {
        onProgress: ({ storedBytes }) => {
          if (killed || storedBytes < 1_000_000) return;
          killed = true;
          for (const p of descendants(process.pid, "cat")) process.kill(p.pid, "SIGKILL");
        },
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DumpFailedError);
    expect((error as Error).message).toBe("the dump was killed by SIGKILL");
    expect(descendants(process.pid)).toEqual([]);
  });

  it.each(["ZSTD", "GZIP", "NONE"] as const)("blames a failing store, not the producers it stopped (%s)", async (compression) => {
    const error = await runPipeline(
      options(fakeDump("exec cat /dev/urandom"), [new MemoryStore({ failAfterBytes: 100_000, transient: false })], { compression, level: 3 }),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: "STORAGE_FAILED", message: "no storage target stored the backup: memory store: simulated outage" });
    expect(descendants(process.pid)).toEqual([]);
  });

  it("reports the exact raw size of a small zstd dump (zstd pads the sizes in its report)", async () => {
    const store = new MemoryStore();
    const result = await runPipeline(options(fakeDump("seq 1 1000"), [store]));
    expect(result.rawBytes).toBe(execFileSync("seq", ["1", "1000"]).length);
    expect(execFileSync("zstd", ["-d", "-c"], { input: await store.read("k0.sql.zst") }).length).toBe(result.rawBytes);
  });

  it("reports raw progress while a slow dump runs, and the exact raw size at the end", async () => {
    const seen: number[] = [];
    const result = await runPipeline(
      options(fakeDump("seq 1 20000; sleep 0.7; seq 1 20000"), [new MemoryStore()], { onProgress: ({ rawBytes }) => seen.push(rawBytes) }),
    );
    const half = execFileSync("sh", ["-c", "seq 1 20000"]).length;
    expect(result.rawBytes).toBe(2 * half);
    // Progress was reported during the pause, before the second half was written.
    expect(seen.some((bytes) => bytes >= half && bytes < 2 * half)).toBe(true);
  });

  it("reports a missing dump program clearly", async () => {
    const dump: DumpCommand = { command: "/nonexistent/mysqldump", args: [], env: {}, description: "x", format: "sql", cleanup: async () => {} };
    const error = await runPipeline(options(dump, [new MemoryStore()])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DumpFailedError);
    expect((error as Error).message).toMatch(/ENOENT/);
  });
});
