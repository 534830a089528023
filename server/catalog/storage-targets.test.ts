import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp } from "../testing/test-app.ts";

let t: Awaited<ReturnType<typeof createTestApp>>;
let admin: Awaited<ReturnType<typeof t.as>>;
let tmp: string;
beforeAll(async () => {
  t = await createTestApp();
  admin = await t.as("ADMIN");
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-targets-"));
});
afterAll(async () => {
  await t.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

const CREATE = `mutation ($input: StorageTargetInput!) { createStorageTarget(input: $input) { id name path bucket prefix endpoint } }`;
const UPDATE = `mutation ($id: ID!, $input: StorageTargetInput!, $migration: StorageTargetMigration) {
  updateStorageTarget(id: $id, input: $input, migration: $migration) { id kind path bucket prefix endpoint enabled }
}`;

async function createTarget(input: Record<string, unknown>): Promise<number> {
  const r = await admin(CREATE, { input });
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return Number(r.data!.createStorageTarget.id);
}

/** A backup with one artifact of `bytes` bytes on the target, in `status`. */
async function artifactOn(targetId: number, key: string, status: "STORED" | "PENDING" = "STORED", bytes = 5) {
  const backup = await t.db.prisma.backup.create({
    data: { serverName: "x", engine: "MARIADB", database: "d", trigger: "MANUAL", compression: "ZSTD", status: status === "STORED" ? "SUCCEEDED" : "RUNNING" },
  });
  await t.db.prisma.backupArtifact.create({
    data: { backupId: backup.id, storageTargetId: targetId, key, status, sizeBytes: status === "STORED" ? bytes : null },
  });
}

async function writeFile(file: string, content: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, content);
}

describe("storage target paths", () => {
  // Before: any absolute path but "/" was accepted, /etc and the data directory (secret.key) included.
  it.each([
    ["/etc", /path: must not be a system directory \(\/etc or below\)/],
    ["/proc", /must not be a system directory \(\/proc or below\)/],
    ["/sys/kernel", /must not be a system directory \(\/sys or below\)/],
    ["/dev", /must not be a system directory \(\/dev or below\)/],
  ])("refuses %s naming the field", async (dir, problem) => {
    const r = await admin(CREATE, { input: { name: `sys-${path.basename(dir)}`, kind: "LOCAL", path: dir } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "path" });
    expect(r.errors?.[0]?.message).toMatch(problem);
  });

  it("refuses SQLGuard's data directory, its parents and links leading there, but not a directory inside it", async () => {
    for (const dir of [t.dataDir, path.dirname(t.dataDir)]) {
      const r = await admin(CREATE, { input: { name: "data", kind: "LOCAL", path: dir } });
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "path" });
      expect(r.errors?.[0]?.message).toContain(`must not be or contain SQLGuard's data directory (${t.dataDir}), which holds its secret key`);
    }
    await fs.mkdir(t.dataDir, { recursive: true });
    await fs.symlink(t.dataDir, path.join(tmp, "to-data"));
    await fs.symlink("/etc", path.join(tmp, "to-etc"));
    for (const dir of [path.join(tmp, "to-data"), path.join(tmp, "to-etc", "backups")]) {
      const r = await admin(CREATE, { input: { name: "linked", kind: "LOCAL", path: dir } });
      expect(r.errors?.[0]?.extensions, dir).toMatchObject({ code: "BAD_USER_INPUT", field: "path" });
      expect(r.errors?.[0]?.message).toMatch(/: it leads to /);
    }
    const inside = await createTarget({ name: "inside-data", kind: "LOCAL", path: path.join(t.dataDir, "more-backups") });
    const moved = await admin(UPDATE, { id: inside, input: { path: "/etc/sqlguard" } });
    expect(moved.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "path" });
  });
});

describe("re-pointing a storage target", () => {
  // Before: path, bucket, prefix, endpoint and kind could be changed at will, stranding every
  // stored artifact (the records then pointed at objects that were not there).
  it("refuses to move a LOCAL target that holds artifacts, naming the field", async () => {
    const from = path.join(tmp, "from");
    const id = await createTarget({ name: "moving", kind: "LOCAL", path: from });
    await artifactOn(id, "srv/db/daily/a.sql.zst");
    const to = path.join(tmp, "to");

    const plain = await admin(UPDATE, { id, input: { path: to } });
    expect(plain.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", field: "path" });
    expect(plain.errors?.[0]?.message).toBe(
      "path: storage target moving holds 1 backup artifact(s), which changing its path would strand; add a new target instead (and disable this one), or copy the artifacts to the new location and update with migration ARTIFACTS_MOVED",
    );
    // The console sends every field: the same path (even spelled with a trailing slash) is no change.
    const same = await admin(UPDATE, { id, input: { path: `${from}/`, prefix: "ignored-by-local", enabled: false } });
    expect(same.errors).toBeUndefined();
    expect(same.data!.updateStorageTarget).toMatchObject({ path: from, enabled: false });

    // Migration: every artifact and manifest must be at the new location with its recorded size.
    const missing = await admin(UPDATE, { id, input: { path: to }, migration: "ARTIFACTS_MOVED" });
    expect(missing.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", field: "path" });
    expect(missing.errors?.[0]?.message).toContain("1 of 1 artifact(s) of moving are not at the new location (srv/db/daily/a.sql.zst: missing)");
    await writeFile(path.join(to, "srv/db/daily/a.sql.zst"), "1234");
    await writeFile(path.join(to, "srv/db/daily/a.sql.zst.manifest.json"), "{}");
    const short = await admin(UPDATE, { id, input: { path: to }, migration: "ARTIFACTS_MOVED" });
    expect(short.errors?.[0]?.message).toContain("srv/db/daily/a.sql.zst: 4 bytes, expected 5");
    await writeFile(path.join(to, "srv/db/daily/a.sql.zst"), "12345");

    await t.db.prisma.storageUpload.create({ data: { storageTargetId: id, key: "srv/db/daily/old.sql.zst", instanceId: "gone" } });
    const migrated = await admin(UPDATE, { id, input: { path: to }, migration: "ARTIFACTS_MOVED" });
    expect(migrated.errors).toBeUndefined();
    expect(migrated.data!.updateStorageTarget.path).toBe(to);
    // Records of writes to the old directory mean nothing in the new one.
    expect(await t.db.prisma.storageUpload.count({ where: { storageTargetId: id } })).toBe(0);
  });

  it.each([
    ["bucket", { bucket: "other-bucket" }],
    ["prefix", { prefix: "elsewhere" }],
    ["endpoint", { endpoint: "http://127.0.0.1:9999" }],
    ["kind", { kind: "LOCAL", path: "/srv/somewhere" }],
  ])("refuses to change the %s of an S3 target that holds artifacts", async (field, input) => {
    const id = await createTarget({ name: `s3-${field}`, kind: "S3", bucket: "sqlguard-b", prefix: "prod", endpoint: "http://127.0.0.1:9000" });
    await artifactOn(id, "srv/db/x.sql.zst");
    const r = await admin(UPDATE, { id, input });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", field });
    expect(r.errors?.[0]?.message).toMatch(new RegExp(`^${field}: storage target s3-${field} holds 1 backup artifact`));
    // Unchanged location fields (null and "" alike) and other settings may change.
    const ok = await admin(UPDATE, { id, input: { bucket: "sqlguard-b", prefix: "prod/", region: "eu-west-1", enabled: false } });
    expect(ok.errors).toBeUndefined();
  });

  it("re-points a target without artifacts freely, and never one that is being written to", async () => {
    const id = await createTarget({ name: "empty-s3", kind: "S3", bucket: "sqlguard-c" });
    const free = await admin(UPDATE, { id, input: { bucket: "sqlguard-d", prefix: "p", endpoint: "http://127.0.0.1:9000" } });
    expect(free.errors).toBeUndefined();
    await artifactOn(id, "srv/db/running.sql.zst", "PENDING");
    const r = await admin(UPDATE, { id, input: { bucket: "sqlguard-e" }, migration: "ARTIFACTS_MOVED" });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", field: "bucket" });
    expect(r.errors?.[0]?.message).toBe("bucket: 1 backup(s) are being written to storage target empty-s3; wait until they finish before re-pointing it");
  });
});

describe("cleanup at start", () => {
  // Before: every *.partial under a target older than the cut-off was deleted, at any depth,
  // including files SQLGuard never wrote.
  it("removes only the partial files the upload journal recorded for dead writers", async () => {
    const local = await t.db.prisma.storageTarget.findUniqueOrThrow({ where: { name: "local" } });
    const dir = path.join(local.path!, "srv", "db");
    const old = new Date(Date.now() - 3_600_000);
    for (const name of ["foreign.sql.partial", "dead.sql.zst.partial", "peer.sql.zst.partial"]) await writeFile(path.join(dir, name), "x");
    for (const name of ["foreign.sql.partial", "dead.sql.zst.partial"]) await fs.utimes(path.join(dir, name), old, old);
    await t.db.prisma.storageUpload.createMany({
      data: [
        { storageTargetId: local.id, key: "srv/db/dead.sql.zst", instanceId: "crashed-peer", startedAt: old, heartbeatAt: old },
        { storageTargetId: local.id, key: "srv/db/peer.sql.zst", instanceId: "running-peer", startedAt: old, heartbeatAt: new Date() },
      ],
    });
    await t.runner.removeStalePartials(new Date(Date.now() - 120_000));
    expect((await fs.readdir(dir)).sort()).toEqual(["foreign.sql.partial", "peer.sql.zst.partial"]);
    expect((await t.db.prisma.storageUpload.findMany({ where: { storageTargetId: Number(local.id) } })).map((r) => r.key)).toEqual(["srv/db/peer.sql.zst"]);
  });
});
