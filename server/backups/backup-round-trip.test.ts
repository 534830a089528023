import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3rver } from "../testing/s3rver.ts";
import { createTestApp } from "../testing/test-app.ts";
import { createServer, createTarget, dataOf, runBackup, sha256File, waitForBackup, type BackupView } from "../testing/backup-helpers.ts";
import {
  createMariadbSample,
  createPgSample,
  dropMariadbDatabase,
  dropPgDatabase,
  mariadbExec,
  mariadbFingerprint,
  pgExec,
  pgFingerprint,
  POSTGRES,
  restoreWith,
  uniqueName,
} from "../testing/sample-databases.ts";

/**
 * The engine end to end on the real servers here: real dump programs, zstd, a local directory and
 * s3rver in one run, each artifact restored with the standard clients and compared with its source.
 */
describe("backup round trips", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let httpServer: http.Server;
  let baseUrl: string;
  let operator: Awaited<ReturnType<typeof app.as>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let localDir: string;
  let localId: number;
  let s3Id: number;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-rt-"));
  const mariaDbs: string[] = [];
  const pgDbs: string[] = [];

  beforeAll(async () => {
    app = await createTestApp();
    s3 = await startS3rver();
    httpServer = http.createServer(app.app.handle).listen(0, "127.0.0.1");
    await new Promise((r) => httpServer.once("listening", r));
    baseUrl = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
    admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    localDir = path.join(work, "local");
    localId = await createTarget(admin, { name: "rt-local", kind: "LOCAL", path: localDir });
    s3Id = await createTarget(admin, {
      name: "rt-s3",
      kind: "S3",
      bucket: s3.bucket,
      region: "us-east-1",
      endpoint: s3.endpoint,
      prefix: "team/prod",
      forcePathStyle: true,
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
    });
  });

  afterAll(async () => {
    httpServer?.close();
    await app?.close();
    await s3?.stop();
    for (const db of mariaDbs) await dropMariadbDatabase(db);
    for (const db of pgDbs) await dropPgDatabase(db);
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** Downloads an artifact through the HTTP endpoint as the operator would. */
  async function download(backupId: number, targetId: number, file: string): Promise<Response> {
    const token = (
      await app.services.auth.createApiToken(
        { userId: 1, username: "admin", role: "ADMIN", via: "session" },
        { name: `dl-${backupId}-${targetId}`, role: "OPERATOR" },
      )
    ).token;
    const response = await fetch(`${baseUrl}/api/backups/${backupId}/download?storageTargetId=${targetId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    await pipeline(response.body as unknown as NodeJS.ReadableStream, fs.createWriteStream(file));
    return response;
  }

  async function manifestOf(key: string): Promise<Record<string, any>> {
    return JSON.parse(fs.readFileSync(path.join(localDir, `${key}.manifest.json`), "utf8"));
  }

  it("backs up a MariaDB database with a shell-hostile name to local and S3 at once, and both restore to equal tables", async () => {
    const source = `${uniqueName("rt")} we;ird $(x) ünï`;
    mariaDbs.push(source);
    await createMariadbSample(source);
    const serverId = await createServer(admin, { name: "maria-rt", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });

    const [created] = await runBackup(operator, { serverId, databases: [source], storageTargetIds: [localId, s3Id] });
    expect(created!.status).toBe("PENDING");
    const backup = await waitForBackup(operator, created!.id);
    expect(backup.error).toBeNull();
    expect(backup.status).toBe("SUCCEEDED");
    expect(backup.compression).toBe("ZSTD");
    expect(backup.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(backup.artifacts.map((a) => [a.storageTarget?.kind, a.status]).sort()).toEqual([
      ["LOCAL", "STORED"],
      ["S3", "STORED"],
    ]);
    const key = backup.artifacts[0]!.key;
    expect(key).toMatch(new RegExp(`^maria-rt/${source.replace(/[$()]/g, "\\$&")}/manual/\\d{8}T\\d{6}Z_${backup.id}\\.sql\\.zst$`));

    // The local file: checksum = record = manifest; nothing partial left.
    const localFile = path.join(localDir, key);
    expect(await sha256File(localFile)).toBe(backup.sha256);
    expect(fs.statSync(localFile).size).toBe(Number(backup.storedBytes));
    const manifest = await manifestOf(key);
    expect(manifest.artifact.sha256).toBe(backup.sha256);
    expect(manifest.database).toBe(source);
    expect(manifest.server.engine).toBe("MARIADB");
    expect(JSON.stringify(manifest)).not.toMatch(/password/i);

    // The S3 copy, through the download endpoint: same bytes.
    const s3File = path.join(work, "from-s3.sql.zst");
    const response = await download(backup.id, s3Id, s3File);
    expect(response.headers.get("content-type")).toBe("application/zstd");
    expect(response.headers.get("content-disposition")).toContain(`_${backup.id}.sql.zst`);
    expect(await sha256File(s3File)).toBe(backup.sha256);

    const expected = await mariadbFingerprint(source);
    expect(Object.keys(expected.checksums).sort()).toEqual(["audit", "customers", "empty_table", "files"]);
    for (const [label, file] of [
      ["local", localFile],
      ["s3", s3File],
    ] as const) {
      const restored = uniqueName(`restored_${label}`);
      mariaDbs.push(restored);
      await mariadbExec([`CREATE DATABASE ${restored}`]);
      await restoreWith(file, ["zstd", "-d", "-c"], ["mariadb", "-h", "127.0.0.1", "-u", "root", restored]);
      expect(await mariadbFingerprint(restored)).toEqual(expected);
    }
  });

  it("backs up PostgreSQL in plain and custom formats, and each restores with psql / pg_restore to equal rows", async () => {
    const source = uniqueName("pgrt");
    pgDbs.push(source);
    await createPgSample(source);
    const plainServer = await createServer(admin, { name: "pg-plain", engine: "POSTGRESQL", host: "127.0.0.1", port: 5432, username: POSTGRES.user });
    const customProfile = dataOf(
      await admin(`mutation { createDumpOptions(input: { name: "pg-custom", pgFormat: CUSTOM, compression: GZIP, noOwner: true }) { id } }`),
    ) as { createDumpOptions: { id: number } };
    const customServer = await createServer(admin, {
      name: "pg-custom",
      engine: "POSTGRESQL",
      host: "127.0.0.1",
      port: 5432,
      username: POSTGRES.user,
      dumpOptionsId: customProfile.createDumpOptions.id,
    });
    const [plain] = await runBackup(operator, { serverId: plainServer, databases: [source], storageTargetIds: [localId, s3Id] });
    const [custom] = await runBackup(operator, { serverId: customServer, databases: [source], storageTargetIds: [localId] });
    const done: BackupView[] = [await waitForBackup(operator, plain!.id), await waitForBackup(operator, custom!.id)];
    for (const b of done) {
      expect(b.error).toBeNull();
      expect(b.status).toBe("SUCCEEDED");
    }
    expect(done[1]!.artifacts[0]!.key).toMatch(/\.dump\.gz$/);
    expect(done[1]!.compression).toBe("GZIP");

    const expected = await pgFingerprint(source);
    expect(expected.items).toMatch(/^300:/);
    const restore = async (label: string, file: string, decompress: string[], client: (db: string) => string[]) => {
      const restored = uniqueName(label);
      pgDbs.push(restored);
      await pgExec([`CREATE DATABASE ${restored}`]);
      await restoreWith(file, decompress, client(restored), { PGHOST: POSTGRES.host, PGUSER: POSTGRES.user });
      expect(await pgFingerprint(restored)).toEqual(expected);
    };
    const plainLocal = path.join(localDir, done[0]!.artifacts[0]!.key);
    expect(await sha256File(plainLocal)).toBe(done[0]!.sha256);
    await restore("pg_plain", plainLocal, ["zstd", "-d", "-c"], (db) => ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-d", db]);
    const plainS3 = path.join(work, "pg-from-s3.sql.zst");
    await download(done[0]!.id, s3Id, plainS3);
    expect(await sha256File(plainS3)).toBe(done[0]!.sha256);
    const customLocal = path.join(localDir, done[1]!.artifacts[0]!.key);
    expect(await sha256File(customLocal)).toBe(done[1]!.sha256);
    expect((await manifestOf(done[1]!.artifacts[0]!.key)).artifact.sha256).toBe(done[1]!.sha256);
    await restore("pg_custom", customLocal, ["gzip", "-d", "-c"], (db) => ["pg_restore", "--exit-on-error", "--no-owner", "-d", db]);
  });

  it("guards the download endpoint: 401 without credentials, 403 for a viewer, 400 for a target without the artifact", async () => {
    const backup = await app.db.prisma.backup.findFirstOrThrow({ where: { status: "SUCCEEDED" }, include: { artifacts: true } });
    const url = `${baseUrl}/api/backups/${backup.id}/download`;
    expect((await fetch(url)).status).toBe(401);
    const viewerToken = (
      await app.services.auth.createApiToken({ userId: 1, username: "admin", role: "ADMIN", via: "session" }, { name: "dl-viewer", role: "VIEWER" })
    ).token;
    const asViewer = await fetch(url, { headers: { authorization: `Bearer ${viewerToken}` } });
    expect(asViewer.status).toBe(403);
    expect(await asViewer.json()).toMatchObject({ error: expect.stringContaining("operator") });
    const operatorToken = (
      await app.services.auth.createApiToken({ userId: 1, username: "admin", role: "ADMIN", via: "session" }, { name: "dl-op", role: "OPERATOR" })
    ).token;
    const wrongTarget = await fetch(`${url}?storageTargetId=99999`, { headers: { authorization: `Bearer ${operatorToken}` } });
    expect(wrongTarget.status).toBe(400);
    expect((await fetch(`${baseUrl}/api/backups/99999/download`, { headers: { authorization: `Bearer ${operatorToken}` } })).status).toBe(404);

    // The manifest beside the artifact: JSON naming the artifact's SHA-256; a bad `file` is named.
    const auth = { authorization: `Bearer ${operatorToken}` };
    const manifest = await fetch(`${url}?file=manifest`, { headers: auth });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get("content-type")).toBe("application/json");
    expect(manifest.headers.get("content-disposition")).toMatch(/\.manifest\.json"/);
    expect(JSON.stringify(await manifest.json())).toContain(backup.sha256!);
    const badFile = await fetch(`${url}?file=secrets`, { headers: auth });
    expect(badFile.status).toBe(400);
    expect(await badFile.json()).toMatchObject({ error: "file: must be artifact or manifest" });
    expect((await fetch(`${url}?file=manifest`, { headers: { authorization: `Bearer ${viewerToken}` } })).status).toBe(403);
  });

  it("picks up a database created after the server was registered", async () => {
    const first = uniqueName("disc_a");
    const later = uniqueName("disc_b");
    mariaDbs.push(first, later);
    await mariadbExec([`CREATE DATABASE ${first}`, `CREATE TABLE ${first}.t (id INT PRIMARY KEY)`]);
    const serverId = await createServer(admin, {
      name: "maria-disc",
      engine: "MARIADB",
      host: "127.0.0.1",
      username: "root",
      includeDatabases: ["sqlg_disc_*"],
    });
    const probe = dataOf(await operator(`mutation($id: ID!) { testServerConnection(id: $id) { ok version databases error } }`, { id: serverId })) as {
      testServerConnection: { ok: boolean; version: string; databases: string[] };
    };
    expect(probe.testServerConnection.ok).toBe(true);
    expect(probe.testServerConnection.version).toMatch(/MariaDB/i);
    expect(probe.testServerConnection.databases).toContain(first);
    expect(probe.testServerConnection.databases).not.toContain(later);

    await mariadbExec([`CREATE DATABASE ${later}`, `CREATE TABLE ${later}.t (id INT PRIMARY KEY)`]);
    const runs = await runBackup(operator, { serverId, storageTargetIds: [localId] });
    expect(runs.map((r) => r.database)).toEqual(expect.arrayContaining([first, later]));
    for (const r of runs) expect((await waitForBackup(operator, r.id)).status).toBe("SUCCEEDED");
    // The manual run is audited with names: who, which server and databases, which backups.
    const audit = await app.db.prisma.auditLog.findFirst({ where: { action: "backup.run", entityId: String(serverId) }, orderBy: { id: "desc" } });
    expect(audit?.actor).toMatch(/\S/);
    expect(audit?.after).toMatchObject({ server: "maria-disc", backupIds: runs.map((r) => Number(r.id)), storageTargetIds: [localId] });
    expect((audit!.after as { databases: string[] }).databases).toEqual(expect.arrayContaining([first, later]));
  });

  it("deletes a backup from every target for an admin only, keeping its record as DELETED", async () => {
    const backup = await app.db.prisma.backup.findFirstOrThrow({
      where: { status: "SUCCEEDED", artifacts: { some: { storageTargetId: s3Id } } },
      include: { artifacts: true },
    });
    const key = backup.artifacts[0]!.key;
    expect(fs.existsSync(path.join(localDir, key))).toBe(true);
    const forbidden = await operator(`mutation($id: ID!) { deleteBackup(id: $id) { id } }`, { id: backup.id });
    expect(forbidden.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const { deleteBackup } = dataOf(await admin(`mutation($id: ID!) { deleteBackup(id: $id) { status artifacts { status } } }`, { id: backup.id })) as {
      deleteBackup: { status: string; artifacts: Array<{ status: string }> };
    };
    expect(deleteBackup).toEqual({ status: "DELETED", artifacts: [{ status: "DELETED" }, { status: "DELETED" }] });
    expect(fs.existsSync(path.join(localDir, key))).toBe(false);
    expect(fs.existsSync(path.join(localDir, `${key}.manifest.json`))).toBe(false);
    const target = await app.db.prisma.storageTarget.findUniqueOrThrow({ where: { id: s3Id } });
    const { createStore } = await import("../storage/create-store.ts");
    const { SecretBox } = await import("../secrets/secret-box.ts");
    const s3Store = createStore(target, new SecretBox(app.secretKey));
    expect(await s3Store.head(key)).toBeNull();
    expect(await s3Store.head(`${key}.manifest.json`)).toBeNull();
    const audit = await app.db.prisma.auditLog.findFirst({ where: { action: "backup.delete", entityId: String(backup.id) } });
    expect(audit?.actor).toBe("test-admin (token test ADMIN)");
  });

  it("tests storage targets: a working one passes, an unreachable one explains why", async () => {
    const ok = dataOf(await operator(`mutation($id: ID!) { testStorageTarget(id: $id) { ok latencyMs error } }`, { id: s3Id })) as {
      testStorageTarget: { ok: boolean; error: string | null };
    };
    expect(ok.testStorageTarget).toMatchObject({ ok: true, error: null });
    const badId = await createTarget(admin, {
      name: "rt-bad-s3",
      kind: "S3",
      bucket: "nope",
      region: "us-east-1",
      endpoint: "http://127.0.0.1:1",
      forcePathStyle: true,
      accessKeyId: "a",
      secretAccessKey: "verysecretkey",
    });
    const bad = dataOf(await operator(`mutation($id: ID!) { testStorageTarget(id: $id) { ok error } }`, { id: badId })) as {
      testStorageTarget: { ok: boolean; error: string };
    };
    expect(bad.testStorageTarget.ok).toBe(false);
    expect(bad.testStorageTarget.error).toMatch(/write/i);
    expect(bad.testStorageTarget.error).not.toContain("verysecretkey");
  });
});
