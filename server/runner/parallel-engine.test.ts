import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allCommandLines, createServer, createTarget, dataOf, runBackup, waitForBackup, type BackupView } from "../testing/backup-helpers.ts";
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
import { eventually, restoreAndWait } from "../restore/testing/restore-helpers.ts";
import { runCli } from "../cli/testing/run-cli.ts";

/**
 * The PARALLEL engines end to end on the real servers: mydumper / myloader and pg_dump -Fd -j /
 * pg_restore -j, through a local directory and s3rver, restored into new databases and over
 * existing ones, equal to the source by checksums; the spool empty after each.
 */
describe("PARALLEL engine round trips", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let operator: Awaited<ReturnType<typeof app.as>>;
  let localId: number;
  let s3Id: number;
  let mariaId: number;
  let pgId: number;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "parallel-rt-"));
  const spool = path.join(work, "spool");
  const mariaDbs: string[] = [];
  const pgDbs: string[] = [];
  const user = `parallel_${crypto.randomBytes(3).toString("hex")}`;
  const password = `pa"r'a\\l #lel;${crypto.randomBytes(4).toString("hex")}`;
  let mariaSource: string;
  let pgSource: string;

  beforeAll(async () => {
    app = await createTestApp({ spoolDir: spool });
    s3 = await startS3rver();
    admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    localId = await createTarget(admin, { name: "par-local", kind: "LOCAL", path: path.join(work, "local") });
    s3Id = await createTarget(admin, {
      name: "par-s3",
      kind: "S3",
      bucket: s3.bucket,
      region: "us-east-1",
      endpoint: s3.endpoint,
      prefix: "par",
      forcePathStyle: true,
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
    });
    const profile = dataOf(
      await admin(`mutation { createDumpOptions(input: { name: "parallel", engine: PARALLEL, threads: 2, chunkRows: 1000 }) { id engine threads chunkRows } }`),
    ) as { createDumpOptions: { id: number; engine: string; threads: number; chunkRows: number } };
    expect(profile.createDumpOptions).toMatchObject({ engine: "PARALLEL", threads: 2, chunkRows: 1000 });
    const dumpOptionsId = profile.createDumpOptions.id;
    await mariadbExec([
      `CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`,
      `GRANT ALL ON *.* TO '${user}'@'127.0.0.1'`,
    ]);
    mariaId = await createServer(admin, { name: "maria-par", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: user, password, dumpOptionsId });
    pgId = await createServer(admin, { name: "pg-par", engine: "POSTGRESQL", host: "127.0.0.1", port: 5432, username: POSTGRES.user, dumpOptionsId });
    mariaSource = uniqueName("par");
    pgSource = uniqueName("parpg");
    mariaDbs.push(mariaSource);
    pgDbs.push(pgSource);
    await Promise.all([createMariadbSample(mariaSource, { rows: 2500 }), createPgSample(pgSource)]);
  });

  afterAll(async () => {
    await app?.close();
    await s3?.stop();
    for (const db of mariaDbs) await dropMariadbDatabase(db);
    for (const db of pgDbs) await dropPgDatabase(db);
    await mariadbExec([`DROP USER IF EXISTS '${user}'@'127.0.0.1'`]).catch(() => {});
    fs.rmSync(work, { recursive: true, force: true });
  });

  const spoolEntries = () => (fs.existsSync(spool) ? fs.readdirSync(spool) : []);

  async function backUp(serverId: number, database: string): Promise<BackupView> {
    let sawPassword = false;
    const [queued] = await runBackup(operator, { serverId, databases: [database], storageTargetIds: [localId, s3Id] });
    const done = await waitForBackup(operator, queued!.id, (b) => {
      if (allCommandLines().includes(password)) sawPassword = true;
      return !["PENDING", "RUNNING"].includes(b.status);
    });
    expect(sawPassword).toBe(false);
    return done;
  }

  function localArtifact(b: BackupView): string {
    return path.join(work, "local", b.artifacts.find((a) => a.storageTarget?.id === localId)!.key);
  }

  it("MariaDB: mydumper backs up one .tar.zst to both targets, members in the manifest; myloader restores it from S3 and over an existing database, equal by CHECKSUM TABLE", async () => {
    const backup = await backUp(mariaId, mariaSource);
    expect(backup.error).toBeNull();
    expect(backup.status).toBe("SUCCEEDED");
    expect(backup.tool).toMatch(/^mydumper 0\.10\.\d+ --threads=2 --rows=1000 --routines --triggers --events/);
    expect(backup.tool).not.toContain(password);
    for (const a of backup.artifacts) expect(a.key).toMatch(/\.tar\.zst$/);
    expect(spoolEntries()).toEqual([]);

    // A plain tar.zst any user can unpack, whose members the manifest lists with sizes and SHA-256.
    const file = localArtifact(backup);
    const manifest = JSON.parse(fs.readFileSync(`${file}.manifest.json`, "utf8")) as {
      dump: { format: string };
      members: Array<{ name: string; size: number; sha256: string }>;
      restore: string;
    };
    expect(manifest.dump.format).toBe("tar");
    expect(manifest.restore).toContain("myloader");
    const unpacked = fs.mkdtempSync(path.join(work, "unpack-"));
    execFileSync("bash", ["-c", `zstd -dc "$1" | tar -xf - -C "$2"`, "_", file, unpacked]);
    expect(fs.readdirSync(unpacked).sort()).toEqual(manifest.members.map((m) => m.name).sort());
    expect(manifest.members.some((m) => /\.customers\.0000[01]\.sql$/.test(m.name))).toBe(true); // chunked by --rows
    for (const m of manifest.members) {
      const body = fs.readFileSync(path.join(unpacked, m.name));
      expect([body.length, crypto.createHash("sha256").update(body).digest("hex")]).toEqual([m.size, m.sha256]);
    }
    expect(JSON.stringify(manifest)).not.toContain(password);

    const source = await mariadbFingerprint(mariaSource);
    const fromS3 = await restoreAndWait(operator, { backupId: backup.id, storageTargetId: s3Id });
    mariaDbs.push(fromS3.database);
    expect(fromS3.error).toBeNull();
    expect(fromS3).toMatchObject({ status: "SUCCEEDED", targetState: "CREATED", sha256: backup.sha256 });
    expect(await mariadbFingerprint(fromS3.database)).toEqual(source);

    // `sqlguard restore` loads the same artifact file with myloader, no metadata database needed.
    const viaCli = uniqueName("parcli");
    mariaDbs.push(viaCli);
    const cli = await runCli(
      [
        "restore",
        "--file",
        file,
        "--to",
        `mariadb://${encodeURIComponent(user)}@127.0.0.1:3306`,
        "--database",
        viaCli,
        "--threads",
        "2",
        "--spool",
        path.join(work, "cli-spool"),
      ],
      {
        MYSQL_PWD: password,
      },
    );
    expect(cli.stderr).not.toMatch(/error|failed/i);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(new RegExp(`^restored into "${viaCli}": \\d+ bytes read, SHA-256 ${backup.sha256} verified`));
    expect(await mariadbFingerprint(viaCli)).toEqual(source);
    expect(fs.readdirSync(path.join(work, "cli-spool"))).toEqual([]);

    // Overwrite: the existing database (changed since) becomes the backup again.
    const copy = uniqueName("parcopy");
    mariaDbs.push(copy);
    await createMariadbSample(copy, { rows: 10 });
    await mariadbExec(["CREATE TABLE extra (id INT PRIMARY KEY)"], copy);
    const over = await restoreAndWait(admin, { backupId: backup.id, storageTargetId: localId, database: copy, overwrite: true });
    expect(over.error).toBeNull();
    expect(over).toMatchObject({ status: "SUCCEEDED", targetState: "REPLACED" });
    expect(await mariadbFingerprint(copy)).toEqual(source);
    expect(spoolEntries()).toEqual([]);

    // A drill restores it into a scratch database and counts the rows of the dump files.
    const verifyId = await createServer(admin, {
      name: "maria-par-verify",
      engine: "MARIADB",
      host: "127.0.0.1",
      port: 3306,
      username: "root",
      includeDatabases: ["none"],
    });
    dataOf(await operator(`mutation($b: ID!, $s: ID!) { runRestoreDrill(backupId: $b, serverId: $s) { id } }`, { b: backup.id, s: verifyId }));
    const drill = await eventually(async () => {
      const r = dataOf(await operator(`query($b: ID!) { backup(id: $b) { drills { status error } } }`, { b: backup.id })) as {
        backup: { drills: Array<{ status: string; error: string | null }> };
      };
      const d = r.backup.drills[0];
      return d && d.status !== "RUNNING" ? d : undefined;
    }, "the drill");
    expect(drill).toEqual({ status: "PASSED", error: null });
  });

  it("PostgreSQL: pg_dump -Fd -j backs up one .tar.zst; pg_restore -j restores it from S3 and over an existing database (swapped in), equal row by row", async () => {
    const backup = await backUp(pgId, pgSource);
    expect(backup.error).toBeNull();
    expect(backup.status).toBe("SUCCEEDED");
    expect(backup.tool).toMatch(/^pg_dump \d+\.\d+ --format=directory --jobs=2 --compress=0/);
    for (const a of backup.artifacts) expect(a.key).toMatch(/\.tar\.zst$/);
    expect(spoolEntries()).toEqual([]);
    const file = localArtifact(backup);
    const listed = execFileSync("bash", ["-c", `zstd -dc "$1" | tar -tf -`, "_", file], { encoding: "utf8" }).trim().split("\n");
    expect(listed).toContain("toc.dat");

    const source = await pgFingerprint(pgSource);
    const fromS3 = await restoreAndWait(operator, { backupId: backup.id, storageTargetId: s3Id });
    pgDbs.push(fromS3.database);
    expect(fromS3.error).toBeNull();
    expect(fromS3).toMatchObject({ status: "SUCCEEDED", targetState: "CREATED" });
    expect(await pgFingerprint(fromS3.database)).toEqual(source);

    const viaCli = uniqueName("parpgcli");
    pgDbs.push(viaCli);
    const cli = await runCli(["restore", "--file", file, "--to", `postgres://${POSTGRES.user}@127.0.0.1:5432/${viaCli}`]);
    expect(cli.stderr).not.toMatch(/error|failed/i);
    expect(cli.code).toBe(0);
    expect(await pgFingerprint(viaCli)).toEqual(source);

    const copy = uniqueName("parpgcopy");
    pgDbs.push(copy);
    await pgExec([`CREATE DATABASE "${copy}"`]);
    await pgExec(["CREATE TABLE stale (id int)", "INSERT INTO stale VALUES (1)"], copy);
    const over = await restoreAndWait(admin, { backupId: backup.id, storageTargetId: localId, database: copy, overwrite: true });
    expect(over.error).toBeNull();
    expect(over).toMatchObject({ status: "SUCCEEDED", targetState: "REPLACED" });
    expect(await pgFingerprint(copy)).toEqual(source);
    const leftovers = (await pgExec(["SELECT datname FROM pg_database WHERE datname LIKE 'sqlguard_restore_%'"]))[0] as unknown[];
    expect(leftovers).toEqual([]);
    expect(spoolEntries()).toEqual([]);

    // A drill counts the COPY rows of the dump's .dat files (named by pg_restore -l).
    const verifyId = await createServer(admin, {
      name: "pg-par-verify",
      engine: "POSTGRESQL",
      host: "127.0.0.1",
      port: 5432,
      username: POSTGRES.user,
      includeDatabases: ["none"],
    });
    dataOf(await operator(`mutation($b: ID!, $s: ID!) { runRestoreDrill(backupId: $b, serverId: $s) { id } }`, { b: backup.id, s: verifyId }));
    const drill = await eventually(async () => {
      const r = dataOf(await operator(`query($b: ID!) { backup(id: $b) { drills { status error details } } }`, { b: backup.id })) as {
        backup: { drills: Array<{ status: string; error: string | null; details: unknown }> };
      };
      const d = r.backup.drills[0];
      return d && d.status !== "RUNNING" ? d : undefined;
    }, "the drill");
    expect([drill.status, drill.error]).toEqual(["PASSED", null]);
    const tables = (JSON.parse(drill.details as string) as { tables: Array<{ name: string; expectedRows: number; actualRows: number }> }).tables;
    expect(tables.find((t) => t.name === "public.items")).toMatchObject({ expectedRows: 300, actualRows: 300 });
  });

  it("testServerConnection reports whether the PARALLEL engine can run and what it locks: RELOAD missing makes a PARALLEL server not ok", async () => {
    const query = `mutation($id: ID!) { testServerConnection(id: $id) { ok warnings parallel { ready tool threads problems locks } } }`;
    type Probe = { ok: boolean; warnings: string[]; parallel: { ready: boolean; tool: string | null; threads: number; problems: string[]; locks: string } };
    const probe = async (id: number) => (dataOf(await operator(query, { id })) as { testServerConnection: Probe }).testServerConnection;
    const maria = await probe(mariaId);
    expect(maria.ok).toBe(true);
    expect(maria.parallel).toMatchObject({ ready: true, threads: 2, problems: [] });
    expect(maria.parallel.tool).toMatch(/mydumper \(mydumper 0\.10/);
    expect(maria.parallel.locks).toMatch(/^FLUSH TABLES WITH READ LOCK on the whole server/);
    const pgProbe = await probe(pgId);
    expect(pgProbe.parallel).toMatchObject({ ready: true, threads: 2, problems: [] });
    expect(pgProbe.parallel.locks).toMatch(/ACCESS SHARE locks on every table dumped, held by 3 sessions/);

    const weak = `parallel_w_${crypto.randomBytes(3).toString("hex")}`;
    await mariadbExec([`CREATE USER '${weak}'@'127.0.0.1' IDENTIFIED BY 'weak-pass-1'`, `GRANT SELECT, SHOW VIEW ON *.* TO '${weak}'@'127.0.0.1'`]);
    try {
      const profiles = dataOf(await admin(`{ dumpOptionsProfiles { id name } }`)) as { dumpOptionsProfiles: Array<{ id: number; name: string }> };
      const weakId = await createServer(admin, {
        name: "maria-par-weak",
        engine: "MARIADB",
        host: "127.0.0.1",
        port: 3306,
        username: weak,
        password: "weak-pass-1",
        dumpOptionsId: profiles.dumpOptionsProfiles.find((p) => p.name === "parallel")!.id,
      });
      const weakProbe = await probe(weakId);
      expect(weakProbe.ok).toBe(false);
      expect(weakProbe.parallel.ready).toBe(false);
      expect(weakProbe.parallel.problems.join("\n")).toMatch(/lacks the RELOAD privilege/);
      expect(weakProbe.warnings.join("\n")).toMatch(/^PARALLEL engine: the account lacks the RELOAD privilege/m);
    } finally {
      await mariadbExec([`DROP USER IF EXISTS '${weak}'@'127.0.0.1'`]);
    }
  });

  it("refuses bad engine settings naming the field", async () => {
    const bad = await admin(`mutation { createDumpOptions(input: { name: "bad-par", engine: PARALLEL, threads: 0, chunkRows: 5 }) { id } }`);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT" });
    const extensions = (bad.errors?.[0]?.extensions ?? {}) as { fields?: Array<{ field: string }>; field?: string };
    const fields = extensions.fields?.map((f) => f.field) ?? [extensions.field];
    expect(fields.sort()).toEqual(["chunkRows", "threads"]);
    const defaults = dataOf(await admin(`mutation { createDumpOptions(input: { name: "single" }) { engine threads chunkRows } }`)) as {
      createDumpOptions: { engine: string; threads: number | null; chunkRows: number | null };
    };
    expect(defaults.createDumpOptions).toEqual({ engine: "SINGLE", threads: null, chunkRows: null });
  });
});
