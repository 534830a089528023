// Issue 14, "done when": one sqlguard.yaml for three environments (dev, staging and prod servers
// selected by label; prod on S3 with GFS retention, dev on a local directory keeping the last 3)
// drives real backups of MariaDB and PostgreSQL: every environment's databases land on exactly its
// targets, the sweep applies each target's rule, and a prod server added later is covered by the
// prod schedule without touching it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf, waitForBackup } from "../testing/backup-helpers.ts";
import { startS3rver, type S3rverHandle } from "../testing/s3rver.ts";
import { createMariadbSample, createPgSample, dropMariadbDatabase, dropPgDatabase, POSTGRES, uniqueName } from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";

type App = Awaited<ReturnType<typeof createTestApp>>;
type Client = Awaited<ReturnType<App["as"]>>;
type Plan = { empty: boolean; applied: boolean; summary: string; changes: Array<{ action: string; kind: string; name: string }> };

const PLAN_FIELDS = `empty applied summary changes { action kind name }`;

describe("configuration as code: three environments drive real backups", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-3env-"));
  const diskDir = path.join(work, "disk");
  const env: Record<string, string | undefined> = { SQLGUARD_SECRET_STORAGE_OFFSITE: "S3RVER" };
  // One database per server, each server limited to its own.
  const dbs = {
    devMaria: uniqueName("env_dev_m"),
    devPg: uniqueName("env_dev_p"),
    stagingMaria: uniqueName("env_stg_m"),
    prodMaria: uniqueName("env_prod_m"),
    prodPg: uniqueName("env_prod_p"),
    prodLate: uniqueName("env_late_m"),
  };
  let app: App;
  let admin: Client;
  let s3: S3rverHandle;

  const server = (name: string, engine: "MARIADB" | "POSTGRESQL", envLabel: string, database: string) =>
    engine === "MARIADB"
      ? `  - { name: ${name}, engine: MARIADB, host: 127.0.0.1, port: 3306, username: root, labels: { env: ${envLabel}, tier: db }, includeDatabases: [${database}] }\n`
      : `  - { name: ${name}, engine: POSTGRESQL, host: 127.0.0.1, port: 5432, username: ${POSTGRES.user}, labels: { env: ${envLabel} }, includeDatabases: [${database}] }\n`;

  const document = (extraServers = "") => `apiVersion: sqlguard/v1
kind: Configuration
storageTargets:
  - name: disk
    kind: LOCAL
    path: ${diskDir}
  - name: offsite
    kind: S3
    bucket: ${s3.bucket}
    endpoint: ${s3.endpoint}
    region: us-east-1
    prefix: prod
    forcePathStyle: true
    accessKeyId: S3RVER
    secretAccessKey: \${env:SQLGUARD_SECRET_STORAGE_OFFSITE}
servers:
${server("dev-maria", "MARIADB", "dev", dbs.devMaria)}${server("dev-pg", "POSTGRESQL", "dev", dbs.devPg)}${server("staging-maria", "MARIADB", "staging", dbs.stagingMaria)}${server("prod-maria", "MARIADB", "prod", dbs.prodMaria)}${server("prod-pg", "POSTGRESQL", "prod", dbs.prodPg)}${extraServers}schedules:
  - name: prod-nightly
    cronExpression: "0 2 * * *"
    servers: { matchLabels: { env: prod } }
    storageTargets: [offsite]
    retention:
      offsite: { gfsDaily: 7, gfsWeekly: 4, gfsMonthly: 12, minKeep: 1 }
  - name: staging-nightly
    cronExpression: "0 3 * * *"
    servers: { matchLabels: { env: staging } }
    storageTargets: [disk]
    retention:
      disk: { keepLast: 7 }
  - name: dev-daily
    cronExpression: "0 4 * * *"
    servers: { matchLabels: { env: dev } }
    storageTargets: [disk]
    retention:
      disk: { keepLast: 3 }
`;

  async function apply(doc: string): Promise<Plan> {
    const r = await admin(`mutation($d: String!) { applyConfiguration(document: $d) { ${PLAN_FIELDS} } }`, { d: doc });
    return (dataOf(r) as { applyConfiguration: Plan }).applyConfiguration;
  }

  async function scheduleId(name: string): Promise<number> {
    return (await app.db.prisma.schedule.findUniqueOrThrow({ where: { name } })).id;
  }

  /** "Run now" on a schedule (the function a tick calls); waits for every backup it queued. */
  async function run(name: string): Promise<number[]> {
    const id = await scheduleId(name);
    const queued = (dataOf(await admin(`mutation($id: ID!) { runSchedule(id: $id) { id } }`, { id })) as { runSchedule: Array<{ id: number }> }).runSchedule;
    for (const b of queued) expect((await waitForBackup(admin, b.id)).status).toBe("SUCCEEDED");
    return queued.map((b) => Number(b.id));
  }

  /** The schedule's backups with the targets holding a stored copy: "server/database" → target names. */
  async function copiesOf(name: string) {
    const rows = await app.db.prisma.backup.findMany({
      where: { scheduleId: await scheduleId(name) },
      include: { artifacts: { include: { storageTarget: true } } },
      orderBy: { id: "asc" },
    });
    return rows.map((b) => ({
      id: b.id,
      status: b.status,
      where: `${b.serverName}/${b.database}`,
      stored: b.artifacts.filter((a) => a.status === "STORED").map((a) => a.storageTarget?.name),
      keys: b.artifacts.map((a) => a.key),
    }));
  }

  async function s3Keys(): Promise<string[]> {
    const client = new S3Client({
      region: "us-east-1",
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    });
    try {
      const out = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
      // Keys under the target's prefix ("prod/"), as the artifacts record them.
      return (out.Contents ?? [])
        .map((o) => o.Key!)
        .filter((k) => k.startsWith("prod/"))
        .map((k) => k.slice("prod/".length));
    } finally {
      client.destroy();
    }
  }

  beforeAll(async () => {
    s3 = await startS3rver({ bucket: "sqlguard-3env" });
    app = await createTestApp({ secretEnv: env });
    admin = await app.as("ADMIN");
    for (const db of [dbs.devMaria, dbs.stagingMaria, dbs.prodMaria, dbs.prodLate]) await createMariadbSample(db, { rows: 20 });
    for (const db of [dbs.devPg, dbs.prodPg]) await createPgSample(db);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await s3?.stop();
    for (const db of [dbs.devMaria, dbs.stagingMaria, dbs.prodMaria, dbs.prodLate]) await dropMariadbDatabase(db);
    for (const db of [dbs.devPg, dbs.prodPg]) await dropPgDatabase(db);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("applies once, and again changes nothing", async () => {
    const first = await apply(document());
    expect(first.applied).toBe(true);
    expect(first.changes.filter((c) => c.action === "CREATE").map((c) => `${c.kind}/${c.name}`)).toEqual(
      expect.arrayContaining([
        "storageTargets/disk",
        "storageTargets/offsite",
        "servers/dev-maria",
        "servers/dev-pg",
        "servers/staging-maria",
        "servers/prod-maria",
        "servers/prod-pg",
        "schedules/prod-nightly",
        "schedules/staging-nightly",
        "schedules/dev-daily",
      ]),
    );
    const again = await apply(document());
    expect(again).toMatchObject({ empty: true, changes: [] });
  });

  it("each environment's databases are backed up on exactly its targets", { timeout: 120_000 }, async () => {
    await run("prod-nightly");
    await run("staging-nightly");
    await run("dev-daily");

    const prod = await copiesOf("prod-nightly");
    expect(prod.map((b) => b.where).sort()).toEqual([`prod-maria/${dbs.prodMaria}`, `prod-pg/${dbs.prodPg}`]);
    for (const b of prod) expect(b.stored).toEqual(["offsite"]);
    const keys = await s3Keys();
    for (const b of prod) for (const key of b.keys) expect(keys).toContain(key);

    const staging = await copiesOf("staging-nightly");
    expect(staging.map((b) => b.where)).toEqual([`staging-maria/${dbs.stagingMaria}`]);
    const dev = await copiesOf("dev-daily");
    expect(dev.map((b) => b.where).sort()).toEqual([`dev-maria/${dbs.devMaria}`, `dev-pg/${dbs.devPg}`]);
    for (const b of [...staging, ...dev]) {
      expect(b.stored).toEqual(["disk"]);
      for (const key of b.keys) expect(fs.existsSync(path.join(diskDir, key))).toBe(true);
    }
    // Nothing of dev or staging went to S3, nothing of prod to the local directory.
    for (const b of [...staging, ...dev]) for (const key of b.keys) expect(keys).not.toContain(key);
    for (const b of prod) for (const key of b.keys) expect(fs.existsSync(path.join(diskDir, key))).toBe(false);
  });

  it("the sweep keeps dev's newest 3 on disk, and prod's GFS picks on S3", { timeout: 180_000 }, async () => {
    // dev: three more runs, four in all per database.
    for (let i = 0; i < 3; i++) await run("dev-daily");
    // prod: two more runs; the first prod run is moved two days back, so daily GFS keeps it and the
    // newest, and the middle one (the same day as the newest) goes.
    await run("prod-nightly");
    await run("prod-nightly");
    const prodBefore = await copiesOf("prod-nightly");
    const firstProd = prodBefore.slice(0, 2).map((b) => b.id);
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    await app.db.prisma.backup.updateMany({ where: { id: { in: firstProd } }, data: { startedAt: twoDaysAgo, createdAt: twoDaysAgo } });

    const devBefore = await copiesOf("dev-daily");
    expect(devBefore).toHaveLength(8);
    await app.sweeper.sweep();

    const dev = await copiesOf("dev-daily");
    for (const where of [`dev-maria/${dbs.devMaria}`, `dev-pg/${dbs.devPg}`]) {
      const mine = devBefore.filter((b) => b.where === where);
      const kept = dev.filter((b) => b.where === where && b.stored.length > 0).map((b) => b.id);
      expect(kept).toEqual(mine.slice(-3).map((b) => b.id));
      const oldest = dev.find((b) => b.id === mine[0]!.id)!;
      expect(oldest.stored).toEqual([]);
      for (const key of oldest.keys) expect(fs.existsSync(path.join(diskDir, key))).toBe(false);
      for (const b of dev.filter((b) => kept.includes(b.id))) for (const key of b.keys) expect(fs.existsSync(path.join(diskDir, key))).toBe(true);
    }

    const prod = await copiesOf("prod-nightly");
    const keys = await s3Keys();
    for (const where of [`prod-maria/${dbs.prodMaria}`, `prod-pg/${dbs.prodPg}`]) {
      const mine = prodBefore.filter((b) => b.where === where);
      expect(mine).toHaveLength(3);
      const [oldest, middle, newest] = mine;
      const kept = prod.filter((b) => b.where === where && b.stored.includes("offsite")).map((b) => b.id);
      expect(kept).toEqual([oldest!.id, newest!.id]);
      for (const key of middle!.keys) expect(keys).not.toContain(key);
      for (const key of [...oldest!.keys, ...newest!.keys]) expect(keys).toContain(key);
    }
    // staging's single backup is within keepLast 7.
    expect((await copiesOf("staging-nightly")).every((b) => b.stored.length === 1)).toBe(true);
  });

  it("a server added later with env=prod is covered by the prod schedule without touching it", { timeout: 60_000 }, async () => {
    const before = await app.db.prisma.schedule.findUniqueOrThrow({ where: { name: "prod-nightly" } });
    const plan = await apply(document(server("prod-late", "MARIADB", "prod", dbs.prodLate)));
    expect(plan.changes).toEqual([{ action: "CREATE", kind: "servers", name: "prod-late" }]);
    const after = await app.db.prisma.schedule.findUniqueOrThrow({ where: { name: "prod-nightly" } });
    expect(after.updatedAt).toEqual(before.updatedAt);

    const ids = await run("prod-nightly");
    const latest = (await copiesOf("prod-nightly")).filter((b) => ids.includes(b.id));
    expect(latest.map((b) => b.where).sort()).toEqual([`prod-late/${dbs.prodLate}`, `prod-maria/${dbs.prodMaria}`, `prod-pg/${dbs.prodPg}`]);
    for (const b of latest) expect(b.stored).toEqual(["offsite"]);
    // dev's schedule still covers only dev.
    expect(new Set((await copiesOf("dev-daily")).map((b) => b.where))).toEqual(new Set([`dev-maria/${dbs.devMaria}`, `dev-pg/${dbs.devPg}`]));
  });
});
