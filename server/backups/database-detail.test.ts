import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf } from "../testing/backup-helpers.ts";
import { createTestApp } from "../testing/test-app.ts";

const HOUR = 3_600_000;

const DETAIL = `query($s: String!, $d: String!) { databaseDetail(serverName: $s, database: $d) {
  serverName database server { id } engine targetRpoSeconds days
  backups { totalCount nodes { id status } }
  copies { storageTargetId target stored storedBytes damaged deleted }
  drills { id status restoreMs }
  rpo { backupId gapSeconds }
  rto { drillId restoreMs status }
  recoverable { points oldest newest } } }`;

describe("databaseDetail", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;

  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it("gathers a database's backups, copies per target, drills, RPO and RTO, and keeps them findable by name once its server is deleted", async () => {
    const p = app.db.prisma;
    const now = Date.now();
    const server = await p.server.create({
      data: { name: "truthb-gone", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", labels: {}, includeDatabases: [], excludeDatabases: [] },
    });
    const local = await p.storageTarget.findFirstOrThrow({ where: { kind: "LOCAL" } });
    const second = await p.storageTarget.create({ data: { name: "truthb-second", kind: "LOCAL", path: "/tmp/truthb-second" } });
    const at = (hoursAgo: number) => new Date(now - hoursAgo * HOUR);
    const record = async (
      status: "SUCCEEDED" | "FAILED" | "DELETED",
      hoursAgo: number,
      copies: Array<[number, "STORED" | "CORRUPT" | "FAILED" | "DELETED"]>,
    ) => {
      const b = await p.backup.create({
        data: {
          serverId: server.id,
          serverName: server.name,
          engine: "MARIADB",
          database: "shop",
          trigger: "MANUAL",
          status,
          compression: "ZSTD",
          createdAt: at(hoursAgo),
          startedAt: at(hoursAgo),
          finishedAt: at(hoursAgo - 0.01),
          error: status === "FAILED" ? "boom" : null,
          storedBytes: 1000n,
        },
      });
      for (const [target, state] of copies)
        await p.backupArtifact.create({ data: { backupId: b.id, storageTargetId: target, key: `k/${b.id}`, status: state, sizeBytes: 1000n } });
      return b.id;
    };
    const old = await record("DELETED", 50, [[local.id, "DELETED"]]);
    const mid = await record("SUCCEEDED", 26, [
      [local.id, "STORED"],
      [second.id, "CORRUPT"],
    ]);
    await record("FAILED", 3, []);
    const last = await record("SUCCEEDED", 2, [
      [local.id, "STORED"],
      [second.id, "STORED"],
    ]);
    await p.backup.create({
      data: { serverId: server.id, serverName: server.name, engine: "MARIADB", database: "other", trigger: "MANUAL", status: "SUCCEEDED", compression: "ZSTD" },
    });
    const drill = await p.restoreDrill.create({
      data: {
        backupId: last,
        serverName: server.name,
        sourceServerName: server.name,
        database: "shop",
        scratchDatabase: "scratch",
        trigger: "MANUAL",
        status: "PASSED",
        requestedBy: "test",
        startedAt: at(1.9),
        finishedAt: at(1.8),
        restoreMs: 4200,
      },
    });

    const viewer = await app.as("VIEWER");
    const first = dataOf(await viewer(DETAIL, { s: "truthb-gone", d: "shop" })) as { databaseDetail: any };
    const d = first.databaseDetail;
    expect(Number(d.server.id)).toBe(server.id);
    expect(d).toMatchObject({ engine: "MARIADB", days: 30, targetRpoSeconds: 3600 });
    expect(d.backups.totalCount).toBe(4);
    expect(d.backups.nodes.map((b: any) => Number(b.id))[0]).toBe(last);
    expect(d.copies).toEqual([
      { storageTargetId: String(local.id), target: local.name, stored: 2, storedBytes: "2000", damaged: 0, deleted: 1 },
      { storageTargetId: String(second.id), target: "truthb-second", stored: 1, storedBytes: "1000", damaged: 1, deleted: 0 },
    ]);
    // Recovery points: the deleted run counts (it was one), the failed run does not; gaps in seconds.
    expect(d.rpo.map((r: any) => [Number(r.backupId), r.gapSeconds])).toEqual([
      [old, null],
      [mid, 24 * 3600],
      [last, 24 * 3600],
    ]);
    expect(d.rto).toEqual([{ drillId: String(drill.id), restoreMs: 4200, status: "PASSED" }]);
    expect(d.drills.map((x: any) => Number(x.id))).toEqual([drill.id]);
    expect(d.recoverable.points).toBe(2);
    expect(new Date(d.recoverable.oldest).getTime()).toBe(at(26).getTime());

    // The server goes; its backups stay, found by its name.
    const admin = await app.as("ADMIN");
    dataOf(await admin("mutation($id: ID!) { deleteServer(id: $id) { id } }", { id: server.id }));
    const after = dataOf(await viewer(DETAIL, { s: "truthb-gone", d: "shop" })) as { databaseDetail: any };
    expect(after.databaseDetail.server).toBeNull();
    expect(after.databaseDetail.targetRpoSeconds).toBeNull();
    expect(after.databaseDetail.backups.totalCount).toBe(4);
    const known = dataOf(await viewer(`{ knownDatabases(serverName: "truthb-gone") { serverName database serverDeleted backups } }`)) as {
      knownDatabases: unknown[];
    };
    expect(known.knownDatabases).toEqual([
      { serverName: "truthb-gone", database: "other", serverDeleted: true, backups: 1 },
      { serverName: "truthb-gone", database: "shop", serverDeleted: true, backups: 4 },
    ]);
  });

  it("names the bad argument, and says when nothing of that name exists", async () => {
    const viewer = await app.as("VIEWER");
    const blank = await viewer(DETAIL, { s: " ", d: "shop" });
    expect(blank.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(JSON.stringify(blank.errors?.[0]?.extensions)).toContain("serverName");
    const days = await viewer(`{ databaseDetail(serverName: "x", database: "y", days: 0) { days } }`);
    expect(JSON.stringify(days.errors?.[0]?.extensions)).toContain("days");
    const missing = await viewer(DETAIL, { s: "truthb-never-existed", d: "shop" });
    expect(missing.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });

  it("needs authentication", async () => {
    const r = await app.gql(`{ knownDatabases { database } }`);
    expect(r.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});
