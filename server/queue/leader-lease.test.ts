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
    const takeOvers: Date[] = [];
    const lease = (holder: string) =>
      new LeaderLease({
        prisma: db!.prisma,
        logger: memoryLogger().logger,
        name: "scheduler",
        holder,
        leaseMs: 1_500,
        onChange: (held, takeOver) => (
          takeOver && takeOvers.push(takeOver.renewedAt), changes.push(`${holder} ${held ? "took" : "lost"}${takeOver ? ` from ${takeOver.from}` : ""}`)
        ),
      });
    const a = lease("a");
    const b = lease("b");
    expect(await a.renew()).toBe(true);
    expect(await b.renew()).toBe(false);
    expect(await a.renew()).toBe(true);
    const aRenewed = Date.now();
    // a stops renewing (without handing back, as after SIGKILL): b gets it only once the lease expired.
    await new Promise((r) => setTimeout(r, 700));
    expect(await b.renew()).toBe(false);
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await b.renew()).toBe(true);
    // b knows since when nobody did the duty: a's last renewal (the metadata database's clock, same machine here).
    expect(Math.abs(takeOvers[0]!.getTime() - aRenewed)).toBeLessThan(500);
    expect(await a.renew()).toBe(false);
    expect(a.held).toBe(false);
    // A shutdown hands the lease back: the next instance takes it at once.
    await b.stop();
    expect(await a.renew()).toBe(true);
    // A lease found expired for more than a lease length (every instance was down): no take-over.
    await a.stop();
    await new Promise((r) => setTimeout(r, 3_200));
    expect(await b.renew()).toBe(true);
    expect(changes).toEqual(["a took", "b took from a", "a lost", "b lost", "a took from b", "a lost", "b took"]);
    const rows = await db.prisma.lease.findMany();
    expect(rows.map((r) => [r.name, r.holder])).toEqual([["scheduler", "b"]]);
  });
});
