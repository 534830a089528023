import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase, memoryLogger, type TestDatabase } from "../testing/test-db.ts";
import { LeaderLease } from "./leader-lease.ts";

let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

describe("a leader lease in the metadata database", () => {
  it("has one holder at a time, is taken over once its holder stops renewing, and handed back on stop", { timeout: 60_000 }, async () => {
    db = await createTestDatabase();
    const changes: string[] = [];
    const lease = (holder: string) =>
      new LeaderLease({
        prisma: db!.prisma,
        logger: memoryLogger().logger,
        name: "scheduler",
        holder,
        leaseMs: 1_500,
        onChange: (held) => changes.push(`${holder} ${held ? "took" : "lost"}`),
      });
    const a = lease("a");
    const b = lease("b");
    expect(await a.renew()).toBe(true);
    expect(await b.renew()).toBe(false);
    expect(await a.renew()).toBe(true);
    // a stops renewing (without handing back, as after SIGKILL): b gets it only once the lease expired.
    await new Promise((r) => setTimeout(r, 700));
    expect(await b.renew()).toBe(false);
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await b.renew()).toBe(true);
    expect(await a.renew()).toBe(false);
    expect(a.held).toBe(false);
    // A shutdown hands the lease back: the next instance takes it at once.
    await b.stop();
    expect(await a.renew()).toBe(true);
    expect(changes).toEqual(["a took", "b took", "a lost", "b lost", "a took"]);
    const rows = await db.prisma.lease.findMany();
    expect(rows.map((r) => [r.name, r.holder])).toEqual([["scheduler", "a"]]);
  });
});
