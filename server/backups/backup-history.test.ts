import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf } from "../testing/backup-helpers.ts";
import { createTestApp } from "../testing/test-app.ts";

type Page = { nodes: Array<{ id: number; database: string; status: string }>; hasNextPage: boolean; endCursor: string | null; totalCount: number };

/**
 * The history query over a real metadata database: filters, both orders, and keyset pages that
 * neither skip nor repeat a row, also with several backups created in the same millisecond.
 */
describe("backups history", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let viewer: Awaited<ReturnType<typeof app.as>>;
  const ids: Record<string, number[]> = {};
  let s3Id: number;
  let serverB: number;

  beforeAll(async () => {
    app = await createTestApp();
    viewer = await app.as("VIEWER");
    const p = app.db.prisma;
    const server = (name: string, labels: Record<string, string>) =>
      p.server.create({
        data: { name, engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", labels, includeDatabases: [], excludeDatabases: [] },
      });
    const a = await server("hist-a", { env: "prod", team: "payments" });
    serverB = (await server("hist-b", { env: "dev" })).id;
    const local = await p.storageTarget.findFirstOrThrow({ where: { kind: "LOCAL" } });
    s3Id = (await p.storageTarget.create({ data: { name: "hist-s3", kind: "S3", bucket: "b", region: "us-east-1" } })).id;
    const t0 = Date.UTC(2026, 10, 1);
    for (let i = 0; i < 30; i++) {
      const serverId = i % 3 === 0 ? serverB : a.id;
      // Every third pair shares a creation time, so the id must break the tie.
      const createdAt = new Date(t0 + Math.floor(i / 2) * 60_000);
      const b = await p.backup.create({
        data: {
          serverId,
          serverName: "x",
          engine: "MARIADB",
          database: i % 2 ? "shop" : "crm",
          trigger: "MANUAL",
          status: i % 5 === 0 ? "FAILED" : "SUCCEEDED",
          compression: "ZSTD",
          createdAt,
        },
      });
      await p.backupArtifact.create({ data: { backupId: b.id, storageTargetId: i % 4 === 0 ? s3Id : local.id, key: `k/${b.id}` } });
      (ids.all ??= []).push(b.id);
      if (serverId === serverB) (ids.b ??= []).push(b.id);
      if (i % 4 === 0) (ids.s3 ??= []).push(b.id);
      if (i % 5 === 0) (ids.failed ??= []).push(b.id);
    }
  });
  afterAll(async () => {
    await app?.close();
  });

  /** Every page of a query, following endCursor. */
  async function walk(args: string, first: number): Promise<{ ids: number[]; pages: number; total: number }> {
    const out: number[] = [];
    let after: string | null = null;
    let pages = 0;
    let total = 0;
    for (;;) {
      const { backups } = dataOf(
        await viewer(
          `query($after: String) { backups(first: ${first}, after: $after, ${args}) { nodes { id database status } hasNextPage endCursor totalCount } }`,
          { after },
        ),
      ) as { backups: Page };
      out.push(...backups.nodes.map((n) => Number(n.id)));
      pages++;
      total = backups.totalCount;
      if (!backups.hasNextPage) return { ids: out, pages, total };
      after = backups.endCursor;
    }
  }

  it("pages through everything newest first and oldest first, without gaps or repeats", async () => {
    const newest = await walk("order: NEWEST_FIRST", 7);
    expect(newest.ids).toEqual([...ids.all!].reverse());
    expect(newest.pages).toBe(5);
    expect(newest.total).toBe(30);
    expect((await walk("order: OLDEST_FIRST", 4)).ids).toEqual(ids.all);
  });

  it("filters by server, status and storage target, alone and together", async () => {
    expect((await walk(`filter: { serverId: ${serverB} }`, 3)).ids).toEqual([...ids.b!].reverse());
    expect((await walk("filter: { status: [FAILED] }", 2)).ids).toEqual([...ids.failed!].reverse());
    const onS3 = await walk(`filter: { storageTargetId: ${s3Id} }`, 2);
    expect(onS3.ids).toEqual([...ids.s3!].reverse());
    expect(onS3.total).toBe(ids.s3!.length);
    const both = ids.s3!.filter((id) => ids.b!.includes(id));
    expect((await walk(`filter: { storageTargetId: ${s3Id}, serverId: ${serverB} }, order: OLDEST_FIRST`, 1)).ids).toEqual(both);
    const shop = (await walk(`filter: { database: "shop", from: "2026-11-01T00:05:00Z", to: "2026-11-01T00:10:00Z" }`, 10)).ids;
    expect(shop.length).toBeGreaterThan(0);
    expect(shop.length).toBeLessThan(10);
  });

  it("filters by the labels the servers carry now, alone and with other filters", async () => {
    const notB = ids.all!.filter((id) => !ids.b!.includes(id));
    const dev = await walk(`filter: { serverLabels: [{ key: "env", value: "dev" }] }`, 4);
    expect(dev.ids).toEqual([...ids.b!].reverse());
    expect(dev.total).toBe(ids.b!.length);
    // Every label must match.
    expect((await walk(`filter: { serverLabels: [{ key: "env", value: "prod" }, { key: "team", value: "payments" }] }`, 50)).ids).toEqual([...notB].reverse());
    expect((await walk(`filter: { serverLabels: [{ key: "env", value: "prod" }, { key: "team", value: "web" }] }`, 50)).ids).toEqual([]);
    expect((await walk(`filter: { serverLabels: [{ key: "env", value: "staging" }] }`, 50)).total).toBe(0);
    // With a server id that the labels do not select: nothing; with the target filter: the intersection.
    expect((await walk(`filter: { serverId: ${serverB}, serverLabels: [{ key: "env", value: "prod" }] }`, 50)).ids).toEqual([]);
    const onS3Dev = ids.s3!.filter((id) => ids.b!.includes(id));
    expect((await walk(`filter: { storageTargetId: ${s3Id}, serverLabels: [{ key: "env", value: "dev" }] }, order: OLDEST_FIRST`, 2)).ids).toEqual(onS3Dev);
    const twice = await viewer(`{ backups(filter: { serverLabels: [{ key: "env", value: "dev" }, { key: "env", value: "prod" }] }) { nodes { id } } }`);
    expect(twice.errors?.[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT", field: "serverLabels[1].key" } });
  });

  it("rejects a cursor it did not issue and a page size out of range, naming the argument", async () => {
    const bad = await viewer(`{ backups(after: "12; DROP TABLE Backup") { nodes { id } } }`);
    expect(bad.errors?.[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT", field: "after" } });
    const big = await viewer(`{ backups(first: 10000) { nodes { id } } }`);
    expect(big.errors?.[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT", field: "first" } });
  });
});
