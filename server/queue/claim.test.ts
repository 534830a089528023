import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../testing/test-db.ts";
import { claimBackups } from "./claim.ts";

let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

async function server(name: string, maxConcurrent: number): Promise<number> {
  const row = await db!.prisma.server.create({
    data: { name, engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", labels: {}, includeDatabases: [], excludeDatabases: [], maxConcurrent },
  });
  return row.id;
}

async function queue(serverId: number, database: string, trigger: "MANUAL" | "SCHEDULED" = "SCHEDULED"): Promise<number> {
  const row = await db!.prisma.backup.create({ data: { serverId, serverName: `s${serverId}`, engine: "MARIADB", database, trigger, compression: "ZSTD" } });
  return row.id;
}

describe("claiming from the work queue", () => {
  it("keeps each server's limit over every claimer, takes manual runs first and serves servers in turn", { timeout: 60_000 }, async () => {
    db = await createTestDatabase();
    const busy = await server("busy", 2);
    const quiet = await server("quiet", 1);
    const scheduled = [];
    for (let i = 0; i < 6; i++) scheduled.push(await queue(busy, `b${i}`));
    const manual = await queue(busy, "b-manual", "MANUAL");
    const other = await queue(quiet, "q0");
    await queue(quiet, "q1");

    // Two instances claim at once with room for 10 each: 2 of busy and 1 of quiet run, whoever took them.
    const [x, y] = await Promise.all([claimBackups(db.prisma, { instanceId: "x", slots: 10 }), claimBackups(db.prisma, { instanceId: "y", slots: 10 })]);
    const claimed = [...x, ...y].map((c) => c.id).sort((a, b) => a - b);
    expect(claimed).toEqual([scheduled[0]!, manual, other].sort((a, b) => a - b));
    const running = await db.prisma.backup.findMany({ where: { status: "RUNNING" }, select: { id: true, instanceId: true, serverId: true } });
    expect(running.filter((r) => r.serverId === busy)).toHaveLength(2);
    expect(running.filter((r) => r.serverId === quiet)).toHaveLength(1);
    expect(new Set(running.map((r) => r.instanceId)).size).toBeGreaterThanOrEqual(1);
    expect([...x, ...y].every((c) => c.waitSeconds >= 0)).toBe(true);

    // Full everywhere: nothing more until a backup ends.
    expect(await claimBackups(db.prisma, { instanceId: "x", slots: 10 })).toEqual([]);
    await db.prisma.backup.updateMany({ where: { status: "RUNNING" }, data: { status: "SUCCEEDED" } });
    // One slot at a time: the server whose last claim is oldest goes first. busy (manual first) and quiet
    // were served in the first round, busy again in the second: quiet's turn, then busy's.
    const [next] = await claimBackups(db.prisma, { instanceId: "x", slots: 1 });
    expect(next!.serverId).toBe(quiet);
    const [then] = await claimBackups(db.prisma, { instanceId: "x", slots: 1 });
    expect(then!.serverId).toBe(busy);

    // A cluster-wide cap counts every instance's RUNNING backups.
    expect(await claimBackups(db.prisma, { instanceId: "y", slots: 10, clusterMax: 2 })).toEqual([]);
    expect(await claimBackups(db.prisma, { instanceId: "y", slots: 10, clusterMax: 3 })).toHaveLength(1);
  });
});
