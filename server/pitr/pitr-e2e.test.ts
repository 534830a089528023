import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../db/connection.ts";
import { LocalStore } from "../storage/local-store.ts";
import { createServer, createTarget, dataOf, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { startPrivateMariadb, type PrivateMariadb } from "../testing/private-mariadb.ts";
import { createTestApp } from "../testing/test-app.ts";
import { memoryLogger } from "../testing/test-db.ts";
import { requestRestore, waitForRestore, type RestoreView } from "../restore/testing/restore-helpers.ts";
import { ServerPitr } from "./pitr-supervisor.ts";
import { runRestoreCommand } from "../cli/cli-restore.ts";
import { trimBinlogArchives } from "../retention/binlog-trim.ts";
import { verifyArchives } from "./verify-archives.ts";
import { archiveRecipientsFrom } from "./archive-crypto.ts";

/**
 * Point-in-time recovery end to end on a private MariaDB with its binlog on (never the shared
 * one): a real dump, the real streamer and archiver onto a local directory, and restores through
 * the API replayed with mariadb-binlog | mariadb.
 */
describe("point-in-time recovery (MariaDB)", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let source: PrivateMariadb;
  let other: PrivateMariadb | null = null;
  let serverId: number;
  let targetId: number;
  let pitr: ServerPitr | null = null;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-pitr-"));
  const log = memoryLogger();
  const store = new LocalStore({ basePath: path.join(work, "archive") });
  const recoveryKey = path.join(work, "recovery.key");

  const sql = async (m: PrivateMariadb, statements: string[], database = "shop") => {
    const c = await connect({ host: "127.0.0.1", port: m.port, user: "root", database }, { withDatabase: database !== "" });
    try {
      const out: unknown[] = [];
      for (const s of statements) out.push(await c.query(s));
      return out;
    } finally {
      await c.end();
    }
  };
  /** Every row in id order and CHECKSUM TABLE: equal only for exactly the same rows. */
  const state = async (m: PrivateMariadb, database: string) => {
    const [rows, sum] = (await sql(m, ["SELECT id, v, n FROM items ORDER BY id", "CHECKSUM TABLE items"], database)) as [
      unknown[],
      Array<{ Checksum: bigint }>,
    ];
    return { rows: JSON.stringify(rows), checksum: String(sum[0]!.Checksum) };
  };
  const serverRow = () => app.db.prisma.server.findUniqueOrThrow({ where: { id: serverId } });
  const startArchiving = async () => {
    pitr = new ServerPitr(
      {
        prisma: app.db.prisma,
        logger: log.logger,
        instanceId: "pitr-test",
        spoolRoot: path.join(work, "spool"),
        connectionOf: (s) => ({ engine: s.engine, host: s.host, port: s.port, username: s.username, password: null, tls: false }),
        storeFor: () => store,
        tickMs: 250,
        archiveRecipients: archiveRecipientsFrom(app.db.prisma, app.services.encryptionKeys),
      },
      await serverRow(),
    );
    expect(await pitr.start()).toBe(true);
  };
  const stopArchiving = async () => {
    await pitr?.stop();
    pitr = null;
  };
  const status = async () =>
    (
      dataOf(
        await admin(
          `query($id: ID!) { server(id: $id) { pitr(database: "shop") { enabled rpoSeconds lagSeconds recoverableFrom recoverableTo broken brokenReason } } }`,
          {
            id: serverId,
          },
        ),
      ) as {
        server: {
          pitr: {
            enabled: boolean;
            recoverableFrom: string | null;
            recoverableTo: string | null;
            broken: boolean;
            brokenReason: string | null;
            lagSeconds: number | null;
          };
        };
      }
    ).server.pitr;
  const waitFor = async <T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; log:\n${log.lines.slice(-8).join("")}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  /** The next whole second (UTC), once it has passed: events committed before it are at T or earlier. */
  const nextSecond = async () => {
    const t = new Date(Math.ceil((Date.now() + 1) / 1000) * 1000);
    await new Promise((r) => setTimeout(r, t.getTime() - Date.now() + 20));
    return t;
  };
  const backup = async () => {
    const [b] = await runBackup(admin, { serverId, databases: ["shop"], storageTargetIds: [targetId] });
    return waitForBackup(admin, b!.id);
  };

  beforeAll(async () => {
    app = await createTestApp();
    admin = await app.as("ADMIN");
    source = await startPrivateMariadb("pitr-src", { binlog: { serverId: 11 } });
    targetId = await createTarget(admin, { name: "pitr-local", kind: "LOCAL", path: path.join(work, "archive") });
    // A recovery key whose identity only this test holds: the CLI opens encrypted archives with it.
    execFileSync("age-keygen", ["-o", recoveryKey], { stdio: "pipe" });
    const recipient = /public key: (age1\w+)/.exec(fs.readFileSync(recoveryKey, "utf8"))![1]!;
    dataOf(await admin(`mutation($r: String!) { addRecoveryRecipient(input: { label: "pitr-vault", recipient: $r }) { id } }`, { r: recipient }));
    serverId = await createServer(admin, {
      name: "maria-pitr",
      engine: "MARIADB",
      host: "127.0.0.1",
      port: source.port,
      username: "root",
      pitr: { enabled: true, rpoSeconds: 5, storageTargetIds: [String(targetId)] },
    });
    await sql(source, ["CREATE DATABASE shop"], "");
    await sql(source, ["CREATE TABLE items (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(40) NOT NULL, n INT NOT NULL)"]);
    await sql(
      source,
      Array.from({ length: 20 }, (_, i) => `INSERT INTO items (v, n) VALUES ('before-dump-${i}', ${i})`),
    );
  }, 120_000);

  afterAll(async () => {
    await stopArchiving();
    await source?.close();
    await other?.close();
    await app?.close();
    fs.rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it("records the dump's exact position from the dump itself, and ServerInput.pitr on the server", async () => {
    const server = await serverRow();
    expect(server).toMatchObject({ pitrEnabled: true, pitrRpoSeconds: 5, pitrStorageTargetIds: [targetId] });
    const bad = await admin(`mutation($id: ID!) { updateServer(id: $id, input: { pitr: { enabled: true, rpoSeconds: 1 } }) { id } }`, { id: serverId });
    expect(bad.errors?.[0]?.message).toMatch(/rpoSeconds.*at least 5/);
    const done = await backup();
    expect(done.status).toBe("SUCCEEDED");
    const row = await app.db.prisma.backup.findUniqueOrThrow({ where: { id: Number(done.id) } });
    const [[master]] = (await sql(source, ["SHOW MASTER STATUS"])) as [[{ File: string; Position: bigint }]];
    // Nothing was written since the dump: its position is the server's current one, its GTID too.
    expect(row.position).toEqual({ binlogFile: master.File, binlogPosition: Number(master.Position), gtidSet: expect.stringMatching(/^0-11-\d+$/) });
    expect(row.tool).toContain("--master-data=2");
  });

  it("restores to a time T exactly, across a binlog rotation, a source restart and a switch to encrypted archives, without the DELETE after T", async () => {
    await startArchiving();
    await sql(
      source,
      Array.from({ length: 10 }, (_, i) => `INSERT INTO items (v, n) VALUES ('after-dump-${i}', ${100 + i})`),
    );
    const [[first]] = (await sql(source, ["SHOW MASTER STATUS"])) as [[{ File: string }]];
    await sql(source, ["FLUSH BINARY LOGS"]);
    // The file the dump starts in is archived plain; then the server's dump profile turns encryption on, and the next archives are age files.
    const plain = await waitFor("the first binlog archived whole", () =>
      app.db.prisma.pitrArchive.findFirst({ where: { serverId, file: first.File, partial: false } }),
    );
    expect(plain.key).toMatch(/\.zst$/);
    const sealed = (
      dataOf(await admin(`mutation { createDumpOptions(input: { name: "pitr-sealed", encryption: AGE }) { id } }`)) as { createDumpOptions: { id: string } }
    ).createDumpOptions.id;
    dataOf(await admin(`mutation($id: ID!, $p: ID!) { updateServer(id: $id, input: { dumpOptionsId: $p }) { id } }`, { id: serverId, p: sealed }));
    await sql(source, ["UPDATE items SET n = n + 1000 WHERE id <= 5", "INSERT INTO items (v, n) VALUES ('after-rotation', 7)"]);
    await source.kill();
    await source.start();
    await sql(
      source,
      Array.from({ length: 5 }, (_, i) => `INSERT INTO items (v, n) VALUES ('after-restart-${i}', ${200 + i})`),
    );
    const T = await nextSecond();
    const atT = await state(source, "shop");
    await new Promise((r) => setTimeout(r, 1100));
    await sql(source, ["DELETE FROM items WHERE id % 2 = 0", "INSERT INTO items (v, n) VALUES ('after-T', 0)"]);
    const now = await state(source, "shop");
    expect(now.rows).not.toBe(atT.rows);

    const window = await waitFor("the window to reach past T", async () => {
      const s = await status();
      return s.recoverableTo && new Date(s.recoverableTo).getTime() > T.getTime() ? s : null;
    });
    expect(window.broken).toBe(false);
    expect(new Date(window.recoverableFrom!).getTime()).toBeLessThan(T.getTime());
    expect(pitr!.restarts).toBeGreaterThanOrEqual(1); // the streamer exited with the source and came back
    const archives = await app.db.prisma.pitrArchive.findMany({ where: { serverId }, orderBy: { file: "asc" } });
    expect(archives.filter((a) => !a.partial).length).toBeGreaterThanOrEqual(2);
    expect(archives.every((a) => a.breakReason === null)).toBe(true);
    // Encrypted archives: age v1 files to the instance key and the recovery key, their SHA-256 over the stored bytes, named in the manifest.
    const encrypted = archives.filter((a) => a.key.endsWith(".zst.age"));
    expect(encrypted.length).toBeGreaterThanOrEqual(1);
    for (const a of encrypted) {
      const bytes = fs.readFileSync(path.join(work, "archive", a.key));
      expect(bytes.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(a.sha256);
      const manifest = JSON.parse(fs.readFileSync(path.join(work, "archive", `${a.key}.manifest.json`), "utf8"));
      expect(manifest.encryption.format).toBe("age-v1");
      expect(manifest.encryption.recipients.map((r: { kind: string }) => r.kind).sort()).toEqual(["INSTANCE", "RECOVERY"]);
    }

    const [b] = await app.db.prisma.backup.findMany({ where: { serverId }, orderBy: { id: "desc" } });
    const requested = await requestRestore(admin, { backupId: b!.id, database: "shop_at_t", pointInTime: T.toISOString() });
    const restore = (dataOf(requested) as { restoreBackup: RestoreView }).restoreBackup;
    const ended = await waitForRestore(admin, restore.id);
    expect(ended.error).toBeNull();
    expect(ended.status).toBe("SUCCEEDED");
    const restored = await state(source, "shop_at_t");
    expect(restored.rows).toBe(atT.rows);
    expect(restored.checksum).toBe(atT.checksum);

    // The CLI, from the storage alone (no metadata database): the dump file, the binlogs beside it.
    const artifact = await app.db.prisma.backupArtifact.findFirstOrThrow({ where: { backupId: b!.id, storageTargetId: targetId } });
    const out: string[] = [];
    const cli = (extra: string[]) =>
      runRestoreCommand(
        [
          "--file",
          path.join(work, "archive", artifact.key),
          "--to",
          `mysql://root@127.0.0.1:${source.port}/shop_cli`,
          "--point-in-time",
          T.toISOString(),
          ...extra,
        ],
        {},
        { out: (l) => out.push(l), err: (l) => out.push(l) },
        new AbortController().signal,
      );
    // The dump is plain, the archive partly encrypted: without an identity the CLI refuses before it restores anything.
    await expect(cli([])).rejects.toThrow(/^--identity: the binlog archive is encrypted \(age\)/);
    expect(((await sql(source, ["SHOW DATABASES LIKE 'shop_cli'"], "")) as [unknown[]])[0]).toEqual([]);
    const code = await cli(["--identity", recoveryKey]);
    expect(out.join("\n")).toMatch(/replayed \d+ binlog file\(s\) from binlog-bin\.\d+:\d+ to /);
    expect(code).toBe(0);
    expect(await state(source, "shop_cli")).toEqual(atT);
  }, 120_000);

  it("a purged binlog breaks the chain, and a restore past the break is refused saying why", async () => {
    await stopArchiving();
    await sql(source, [
      "INSERT INTO items (v, n) VALUES ('unarchived', 1)",
      "FLUSH BINARY LOGS",
      "INSERT INTO items (v, n) VALUES ('unarchived-2', 2)",
      "FLUSH BINARY LOGS",
    ]);
    const [[master]] = (await sql(source, ["SHOW MASTER STATUS"])) as [[{ File: string }]];
    await sql(source, [`PURGE BINARY LOGS TO '${master.File}'`]);
    await startArchiving();
    await sql(source, ["INSERT INTO items (v, n) VALUES ('after-purge', 3)"]);
    const broken = await waitFor("the chain to break", async () => {
      const s = await status();
      return s.broken ? s : null;
    });
    expect(broken.brokenReason).toMatch(/purged on the source before it was archived/);
    const at = await nextSecond();
    await new Promise((r) => setTimeout(r, 1100));
    const [b] = await app.db.prisma.backup.findMany({ where: { serverId }, orderBy: { id: "desc" } });
    const refused = await requestRestore(admin, { backupId: b!.id, database: "shop_past_break", pointInTime: at.toISOString() });
    expect(refused.errors?.[0]?.extensions?.field).toBe("pointInTime");
    expect(refused.errors?.[0]?.message).toMatch(/broken at .*purged/);
    // A new dump after the break makes the database recoverable again, from that dump on.
    await backup();
    const healed = await status();
    expect(healed.broken).toBe(false);
  }, 120_000);

  it("a deleted archive object breaks the chain visibly", async () => {
    const archives = (await app.db.prisma.pitrArchive.findMany({ where: { serverId, partial: false } })).sort((a, b) => a.id - b.id);
    const victim = archives[1]!;
    await store.delete(victim.key);
    const reasons = await verifyArchives(app.db.prisma, serverId, () => store);
    expect(reasons.join()).toContain(victim.file);
    const row = await app.db.prisma.pitrArchive.findUniqueOrThrow({ where: { id: Number(victim.id) } });
    expect(row.breakReason).toMatch(/missing from storage/);
    const first = (await app.db.prisma.backup.findMany({ where: { serverId }, orderBy: { id: "asc" } }))[0]!;
    const refused = await requestRestore(admin, { backupId: first.id, database: "shop_missing", pointInTime: new Date(Date.now() - 1000).toISOString() });
    expect(refused.errors?.[0]?.message).toMatch(/missing from storage|broken/);
  }, 60_000);

  it("a switched source (another server at the address) breaks the chain", async () => {
    await stopArchiving();
    other = await startPrivateMariadb("pitr-other", { binlog: { serverId: 12 } });
    await sql(other, ["CREATE DATABASE shop"], "");
    await app.db.prisma.server.update({ where: { id: serverId }, data: { port: other.port } });
    await startArchiving();
    await sql(other, ["CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL, n INT NOT NULL)", "INSERT INTO items VALUES (1, 'other', 1)"]);
    const broken = await waitFor("the source switch to be noticed", async () => {
      const s = await status();
      return s.broken ? s : null;
    });
    expect(broken.brokenReason).toMatch(/the source changed: mariadb:12 now, mariadb:11 before/);
    // Nothing of the other server entered the chain.
    expect(await app.db.prisma.pitrArchive.count({ where: { serverId, sourceIdentity: "mariadb:12" } })).toBe(0);
    const [b] = await app.db.prisma.backup.findMany({ where: { serverId }, orderBy: { id: "desc" } });
    const refused = await requestRestore(admin, { backupId: b!.id, database: "shop_switched", pointInTime: new Date(Date.now() - 500).toISOString() });
    expect(refused.errors?.[0]?.extensions?.field).toBe("pointInTime");
    expect(refused.errors?.[0]?.message).toMatch(/not recoverable \(the binlog archive chain is broken: the source changed/);
  }, 60_000);

  it("retention deletes the binlog archives no kept dump needs, and the archives count in storage totals", async () => {
    const totals = async () =>
      (
        dataOf(await admin(`{ dashboard { totals { storage { bytes objects target { id } } } } }`)) as {
          dashboard: { totals: { storage: Array<{ bytes: string; objects: number; target: { id: number } }> } };
        }
      ).dashboard.totals.storage.find((s) => Number(s.target.id) === targetId)!;
    const archives = await app.db.prisma.pitrArchive.findMany({ where: { serverId } });
    const artifacts = await app.db.prisma.backupArtifact.findMany({ where: { storageTargetId: targetId, status: "STORED" } });
    const before = await totals();
    expect(BigInt(before.bytes)).toBe(artifacts.reduce((s, a) => s + (a.sizeBytes ?? 0n), 0n) + archives.reduce((s, a) => s + a.storedBytes, 0n));
    expect(before.objects).toBe(artifacts.length + archives.length);

    const [first, second] = await app.db.prisma.backup.findMany({ where: { serverId }, orderBy: { id: "asc" } });
    const keepFrom = (second!.position as { binlogFile: string }).binlogFile;
    const expected = archives
      .filter((a) => a.file < keepFrom)
      .map((a) => a.file)
      .sort();
    expect(expected.length).toBeGreaterThan(0);
    await app.db.prisma.backup.update({ where: { id: first!.id }, data: { status: "DELETED" } });
    const removed = await trimBinlogArchives(app.db.prisma, serverId, () => store);
    expect(removed.sort()).toEqual(expected);
    const left = await app.db.prisma.pitrArchive.findMany({ where: { serverId } });
    expect(left.every((a) => a.file >= keepFrom)).toBe(true);
    for (const a of archives.filter((x) => expected.includes(x.file))) expect(await store.head(a.key)).toBeNull();
    for (const a of left.filter((x) => !x.breakReason?.includes("missing"))) expect(await store.head(a.key)).not.toBeNull();
  }, 60_000);
});
