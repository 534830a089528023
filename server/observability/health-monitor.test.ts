import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, createTarget, dataOf } from "../testing/backup-helpers.ts";
import { parsePrometheusText } from "../testing/prom-parse.ts";
import { createMariadbSample, dropMariadbDatabase, uniqueName } from "../testing/sample-databases.ts";
import { startS3rver, type S3rverHandle } from "../testing/s3rver.ts";
import { freePort } from "../testing/server-process.ts";
import { createTestApp } from "../testing/test-app.ts";

const S3_INPUT = (s3: S3rverHandle) => ({
  kind: "S3",
  bucket: s3.bucket,
  region: "us-east-1",
  endpoint: s3.endpoint,
  forcePathStyle: true,
  accessKeyId: "S3RVER",
  secretAccessKey: "S3RVER",
});

/**
 * Issue 13 item 10 (and the metric part of item 6): the periodic health checks of servers and
 * storage targets (dashboard and sqlguard_server_up / sqlguard_storage_target_up), metric series of
 * deleted servers and dropped databases removed, and the form's "Test connection" on unsaved input.
 */
describe("health checks and tests before saving", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let operator: Awaited<ReturnType<typeof app.as>>;
  let viewer: Awaited<ReturnType<typeof app.as>>;
  let s3: S3rverHandle;
  const db = uniqueName("health");
  const serverName = uniqueName("health-srv");
  const deadName = uniqueName("health-dead");
  const s3Name = uniqueName("health-s3");
  let serverId: number;

  beforeAll(async () => {
    app = await createTestApp();
    admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    viewer = await app.as("VIEWER");
    await createMariadbSample(db, { rows: 5 });
    s3 = await startS3rver();
    serverId = await createServer(admin, { name: serverName, engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", includeDatabases: [db] });
    await createServer(admin, { name: deadName, engine: "MARIADB", host: "127.0.0.1", port: await freePort(), username: "root" });
    await createTarget(admin, { name: s3Name, ...S3_INPUT(s3) });
  });

  afterAll(async () => {
    await app?.close();
    await s3?.stop();
    await dropMariadbDatabase(db);
  });

  const series = async () => {
    const families = parsePrometheusText(await app.metrics.metrics.render());
    const value = (name: string, label: string, of: string) => families.get(name)?.samples.find((s) => s.labels[label] === of)?.value;
    return {
      server: (n: string) => value("sqlguard_server_up", "server", n),
      target: (n: string) => value("sqlguard_storage_target_up", "target", n),
      families,
    };
  };
  const components = async () =>
    (dataOf(await viewer("{ dashboard { components { kind name up error checkedAt } } }")) as any).dashboard.components as Array<{
      kind: string;
      name: string;
      up: boolean;
      error: string | null;
    }>;

  it("checks every server and target, shows them on the dashboard and in /metrics, and sees an S3 outage", async () => {
    await app.healthMonitor.checkAll();
    let m = await series();
    expect(m.server(serverName)).toBe(1);
    expect(m.server(deadName)).toBe(0);
    expect(m.target(s3Name)).toBe(1);
    expect(m.target("local")).toBe(1);
    let shown = await components();
    expect(shown.find((c) => c.name === serverName)).toMatchObject({ kind: "SERVER", up: true, error: null });
    expect(shown.find((c) => c.name === deadName)).toMatchObject({ kind: "SERVER", up: false });
    expect(shown.find((c) => c.name === deadName)!.error).toMatch(/refused|connect/i);

    await s3.kill();
    await app.healthMonitor.checkAll();
    m = await series();
    expect(m.target(s3Name)).toBe(0);
    shown = await components();
    expect(shown.find((c) => c.name === s3Name)).toMatchObject({ kind: "STORAGE_TARGET", up: false });
    expect(shown.find((c) => c.name === s3Name)!.error).toMatch(/unavailable|ECONNREFUSED/i);
  });

  it("removes the metric series of deleted servers and dropped databases, and keeps the rest", async () => {
    const metrics = app.metrics.metrics;
    metrics.recordLastStatus({ server: serverName, database: db }, true);
    metrics.recordLastStatus({ server: serverName, database: "dropped_since" }, false);
    metrics.recordLastSuccess({ server: "deleted-server", database: "x" }, new Date());
    metrics.recordRuns({ server: "deleted-server", database: "x", schedule: "hourly" }, "succeeded");
    await app.healthMonitor.checkAll();
    const families = (await series()).families;
    const labelsOf = (name: string) => families.get(name)?.samples.map((s) => `${s.labels.server}/${s.labels.database}`) ?? [];
    expect(labelsOf("sqlguard_backup_last_status")).toEqual([`${serverName}/${db}`]);
    expect(labelsOf("sqlguard_backup_last_success_timestamp_seconds")).toEqual([]);
    expect(labelsOf("sqlguard_backup_runs_total")).toEqual([]);
  });

  it("tests an unsaved server and an unsaved or edited storage target from the form's input, saving nothing", async () => {
    const servers = await app.db.prisma.server.count();
    const ok = dataOf(
      await operator(`mutation($input: ServerUpdateInput!) { testServerConnection(input: $input) { ok databases errorKind } }`, {
        input: { engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", includeDatabases: [db] },
      }),
    ) as any;
    expect(ok.testServerConnection).toEqual({ ok: true, databases: [db], errorKind: null });
    // Editing: the form changes the port to one nothing listens on; the saved server stays as it was.
    const edited = dataOf(
      await operator(`mutation($id: ID, $input: ServerUpdateInput!) { testServerConnection(id: $id, input: $input) { ok errorKind } }`, {
        id: serverId,
        input: { port: await freePort() },
      }),
    ) as any;
    expect(edited.testServerConnection).toEqual({ ok: false, errorKind: "REFUSED" });
    expect((await app.db.prisma.server.findUniqueOrThrow({ where: { id: serverId } })).port).toBe(3306);
    const missing = await operator(`mutation($input: ServerUpdateInput!) { testServerConnection(input: $input) { ok } }`, { input: { host: "127.0.0.1" } });
    expect(missing.errors?.[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT", field: "engine" } });
    expect(await app.db.prisma.server.count()).toBe(servers);

    const s3b = await startS3rver();
    try {
      const reachable = dataOf(
        await operator(`mutation($input: StorageTargetInput!) { testStorageTarget(input: $input) { ok error } }`, { input: S3_INPUT(s3b) }),
      ) as any;
      expect(reachable.testStorageTarget).toEqual({ ok: true, error: null });
    } finally {
      await s3b.stop();
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "health-local-"));
    try {
      const local = dataOf(
        await operator(`mutation($input: StorageTargetInput!) { testStorageTarget(input: $input) { ok error } }`, { input: { kind: "LOCAL", path: dir } }),
      ) as any;
      expect(local.testStorageTarget).toEqual({ ok: true, error: null });
      expect(fs.readdirSync(dir).flatMap((d) => fs.readdirSync(path.join(dir, d)))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const noKind = await operator(`mutation($input: StorageTargetInput!) { testStorageTarget(input: $input) { ok } }`, { input: { path: "/tmp" } });
    expect(noKind.errors?.[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT", field: "kind" } });
    const refused = await viewer(`mutation($input: StorageTargetInput!) { testStorageTarget(input: $input) { ok } }`, {
      input: { kind: "LOCAL", path: "/tmp/x" },
    });
    expect(refused.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(await app.db.prisma.storageTarget.count({ where: { name: "unsaved" } })).toBe(0);
  });
});
