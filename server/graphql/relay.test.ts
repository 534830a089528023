import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cursorOf } from "../backups/backups.service.ts";
import { dataOf } from "../testing/backup-helpers.ts";
import { createTestApp } from "../testing/test-app.ts";

type PageInfo = { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
type Connection = {
  edges: Array<{ cursor: string; node: { id: number; database: string } }>;
  nodes: Array<{ id: number }>;
  pageInfo: PageInfo;
  totalCount: number;
  hasNextPage: boolean;
  endCursor: string | null;
};

const CONNECTION_FIELDS =
  "edges { cursor node { id database } } nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount hasNextPage endCursor";

/**
 * The paged lists as Relay connections over a real metadata database, walked the way urql's and
 * Apollo's relay pagination do it: ask for `first`, then pass pageInfo.endCursor as `after` until
 * hasNextPage is false, merging edges by cursor.
 */
describe("Relay connections", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let viewer: Awaited<ReturnType<typeof app.as>>;
  const backups: Array<{ id: number; createdAt: Date }> = [];
  const restoreIds: number[] = [];

  beforeAll(async () => {
    app = await createTestApp();
    viewer = await app.as("VIEWER");
    const p = app.db.prisma;
    const server = await p.server.create({
      data: { name: "relay-a", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", labels: {}, includeDatabases: [], excludeDatabases: [] },
    });
    const t0 = Date.UTC(2026, 9, 1);
    for (let i = 0; i < 11; i++) {
      // Pairs share a creation time: the cursor's id part must break the tie.
      const b = await p.backup.create({
        data: {
          serverId: server.id,
          serverName: "relay-a",
          engine: "MARIADB",
          database: `relay_${i}`,
          trigger: "MANUAL",
          status: "SUCCEEDED",
          compression: "ZSTD",
          createdAt: new Date(t0 + Math.floor(i / 2) * 1000),
        },
      });
      backups.push({ id: b.id, createdAt: b.createdAt });
    }
    for (let i = 0; i < 5; i++) {
      const r = await p.restore.create({
        data: {
          backupId: backups[i]!.id,
          artifactKey: `k/${i}`,
          serverId: server.id,
          serverName: "relay-a",
          engine: "MARIADB",
          sourceDatabase: `relay_${i}`,
          database: `relay_${i}_restored`,
          status: i % 2 ? "FAILED" : "SUCCEEDED",
          requestedBy: "test",
        },
      });
      restoreIds.push(r.id);
    }
  });
  afterAll(async () => {
    await app?.close();
  });

  /** urql-style relay pagination: every page's edges, keyed by cursor, and the pageInfo of each page. */
  async function walk(field: "backups" | "restores", filter: string, first: number) {
    const edges = new Map<string, { id: number; database: string }>();
    const infos: PageInfo[] = [];
    let after: string | null = null;
    for (;;) {
      const data = dataOf(
        await viewer(`query($after: String) { ${field}(first: ${first}, after: $after, ${filter}) { ${CONNECTION_FIELDS} } }`, { after }),
      ) as Record<string, Connection>;
      const page = data[field]!;
      infos.push(page.pageInfo);
      // The shortcuts agree with the edges, and the deprecated fields with pageInfo.
      expect(page.nodes.map((n) => n.id)).toEqual(page.edges.map((e) => e.node.id));
      expect(page.hasNextPage).toBe(page.pageInfo.hasNextPage);
      expect(page.endCursor).toBe(page.pageInfo.endCursor);
      expect(page.pageInfo.startCursor).toBe(page.edges[0]?.cursor ?? null);
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
      for (const edge of page.edges) {
        expect(edges.has(edge.cursor), `cursor ${edge.cursor} repeated`).toBe(false);
        edges.set(edge.cursor, edge.node);
      }
      if (!page.pageInfo.hasNextPage) return { edges, infos, totalCount: page.totalCount };
      after = page.pageInfo.endCursor;
    }
  }

  it("walks the backups connection page by page without gaps or repeats", async () => {
    const { edges, infos, totalCount } = await walk("backups", `filter: { serverId: ${await serverId()} }`, 4);
    const newestFirst = [...backups].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id - a.id);
    expect([...edges.values()].map((n) => Number(n.id))).toEqual(newestFirst.map((b) => b.id));
    // Each edge's cursor is the keyset cursor of its node.
    expect([...edges.keys()]).toEqual(newestFirst.map(cursorOf));
    expect(totalCount).toBe(11);
    expect(infos.map((i) => i.hasNextPage)).toEqual([true, true, false]);
    expect(infos.map((i) => i.hasPreviousPage)).toEqual([false, true, true]);
  });

  it("continues after any edge's cursor, not only endCursor", async () => {
    const first = dataOf(await viewer(`{ backups(first: 5, filter: { serverId: ${await serverId()} }) { ${CONNECTION_FIELDS} } }`)) as { backups: Connection };
    const middle = first.backups.edges[2]!;
    const rest = dataOf(
      await viewer(`query($after: String) { backups(first: 2, after: $after, filter: { serverId: ${await serverId()} }) { ${CONNECTION_FIELDS} } }`, {
        after: middle.cursor,
      }),
    ) as { backups: Connection };
    expect(rest.backups.edges.map((e) => e.node.id)).toEqual(first.backups.edges.slice(3, 5).map((e) => e.node.id));
  });

  it("walks the restores connection newest first, with totalCount under a filter", async () => {
    const all = await walk("restores", `filter: { serverId: ${await serverId()} }`, 2);
    expect([...all.edges.values()].map((n) => Number(n.id))).toEqual([...restoreIds].reverse());
    expect([...all.edges.keys()]).toEqual([...restoreIds].reverse().map(String));
    expect(all.totalCount).toBe(5);
    expect(all.infos.map((i) => i.hasNextPage)).toEqual([true, true, false]);

    const failed = await walk("restores", `filter: { serverId: ${await serverId()}, status: [FAILED] }`, 10);
    expect([...failed.edges.values()].map((n) => Number(n.id))).toEqual([restoreIds[3], restoreIds[1]]);
    expect(failed.totalCount).toBe(2);
    expect(failed.infos).toEqual([{ hasNextPage: false, hasPreviousPage: false, startCursor: String(restoreIds[3]), endCursor: String(restoreIds[1]) }]);
  });

  it("an empty connection has no cursors", async () => {
    const data = dataOf(await viewer(`{ backups(first: 3, filter: { database: "relay_none" }) { ${CONNECTION_FIELDS} } }`)) as { backups: Connection };
    expect(data.backups).toMatchObject({
      edges: [],
      nodes: [],
      totalCount: 0,
      pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
    });
  });

  it("names `after` when the cursor is not one it handed out", async () => {
    const res = await viewer(`{ backups(first: 3, after: "not-a-cursor") { ${CONNECTION_FIELDS} } }`);
    expect(res.errors?.[0]?.message).toMatch(/after/);
    expect(res.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    // Restores too: a bad cursor is refused rather than silently starting over at the first page.
    const restores = await viewer(`{ restores(first: 3, after: "not-a-cursor") { ${CONNECTION_FIELDS} } }`);
    expect(restores.errors?.[0]?.message).toBe("after: is not a cursor returned by restores (endCursor)");
    expect(restores.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  async function serverId(): Promise<number> {
    return (await app.db.prisma.server.findFirstOrThrow({ where: { name: "relay-a" } })).id;
  }
});
