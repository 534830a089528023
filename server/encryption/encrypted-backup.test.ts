import { execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Store } from "../storage/s3-store.ts";
import { createServer, createTarget, dataOf, runBackup, sha256File, waitForBackup } from "../testing/backup-helpers.ts";
import { startS3rver } from "../testing/s3rver.ts";
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
  uniqueName,
} from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";
import { flipByte } from "../restore/testing/restore-helpers.ts";
import { encodeIdentity, fingerprintOf } from "./age-keys.ts";

const AGE_FIELDS = `id status sha256 storedBytes encryption error artifacts { id status key sizeBytes encryptionKeyIds storageTarget { id kind } }`;
type EncryptedBackup = {
  id: number;
  status: string;
  sha256: string;
  storedBytes: string;
  encryption: string;
  error: string | null;
  artifacts: Array<{ id: number; status: string; key: string; sizeBytes: string; encryptionKeyIds: number[]; storageTarget: { id: number; kind: string } }>;
};
type KeyView = { id: number; kind: string; label: string; recipient: string; fingerprint: string; artifactCount: number; backupCount: number };

/**
 * Encrypted backups end to end on the real servers here: real dumps, zstd/gzip, age encryption in
 * the stream, a local directory and s3rver; each artifact decrypted with Debian's `age -d` (the
 * recovery identity, and the instance key's), restored with the standard clients and compared
 * with its source; verification checks the encrypted bytes without any key.
 */
describe("encrypted backups", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let s3Store: S3Store;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let operator: Awaited<ReturnType<typeof app.as>>;
  let localDir: string;
  let localId: number;
  let s3Id: number;
  let recoveryFile: string;
  let recoveryRecipient: string;
  /** The identity file of a recovery key new backups are encrypted to (changes when one is retired). */
  let currentRecovery: string;
  let keys: KeyView[];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-age-"));
  const mariaDbs: string[] = [];
  const pgDbs: string[] = [];

  beforeAll(async () => {
    app = await createTestApp();
    s3 = await startS3rver();
    admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    localDir = path.join(work, "local");
    localId = await createTarget(admin, { name: "age-local", kind: "LOCAL", path: localDir });
    const s3Settings = {
      bucket: s3.bucket,
      region: "us-east-1",
      endpoint: s3.endpoint,
      forcePathStyle: true,
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
    };
    s3Id = await createTarget(admin, { name: "age-s3", kind: "S3", prefix: "enc", ...s3Settings });
    s3Store = new S3Store({ ...s3Settings, prefix: "enc" });
    // A recovery key made the way a user would, with age-keygen; only its public half reaches SQLGuard.
    recoveryFile = path.join(work, "recovery.txt");
    execFileSync("age-keygen", ["-o", recoveryFile], { stdio: "pipe" });
    recoveryRecipient = /public key: (age1\w+)/.exec(fs.readFileSync(recoveryFile, "utf8"))![1]!;
    currentRecovery = recoveryFile;
    dataOf(
      await admin(`mutation($input: AddRecoveryRecipientInput!) { addRecoveryRecipient(input: $input) { id } }`, {
        input: { label: "safe deposit box", recipient: recoveryRecipient },
      }),
    );
    keys = (dataOf(await admin(`{ encryptionKeys { id kind label recipient fingerprint artifactCount backupCount } }`)) as { encryptionKeys: KeyView[] })
      .encryptionKeys;
  });

  afterAll(async () => {
    await app?.close();
    await s3?.stop();
    for (const db of mariaDbs) await dropMariadbDatabase(db);
    for (const db of pgDbs) await dropPgDatabase(db);
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function profile(name: string, fields: string): Promise<number> {
    const r = dataOf(await admin(`mutation { createDumpOptions(input: { name: "${name}", encryption: AGE, ${fields} }) { id encryption } }`)) as {
      createDumpOptions: { id: number; encryption: string };
    };
    expect(r.createDumpOptions.encryption).toBe("AGE");
    return r.createDumpOptions.id;
  }

  async function backup(serverId: number, database: string, targets: number[]): Promise<EncryptedBackup> {
    const [b] = await runBackup(operator, { serverId, databases: [database], storageTargetIds: targets });
    const done = await waitForBackup(operator, b!.id);
    expect(done.error).toBeNull();
    expect(done.status).toBe("SUCCEEDED");
    return (dataOf(await operator(`query($id: ID!) { backup(id: $id) { ${AGE_FIELDS} } }`, { id: b!.id })) as { backup: EncryptedBackup }).backup;
  }

  async function fromS3(key: string, file: string): Promise<string> {
    fs.writeFileSync(file, await buffer(await s3Store.get(key)));
    return file;
  }

  /** `age -d -i identity < file | decompress | client`, as a user with no SQLGuard would. */
  function restoreDecrypted(file: string, identity: string, decompress: string[], client: string[], env: Record<string, string> = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      const age = spawn("age", ["-d", "-i", identity, file], { stdio: ["ignore", "pipe", "pipe"] });
      const unpack = spawn(decompress[0]!, decompress.slice(1), { stdio: ["pipe", "pipe", "inherit"] });
      const sink = spawn(client[0]!, client.slice(1), { stdio: ["pipe", "ignore", "pipe"], env: { ...process.env, ...env } });
      age.stdout.pipe(unpack.stdin);
      unpack.stdout.pipe(sink.stdin);
      let stderr = "";
      age.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      sink.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      let ageCode: number | null = null;
      age.on("close", (code) => (ageCode = code));
      sink.on("close", (code) => (code === 0 && ageCode === 0 ? resolve() : reject(new Error(`age ${ageCode}, ${client[0]} ${code}: ${stderr}`))));
    });
  }

  function instanceIdentityFile(): Promise<string> {
    return app.services.encryptionKeys.identities().then((held) => {
      expect(held.map((h) => h.id)).toEqual([Number(keys.find((k) => k.kind === "INSTANCE")!.id)]);
      const file = path.join(work, "instance.txt");
      fs.writeFileSync(file, `${encodeIdentity(held[0]!.identity)}\n`, { mode: 0o600 });
      return file;
    });
  }

  it("lists the instance key (made on first use) and the recovery recipient, with fingerprints", () => {
    expect(keys.map((k) => [k.kind, k.label, k.backupCount])).toEqual([
      ["INSTANCE", "instance key", 0],
      ["RECOVERY", "safe deposit box", 0],
    ]);
    expect(keys[1]!.recipient).toBe(recoveryRecipient);
    for (const k of keys) expect(k.fingerprint).toBe(fingerprintOf(k.recipient));
  });

  it("encrypts a MariaDB backup on local and S3 targets; age -d with the recovery or instance identity restores equal tables", async () => {
    const source = uniqueName("agem");
    mariaDbs.push(source);
    await createMariadbSample(source);
    const serverId = await createServer(admin, {
      name: "maria-age",
      engine: "MARIADB",
      host: "127.0.0.1",
      port: 3306,
      username: "root",
      dumpOptionsId: await profile("maria-age", "compression: ZSTD"),
    });
    const b = await backup(serverId, source, [localId, s3Id]);
    expect(b.encryption).toBe("AGE");
    const key = b.artifacts[0]!.key;
    expect(key).toMatch(new RegExp(`_${b.id}\\.sql\\.zst\\.age$`));
    expect(b.artifacts.map((a) => a.key)).toEqual([key, key]);
    // Every copy opens with the instance key and the recovery recipient, and the list counts it.
    const byId = (ids: number[]) => [...ids].sort((x, y) => x - y);
    for (const a of b.artifacts) expect(a.encryptionKeyIds).toEqual(byId(keys.map((k) => k.id)));
    const counted = (dataOf(await admin(`{ encryptionKeys { id artifactCount backupCount } }`)) as { encryptionKeys: KeyView[] }).encryptionKeys;
    expect(counted.map((k) => [k.artifactCount, k.backupCount])).toEqual([
      [2, 1],
      [2, 1],
    ]);

    const localFile = path.join(localDir, key);
    const s3File = await fromS3(key, path.join(work, "maria-from-s3.sql.zst.age"));
    for (const file of [localFile, s3File]) {
      expect(fs.readFileSync(file).subarray(0, 22).toString()).toBe("age-encryption.org/v1\n");
      // The checksum is over the stored (encrypted) bytes: verification needs no key.
      expect(await sha256File(file)).toBe(b.sha256);
      expect(fs.statSync(file).size).toBe(Number(b.storedBytes));
    }
    // Downloads hand out the stored, encrypted bytes.
    const download = await app.services.backups.openArtifact({ userId: 1, username: "admin", role: "ADMIN", via: "session" }, Number(b.id), s3Id);
    expect(download).toMatchObject({ contentType: "application/octet-stream", fileName: key.split("/").pop(), bytes: Number(b.storedBytes) });
    expect(
      crypto
        .createHash("sha256")
        .update(await buffer(download.body))
        .digest("hex"),
    ).toBe(b.sha256);
    // zstd cannot read it as it is: it really is encrypted.
    expect(() => execFileSync("zstd", ["-t", localFile], { stdio: "pipe" })).toThrow();

    const manifestText = fs.readFileSync(`${localFile}.manifest.json`, "utf8");
    const manifest = JSON.parse(manifestText);
    expect(manifest.artifact.sha256).toBe(b.sha256);
    expect(manifest.encryption.format).toBe("age-v1");
    expect(manifest.encryption.recipients.map((r: { fingerprint: string }) => r.fingerprint)).toEqual(keys.map((k) => k.fingerprint));
    expect(manifest.restore).toMatch(/^age -d -i <identity file> <artifact> \| zstd -dc \| mariadb <database>/);
    expect(manifestText).not.toMatch(/AGE-SECRET-KEY|identity"|v1:[A-Za-z0-9+/]{20}/);

    const expected = await mariadbFingerprint(source);
    const instanceFile = await instanceIdentityFile();
    for (const [label, file, identity] of [
      ["local_recovery", localFile, recoveryFile],
      ["s3_recovery", s3File, recoveryFile],
      ["local_instance", localFile, instanceFile],
    ] as const) {
      const restored = uniqueName(label);
      mariaDbs.push(restored);
      await mariadbExec([`CREATE DATABASE ${restored}`]);
      await restoreDecrypted(file, identity, ["zstd", "-d", "-c"], ["mariadb", "-h", "127.0.0.1", "-u", "root", restored]);
      expect(await mariadbFingerprint(restored)).toEqual(expected);
    }
  });

  it("encrypts PostgreSQL plain (zstd, on S3) and custom (gzip) backups; psql and pg_restore restore them after age -d", async () => {
    const source = uniqueName("agep");
    pgDbs.push(source);
    await createPgSample(source);
    const pg = { engine: "POSTGRESQL", host: "127.0.0.1", port: 5432, username: POSTGRES.user };
    const plainServer = await createServer(admin, { name: "pg-age-plain", ...pg, dumpOptionsId: await profile("pg-age-plain", "compression: ZSTD") });
    const customServer = await createServer(admin, {
      name: "pg-age-custom",
      ...pg,
      dumpOptionsId: await profile("pg-age-custom", "pgFormat: CUSTOM, compression: GZIP, noOwner: true"),
    });
    const plain = await backup(plainServer, source, [s3Id]);
    const custom = await backup(customServer, source, [localId]);
    expect(plain.artifacts[0]!.key).toMatch(/\.sql\.zst\.age$/);
    expect(custom.artifacts[0]!.key).toMatch(/\.dump\.gz\.age$/);
    const customManifest = JSON.parse(fs.readFileSync(path.join(localDir, `${custom.artifacts[0]!.key}.manifest.json`), "utf8"));
    expect(customManifest.restore).toMatch(/^age -d -i <identity file> <artifact> \| gzip -dc \| pg_restore --no-owner --dbname <database>/);

    const expected = await pgFingerprint(source);
    expect(expected.items).toMatch(/^300:/);
    const env = { PGHOST: POSTGRES.host, PGUSER: POSTGRES.user };
    const plainFile = await fromS3(plain.artifacts[0]!.key, path.join(work, "pg-plain.sql.zst.age"));
    expect(await sha256File(plainFile)).toBe(plain.sha256);
    const customFile = path.join(localDir, custom.artifacts[0]!.key);
    expect(await sha256File(customFile)).toBe(custom.sha256);
    for (const [label, file, decompress, client] of [
      ["pg_plain", plainFile, ["zstd", "-d", "-c"], (db: string) => ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-d", db]],
      ["pg_custom", customFile, ["gzip", "-d", "-c"], (db: string) => ["pg_restore", "--exit-on-error", "--no-owner", "-d", db]],
    ] as const) {
      const restored = uniqueName(label);
      pgDbs.push(restored);
      await pgExec([`CREATE DATABASE ${restored}`]);
      await restoreDecrypted(file, recoveryFile, [...decompress], client(restored), env);
      expect(await pgFingerprint(restored)).toEqual(expected);
    }
  });

  it("encrypts a PARALLEL (pg_dump -Fd -j) backup as one .tar.zst.age; age -d | zstd -dc | tar -x, then pg_restore -j restores equal rows", async () => {
    const source = uniqueName("agepar");
    pgDbs.push(source);
    await createPgSample(source);
    const serverId = await createServer(admin, {
      name: "pg-age-parallel",
      engine: "POSTGRESQL",
      host: "127.0.0.1",
      port: 5432,
      username: POSTGRES.user,
      dumpOptionsId: await profile("pg-age-parallel", "engine: PARALLEL, threads: 2"),
    });
    const b = await backup(serverId, source, [localId]);
    const key = b.artifacts[0]!.key;
    expect(key).toMatch(new RegExp(`_${b.id}\\.tar\\.zst\\.age$`));
    const file = path.join(localDir, key);
    expect(fs.readFileSync(file).subarray(0, 22).toString()).toBe("age-encryption.org/v1\n");
    expect(await sha256File(file)).toBe(b.sha256);
    const manifest = JSON.parse(fs.readFileSync(`${file}.manifest.json`, "utf8"));
    expect(manifest.dump.format).toBe("tar");
    expect(manifest.encryption.format).toBe("age-v1");
    const unpacked = fs.mkdtempSync(path.join(work, "unpacked-"));
    execFileSync("bash", ["-c", 'set -o pipefail; age -d -i "$1" "$2" | zstd -dc | tar -xf - -C "$3"', "_", recoveryFile, file, unpacked]);
    expect(fs.existsSync(path.join(unpacked, "toc.dat"))).toBe(true);
    const restored = uniqueName("pg_par");
    pgDbs.push(restored);
    await pgExec([`CREATE DATABASE ${restored}`]);
    execFileSync("pg_restore", ["--no-owner", "--exit-on-error", "--jobs=2", "-h", POSTGRES.host, "-U", POSTGRES.user, "-d", restored, unpacked], {
      stdio: "pipe",
    });
    expect(await pgFingerprint(restored)).toEqual(await pgFingerprint(source));
  });

  it("a retired recovery recipient is left out of the next backup at once; its older artifacts still count on it", async () => {
    const source = uniqueName("ager");
    mariaDbs.push(source);
    await createMariadbSample(source, { rows: 20 });
    const serverId = (await app.db.prisma.server.findFirstOrThrow({ where: { name: "maria-age" } })).id;
    const recovery = keys.find((k) => k.kind === "RECOVERY")!;
    // A second recovery key, so that retiring the first still leaves two.
    const second = path.join(work, "second.txt");
    execFileSync("age-keygen", ["-o", second], { stdio: "pipe" });
    const secondRecipient = /public key: (age1\w+)/.exec(fs.readFileSync(second, "utf8"))![1]!;
    const added = dataOf(
      await admin(`mutation($input: AddRecoveryRecipientInput!) { addRecoveryRecipient(input: $input) { id kind } }`, {
        input: { label: "second", recipient: secondRecipient },
      }),
    ) as { addRecoveryRecipient: { id: number; kind: string } };
    const countOf = async (id: number) =>
      (
        dataOf(await admin(`{ encryptionKeys { id backupCount retiredAt } }`)) as { encryptionKeys: Array<KeyView & { retiredAt: string | null }> }
      ).encryptionKeys.find((k) => k.id === id)!;
    const before = await countOf(recovery.id);
    expect(before.backupCount).toBeGreaterThan(0);
    dataOf(await admin(`mutation($id: ID!) { retireEncryptionKey(id: $id) { id retiredAt } }`, { id: recovery.id }));
    const b = await backup(serverId, source, [localId]);
    const instance = keys.find((k) => k.kind === "INSTANCE")!;
    expect(b.artifacts[0]!.encryptionKeyIds).toEqual([instance.id, added.addRecoveryRecipient.id].sort((x, y) => x - y));
    const file = path.join(localDir, b.artifacts[0]!.key);
    // The new key opens it; the retired one does not (age says so, and exits non-zero).
    expect(spawnStatus("age", ["-d", "-i", second, "-o", "/dev/null", file])).toBe(0);
    expect(spawnStatus("age", ["-d", "-i", recoveryFile, "-o", "/dev/null", file])).not.toBe(0);
    currentRecovery = second;
    const manifest = JSON.parse(fs.readFileSync(`${file}.manifest.json`, "utf8"));
    expect(manifest.encryption.recipients.map((r: { keyId: number }) => r.keyId)).toEqual([Number(instance.id), Number(added.addRecoveryRecipient.id)]);
    const retired = await countOf(recovery.id);
    expect(retired.retiredAt).not.toBeNull();
    expect(retired.backupCount).toBe(before.backupCount);
    expect((await countOf(added.addRecoveryRecipient.id)).backupCount).toBe(1);
  });

  it("repairBackup copies a checksum-verified encrypted copy back over a corrupt one; it opens with the same keys", async () => {
    const source = uniqueName("agerep");
    mariaDbs.push(source);
    await createMariadbSample(source, { rows: 30 });
    const serverId = (await app.db.prisma.server.findFirstOrThrow({ where: { name: "maria-age" } })).id;
    const b = await backup(serverId, source, [localId, s3Id]);
    const localFile = path.join(localDir, b.artifacts[0]!.key);
    flipByte(localFile);
    dataOf(await operator(`mutation($id: ID!) { verifyBackup(id: $id) { id } }`, { id: b.id }));
    const repaired = dataOf(await operator(`mutation($id: ID!) { repairBackup(id: $id) { repaired failed { target error } } }`, { id: b.id })) as {
      repairBackup: { repaired: string[]; failed: unknown[] };
    };
    expect(repaired.repairBackup).toEqual({ repaired: ["age-local"], failed: [] });
    expect(await sha256File(localFile)).toBe(b.sha256);
    expect(spawnStatus("age", ["-d", "-i", currentRecovery, "-o", "/dev/null", localFile])).toBe(0);
    const after = (dataOf(await operator(`query($id: ID!) { backup(id: $id) { ${AGE_FIELDS} } }`, { id: b.id })) as { backup: EncryptedBackup }).backup;
    expect(after.artifacts.map((a) => [a.status, a.encryptionKeyIds])).toEqual(b.artifacts.map((a) => ["STORED", a.encryptionKeyIds]));
  });

  it("verification passes an encrypted copy without any key, and finds a bit-flipped or truncated copy corrupt", async () => {
    const source = uniqueName("agev");
    mariaDbs.push(source);
    await createMariadbSample(source, { rows: 50 });
    const serverId = (await app.db.prisma.server.findFirstOrThrow({ where: { name: "maria-age" } })).id;
    const b = await backup(serverId, source, [localId, s3Id]);
    // No identity anywhere in the metadata: verification reads only the stored bytes.
    await app.db.prisma.encryptionKey.updateMany({ data: { identityEnc: null } });
    expect(await app.services.encryptionKeys.identities()).toEqual([]);
    type Verified = { artifacts: Array<{ status: string; verifyResult: string; verifyDetail: string | null; storageTarget: { id: number } }> };
    const verify = async () =>
      (
        dataOf(
          await operator(`mutation($id: ID!) { verifyBackup(id: $id) { artifacts { status verifyResult verifyDetail storageTarget { id } } } }`, { id: b.id }),
        ) as {
          verifyBackup: Verified;
        }
      ).verifyBackup.artifacts;
    expect((await verify()).map((a) => a.verifyResult)).toEqual(["OK", "OK"]);
    const key = b.artifacts[0]!.key;
    const localFile = path.join(localDir, key);
    expect(spawnStatus("age", ["-d", "-i", currentRecovery, "-o", "/dev/null", localFile])).toBe(0);

    flipByte(localFile);
    const whole = await buffer(await s3Store.get(key));
    await s3Store.put(key, Readable.from([whole.subarray(0, whole.length - 1000)]));
    const damaged = await verify();
    for (const a of damaged) expect(a).toMatchObject({ status: "CORRUPT", verifyResult: "CORRUPT", verifyDetail: expect.stringMatching(/checksum mismatch/) });
    // age refuses both, too.
    expect(spawnStatus("age", ["-d", "-i", currentRecovery, "-o", "/dev/null", localFile])).not.toBe(0);
    const truncated = await fromS3(key, path.join(work, "truncated.age"));
    expect(spawnStatus("age", ["-d", "-i", currentRecovery, "-o", "/dev/null", truncated])).not.toBe(0);
  });
});

function spawnStatus(command: string, args: string[]): number | null {
  try {
    execFileSync(command, args, { stdio: "pipe" });
    return 0;
  } catch (error) {
    return (error as { status: number | null }).status;
  }
}
