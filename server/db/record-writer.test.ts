import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrisma } from "./client.ts";
import { isTransientDbError, MetadataUnavailableError, RecordWriter } from "./record-writer.ts";
import { freePort } from "../testing/server-process.ts";
import { createTestDatabase, memoryLogger, type TestDatabase } from "../testing/test-db.ts";

/** The error a dropped connection gives through Prisma (shape seen with the MariaDB adapter). */
function dropped(): Error {
  return Object.assign(new Error("Invalid `prisma.backup.update()` invocation: read ECONNRESET"), {
    code: "ECONNRESET",
    name: "PrismaClientKnownRequestError",
  });
}

let db: TestDatabase;
beforeAll(async () => void (db = await createTestDatabase()));
afterAll(async () => db?.drop());

describe("isTransientDbError", () => {
  it("recognises a metadata database that cannot be reached, through Prisma's wrapping", async () => {
    const nobody = createPrisma(`mysql://root@127.0.0.1:${await freePort()}/nothing?connectTimeout=500&acquireTimeout=1500`);
    const error = await nobody.backup.count().catch((e: unknown) => e);
    await nobody.$disconnect().catch(() => {});
    expect(error).toBeInstanceOf(Error);
    expect(isTransientDbError(error)).toBe(true);
  });

  it("does not retry a statement that is wrong", async () => {
    await db.prisma.user.create({ data: { username: "twice", role: "ADMIN", passwordHash: "x" } });
    const duplicate = await db.prisma.user.create({ data: { username: "twice", role: "ADMIN", passwordHash: "x" } }).catch((e: unknown) => e);
    expect(isTransientDbError(duplicate)).toBe(false);
    expect(isTransientDbError(new Error("boom"))).toBe(false);
    expect(isTransientDbError(null)).toBe(false);
  });

  it("looks through causes and the driver adapter's error", () => {
    const pool = { meta: { driverAdapterError: { cause: { originalCode: "45028", message: "pool timeout" } } } };
    expect(isTransientDbError(Object.assign(new Error("Database error"), pool))).toBe(true);
    expect(isTransientDbError(new Error("wrapped", { cause: { code: "ECONNREFUSED" } }))).toBe(true);
    expect(isTransientDbError(Object.assign(new Error("gone"), { sqlState: "08S01" }))).toBe(true);
  });
});

describe("RecordWriter", () => {
  const options = () => ({ logger: memoryLogger().logger, firstDelayMs: 1, maxDelayMs: 4 });

  it("retries a write until the database answers, and returns its result", async () => {
    const { logger, lines } = memoryLogger();
    const writer = new RecordWriter({ logger, firstDelayMs: 1, maxDelayMs: 4 });
    let calls = 0;
    const result = await writer.write("record the test", async () => {
      if (++calls < 5) throw dropped();
      return "written";
    });
    expect({ result, calls }).toEqual({ result: "written", calls: 5 });
    expect(lines.join("")).toMatch(/metadata database unreachable, retrying: record the test/);
    expect(lines.join("")).toMatch(/reachable again: record the test/);
  });

  it("throws any other error at once", async () => {
    const writer = new RecordWriter(options());
    let calls = 0;
    const wrong = new Error("Unique constraint failed");
    await expect(writer.write("x", async () => (calls++, Promise.reject(wrong)))).rejects.toBe(wrong);
    expect(calls).toBe(1);
  });

  it("gives up when stopped (shutdown) or when the caller's signal aborts", async () => {
    const writer = new RecordWriter({ ...options(), firstDelayMs: 60_000, maxDelayMs: 60_000 });
    let calls = 0;
    const pending = writer.write("record at shutdown", async () => (calls++, Promise.reject(dropped())));
    await new Promise((r) => setImmediate(r));
    writer.stop();
    await expect(pending).rejects.toBeInstanceOf(MetadataUnavailableError);
    expect(calls).toBe(2);
    // A stopped writer still tries once: a database that is up gets the write.
    expect(await writer.write("after stop", async () => "ok")).toBe("ok");

    const other = new RecordWriter({ ...options(), firstDelayMs: 60_000, maxDelayMs: 60_000 });
    const controller = new AbortController();
    const aborted = other.write("record the cancel", async () => Promise.reject(dropped()), { signal: controller.signal });
    await new Promise((r) => setImmediate(r));
    controller.abort();
    await expect(aborted).rejects.toThrow(/the metadata database is unreachable: could not record the cancel/);
  });
});
