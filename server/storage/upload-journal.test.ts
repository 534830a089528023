import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../testing/test-db.ts";
import { LocalStore } from "./local-store.ts";
import { sourceStream } from "./storage.contract.ts";
import { PrismaUploadJournals, recordWrite, selectLeftovers, type UploadJournal, type UploadRecord } from "./upload-journal.ts";

const HOUR = 3600_000;

describe("selectLeftovers", () => {
  const now = Date.now();
  const since = new Date(now - 10_000);
  const at = (msAgo: number) => new Date(now - msAgo);
  const rec = (id: number, key: string, instanceId: string, startedAgo: number, beatAgo: number): UploadRecord => ({
    id,
    key,
    uploadId: null,
    instanceId,
    startedAt: at(startedAgo),
    heartbeatAt: at(beatAgo),
  });
  const records = [
    rec(1, "a", "peer", HOUR, HOUR), // dead: not renewed for an hour
    rec(2, "b", "peer", HOUR, 1000), // live: renewed a second ago
    rec(3, "c", "me", HOUR, 1000), // mine, from before this process started: dead
    rec(4, "d", "me", 1000, 1000), // mine, in flight
    rec(5, "e", "peer", HOUR, HOUR), // dead, but a live write uses the same key
    rec(6, "e", "peer", 1000, 1000),
  ];
  const base = { inFlight: new Set([4]), instanceId: "me", since };

  it.each([
    ["stale or left by an earlier process", { staleBefore: at(60_000) }, [1, 3]],
    ["of one key", { staleBefore: at(60_000), key: "c" }, [3]],
    ["every record not in flight here (the caller knows the writer is dead)", {}, [1, 2, 3, 5, 6]],
    ["never one in flight here", { key: "d" }, []],
    ["of a key with a live write: none", { staleBefore: at(60_000), key: "e" }, []],
  ])("%s", (_label, options, ids) => {
    expect(selectLeftovers(records, { ...base, ...options }).map((r) => r.id)).toEqual(ids);
  });
});

describe("PrismaUploadJournals with LocalStore", () => {
  let db: TestDatabase;
  let dir: string;
  let targetId: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-journal-"));
    targetId = (await db.prisma.storageTarget.create({ data: { name: "disk", kind: "LOCAL", path: dir } })).id;
  });
  afterAll(async () => {
    await db.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const exists = (rel: string) =>
    fs.access(path.join(dir, rel)).then(
      () => true,
      () => false,
    );

  it("records a put before its first byte, renews it while it runs, and deletes it once committed", async () => {
    const journals = new PrismaUploadJournals({ prisma: db.prisma, instanceId: "instance-a", heartbeatMs: 20 });
    const store = new LocalStore({ basePath: dir, journal: journals.forTarget(targetId) });
    const body = sourceStream(Buffer.alloc(2 << 20, 3), { pauseAt: 1 << 20 });
    const put = store.put("srv/db/x.sql", body);
    await body.paused;
    const [row] = await db.prisma.storageUpload.findMany({ where: { storageTargetId: targetId } });
    expect(row).toMatchObject({ key: "srv/db/x.sql", instanceId: "instance-a", uploadId: null });
    // Renewed while it runs (a heartbeat later than its start).
    while (!(await db.prisma.storageUpload.findFirst({ where: { id: row!.id, heartbeatAt: { gt: row!.startedAt } } }))) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Another instance starting now sees a live write and leaves it alone.
    const peer = new LocalStore({
      basePath: dir,
      journal: new PrismaUploadJournals({ prisma: db.prisma, instanceId: "instance-b", heartbeatMs: 20 }).forTarget(targetId),
    });
    expect(await peer.removePartials(new Date(Date.now() - 60_000))).toBe(0);
    expect(await exists("srv/db/x.sql.partial")).toBe(true);
    body.push(null);
    await expect(put).resolves.toEqual({ bytes: 1 << 20 });
    // The journal's end is bookkeeping a put does not wait for: the row goes soon after the commit.
    await expect.poll(() => db.prisma.storageUpload.count({ where: { storageTargetId: targetId } }), { timeout: 10_000 }).toBe(0);
  });

  it("at start removes only recorded partial files of dead writers, never files it did not write", async () => {
    const old = new Date(Date.now() - HOUR);
    await fs.mkdir(path.join(dir, "left"), { recursive: true });
    for (const name of ["dead.sql", "restarted.sql", "alive.sql", "users-own-file"]) await fs.writeFile(path.join(dir, "left", `${name}.partial`), "x");
    await db.prisma.storageUpload.createMany({
      data: [
        // A peer that died an hour ago.
        { storageTargetId: targetId, key: "left/dead.sql", instanceId: "instance-b", startedAt: old, heartbeatAt: old },
        // This instance, before it restarted.
        { storageTargetId: targetId, key: "left/restarted.sql", instanceId: "instance-a", startedAt: old, heartbeatAt: new Date() },
        // A peer's write that is still renewed.
        { storageTargetId: targetId, key: "left/alive.sql", instanceId: "instance-b", startedAt: old, heartbeatAt: new Date(Date.now() + HOUR) },
      ],
    });
    const restarted = new PrismaUploadJournals({ prisma: db.prisma, instanceId: "instance-a", heartbeatMs: 1000 });
    const store = new LocalStore({ basePath: dir, journal: restarted.forTarget(targetId) });
    expect(await store.removePartials(new Date(Date.now() - 120_000))).toBe(2);
    expect((await fs.readdir(path.join(dir, "left"))).sort()).toEqual(["alive.sql.partial", "users-own-file.partial"]);
    expect((await db.prisma.storageUpload.findMany({ where: { storageTargetId: targetId } })).map((r) => r.key)).toEqual(["left/alive.sql"]);
    // The model round-trips every column.
    const row = await db.prisma.storageUpload.update({
      where: { id: (await db.prisma.storageUpload.findFirstOrThrow({ where: { key: "left/alive.sql" } })).id },
      data: { uploadId: "2~UploadIdWithSpecial/+=Chars", key: "Left/ÄLIVE.sql" },
    });
    expect(await db.prisma.storageUpload.findUniqueOrThrow({ where: { id: row.id } })).toEqual(row);
    // Keys compare byte for byte: another case is another key.
    expect(await db.prisma.storageUpload.count({ where: { key: "left/älive.sql" } })).toBe(0);
  });

  it("records are deleted with their target", async () => {
    const other = await db.prisma.storageTarget.create({ data: { name: "gone", kind: "LOCAL", path: `${dir}/gone` } });
    const journal = new PrismaUploadJournals({ prisma: db.prisma, instanceId: "i", heartbeatMs: 1000 }).forTarget(other.id);
    await new LocalStore({ basePath: `${dir}/gone`, journal }).put("a.sql", Readable.from([Buffer.from("a")]));
    await db.prisma.storageUpload.create({ data: { storageTargetId: other.id, key: "b.sql", instanceId: "i" } });
    await db.prisma.storageTarget.delete({ where: { id: other.id } });
    expect(await db.prisma.storageUpload.count({ where: { storageTargetId: other.id } })).toBe(0);
  });
});

describe("recordWrite", () => {
  it("does not hold a write up for a slow journal, and still ends a record that arrives late", async () => {
    const calls: string[] = [];
    let arrive: (id: number) => void = () => {};
    const slow: UploadJournal = {
      begin: () => new Promise<number>((resolve) => (arrive = resolve)),
      setUploadId: async (id, uploadId) => void calls.push(`setUploadId ${id} ${uploadId}`),
      end: async (id, outcome) => void calls.push(`end ${id} ${outcome}`),
      leftovers: async () => [],
      forget: async () => {},
    };
    const record = await recordWrite(slow, "a/b.sql.zst", 20);
    record.setUploadId("u-1");
    record.end("done");
    expect(calls).toEqual([]);
    arrive(7);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(calls).toEqual(["setUploadId 7 u-1", "end 7 done"]);
  });

  it("goes on unrecorded when the journal cannot be written", async () => {
    const down = (): Promise<never> => Promise.reject(new Error("connect ECONNREFUSED"));
    const record = await recordWrite({ begin: down, setUploadId: down, end: down, leftovers: down, forget: down }, "k");
    expect(() => record.end("done")).not.toThrow();
  });
});
