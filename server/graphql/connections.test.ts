import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cursorOf } from "../backups/backups.service.ts";
import { dataOf } from "../testing/backup-helpers.ts";
import { createTestApp } from "../testing/test-app.ts";

type PageInfo = { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
type Connection = { edges: Array<{ cursor: string; node: { id: number } }>; nodes: Array<{ id: number }>; pageInfo: PageInfo; totalCount: number };

const FIELDS = "edges { cursor node { id } } nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount";

/**
 * The paged lists that became Relay connections after backups and restores (audit log, drills,
 * delivery log, rewrap jobs, a database's backups), over a real metadata database: walked as urql's
 * and Apollo's relay pagination do (pageInfo.endCursor as `after` until hasNextPage is false), a
 * cursor they did not hand out refused naming `after`, and `first` past the old cap naming `first`.
 */
describe("Relay connections of the other paged lists", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  const ids = { audit: [] as number[], drills: [] as number[], deliveries: [] as number[], rewraps: [] as number[], backups: [] as string[] };
  let channelId = 0;

  beforeAll(async () => {
    app = await createTestApp();
    admin = await app.as("ADMIN");
    const p = app.db.prisma;
    for (let i = 0; i < 7; i++) {
      const row = await p.auditLog.create({ data: { actor: "test", action: "thing.touch", entityType: "relay-thing", entityId: String(i % 2) } });
      ids.audit.push(row.id);
    }
    for (let i = 0; i < 5; i++) {
      const row = await p.restoreDrill.create({
        data: {
          serverName: "verify",
          sourceServerName: "relay-src",
          database: "shop",
          scratchDatabase: `scratch_${i}`,
          trigger: "MANUAL",
          status: i % 2 ? "FAILED" : "PASSED",
          requestedBy: "test",
        },
      });
      ids.drills.push(row.id);
    }
    const channel = await p.notificationChannel.create({ data: { name: "relay-channel", kind: "WEBHOOK", settings: {} } });
    channelId = channel.id;
    for (let i = 0; i < 6; i++) {
      const row = await p.notificationDelivery.create({ data: { channelId, event: "TEST", summary: `delivery ${i}`, facts: {} } });
      ids.deliveries.push(row.id);
    }
    for (let i = 0; i < 3; i++) {
      const row = await p.encryptionRewrap.create({ data: { requestedBy: "test", keyIds: [], instanceId: "elsewhere", status: "SUCCEEDED" } });
      ids.rewraps.push(row.id);
    }
    const server = await p.server.create({
      data: { name: "relay-db", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", labels: {}, includeDatabases: [], excludeDatabases: [] },
    });
    const t0 = Date.UTC(2026, 9, 1);
    const backups = [];
    for (let i = 0; i < 5; i++) {
      backups.push(
        await p.backup.create({
          data: {
            serverId: server.id,
            serverName: "relay-db",
            engine: "MARIADB",
            database: i === 4 ? "other" : "shop",
            trigger: "MANUAL",
            status: "SUCCEEDED",
            compression: "ZSTD",
            createdAt: new Date(t0 + i * 1000),
          },
        }),
      );
    }
    ids.backups = backups
      .filter((b) => b.database === "shop")
      .reverse()
      .map(cursorOf);
  });
  afterAll(async () => {
    await app?.close();
  });

  /** Reads one page of the connection at `path` (a dotted path into the data) of `query`. */
  async function page(query: (after: string | null) => string, path: string, after: string | null): Promise<Connection> {
    const data = dataOf(await admin(query(after), { after })) as Record<string, unknown>;
    return path.split(".").reduce<unknown>((o, key) => (o as Record<string, unknown>)[key], data) as Connection;
  }

  /** urql-style relay pagination: every page's edges, keyed by cursor. */
  async function walk(query: (after: string | null) => string, path: string) {
    const cursors: string[] = [];
    const nodeIds: number[] = [];
    const infos: PageInfo[] = [];
    let after: string | null = null;
    let totalCount = -1;
    for (;;) {
      const conn = await page(query, path, after);
      infos.push(conn.pageInfo);
      totalCount = conn.totalCount;
      expect(conn.nodes.map((n) => n.id)).toEqual(conn.edges.map((e) => e.node.id));
      expect(conn.pageInfo.startCursor).toBe(conn.edges[0]?.cursor ?? null);
      expect(conn.pageInfo.endCursor).toBe(conn.edges.at(-1)?.cursor ?? null);
      for (const edge of conn.edges) {
        expect(cursors, `cursor ${edge.cursor} repeated`).not.toContain(edge.cursor);
        cursors.push(edge.cursor);
        nodeIds.push(Number(edge.node.id));
      }
      if (!conn.pageInfo.hasNextPage) return { cursors, nodeIds, infos, totalCount };
      after = conn.pageInfo.endCursor;
    }
  }

  const newestFirst = (list: number[]) => [...list].reverse();

  it("walks the audit log in two pages, newest first, under its filter", async () => {
    const q = () => `query($after: String) { auditLog(entityType: "relay-thing", first: 4, after: $after) { ${FIELDS} } }`;
    const all = await walk(q, "auditLog");
    expect(all.nodeIds).toEqual(newestFirst(ids.audit));
    expect(all.cursors).toEqual(newestFirst(ids.audit).map(String));
    expect(all.totalCount).toBe(7);
    expect(all.infos.map((i) => [i.hasNextPage, i.hasPreviousPage])).toEqual([
      [true, false],
      [false, true],
    ]);
    const one = await walk(
      () => `query($after: String) { auditLog(entityType: "relay-thing", entityId: "1", first: 2, after: $after) { ${FIELDS} } }`,
      "auditLog",
    );
    expect(one.nodeIds).toEqual([ids.audit[5], ids.audit[3], ids.audit[1]]);
    expect(one.totalCount).toBe(3);
  });

  it("walks restore drills in two pages, with totalCount under a status filter", async () => {
    const all = await walk(
      (_) => `query($after: String) { restoreDrills(serverName: "relay-src", database: "shop", first: 3, after: $after) { ${FIELDS} } }`,
      "restoreDrills",
    );
    expect(all.nodeIds).toEqual(newestFirst(ids.drills));
    expect(all.totalCount).toBe(5);
    expect(all.infos.map((i) => i.hasNextPage)).toEqual([true, false]);
    const failed = await walk((_) => `query($after: String) { restoreDrills(status: [FAILED], first: 1, after: $after) { ${FIELDS} } }`, "restoreDrills");
    expect(failed.nodeIds).toEqual([ids.drills[3], ids.drills[1]]);
    expect(failed.totalCount).toBe(2);
  });

  it("walks the notification delivery log in two pages", async () => {
    const all = await walk(
      (_) => `query($after: String) { notificationDeliveries(channelId: ${channelId}, first: 3, after: $after) { ${FIELDS} } }`,
      "notificationDeliveries",
    );
    expect(all.nodeIds).toEqual(newestFirst(ids.deliveries));
    expect(all.totalCount).toBe(6);
    expect(all.infos.map((i) => i.hasNextPage)).toEqual([true, false]);
  });

  it("walks the rewrap jobs in two pages", async () => {
    const all = await walk((_) => `query($after: String) { encryptionRewraps(first: 2, after: $after) { ${FIELDS} } }`, "encryptionRewraps");
    expect(all.nodeIds).toEqual(newestFirst(ids.rewraps));
    expect(all.totalCount).toBe(3);
    expect(all.infos.map((i) => i.hasNextPage)).toEqual([true, false]);
  });

  it("walks a database's backups in two pages with the backups cursor", async () => {
    const q = () => `query($after: String) { databaseDetail(serverName: "relay-db", database: "shop") { backups(first: 2, after: $after) { ${FIELDS} } } }`;
    const all = await walk(q, "databaseDetail.backups");
    expect(all.cursors).toEqual(ids.backups);
    expect(all.totalCount).toBe(4);
    expect(all.infos.map((i) => [i.hasNextPage, i.hasPreviousPage])).toEqual([
      [true, false],
      [false, true],
    ]);
  });

  it("refuses a cursor it did not hand out, naming `after`, and `first` over the cap, naming `first`", async () => {
    const lists: Array<[string, (args: string) => string, number]> = [
      ["auditLog", (a) => `{ auditLog(${a}) { totalCount } }`, 500],
      ["restoreDrills", (a) => `{ restoreDrills(${a}) { totalCount } }`, 500],
      ["notificationDeliveries", (a) => `{ notificationDeliveries(${a}) { totalCount } }`, 500],
      ["encryptionRewraps", (a) => `{ encryptionRewraps(${a}) { totalCount } }`, 100],
      ["backups", (a) => `{ databaseDetail(serverName: "relay-db", database: "shop") { backups(${a}) { totalCount } } }`, 200],
    ];
    for (const [name, query, cap] of lists) {
      for (const bad of ["not-a-cursor", "0", "-3", "99999999999"]) {
        const res = await admin(query(`after: ${JSON.stringify(bad)}`));
        expect(res.errors?.[0]?.message, `${name} after ${bad}`).toBe(`after: is not a cursor returned by ${name} (endCursor)`);
        expect(res.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
      }
      const over = await admin(query(`first: ${cap + 1}`));
      expect(over.errors?.[0]?.message, name).toBe(`first: must be between 1 and ${cap}`);
      expect(over.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
      // The cap itself is allowed.
      expect((await admin(query(`first: ${cap}`))).errors, name).toBeUndefined();
    }
  });

  it("keeps the audit and delivery logs to admins", async () => {
    const operator = await app.as("OPERATOR");
    expect((await operator("{ auditLog { totalCount } }")).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await operator("{ notificationDeliveries { totalCount } }")).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});
