import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../db/connection.ts";
import { createServer, createTarget, dataOf, listFiles, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { descendants } from "../testing/processes.ts";
import { addBulkTable, createMariadbSample, dropMariadbDatabase, MARIADB, mariadbExec, uniqueName } from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";
import { eventually, restoreAndWait } from "../restore/testing/restore-helpers.ts";

/**
 * PARALLEL engine faults against real programs and servers: a spool too small (refused before
 * the dump, and filled up during it), mydumper killed while it waits for its global lock, and a
 * myloader that fails. Each ends in a FAILED record naming the cause, no artifact, no child
 * process, and an empty spool.
 */
describe("PARALLEL engine faults", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let checked: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let checkedAdmin: Awaited<ReturnType<typeof app.as>>;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "parallel-faults-"));
  const spool = path.join(work, "spool");
  const mounts: string[] = [];
  const mariaDbs: string[] = [];
  const limited = `parallel_lim_${Date.now() % 100000}`;
  let mariaId: number;
  let targetDir: string;
  let targetId: number;

  beforeAll(async () => {
    fs.mkdirSync(spool);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", spool]);
    mounts.push(spool);
    // No free-space check here: the dump itself fills the 1 MiB spool.
    app = await createTestApp({ limits: { maxAttempts: 1, stallMs: 120_000 }, spoolDir: spool, spoolReserve: 0 });
    checked = await createTestApp({ limits: { maxAttempts: 1 }, spoolDir: spool });
    admin = await app.as("ADMIN");
    checkedAdmin = await checked.as("ADMIN");
    for (const client of [admin, checkedAdmin])
      dataOf(await client(`mutation { createDumpOptions(input: { name: "par", engine: PARALLEL, threads: 2 }) { id } }`));
    const profileId = async (client: typeof admin) =>
      (dataOf(await client(`{ dumpOptionsProfiles { id name } }`)) as { dumpOptionsProfiles: Array<{ id: number; name: string }> }).dumpOptionsProfiles.find(
        (p) => p.name === "par",
      )!.id;
    mariaId = await createServer(admin, {
      name: "maria-pf",
      engine: "MARIADB",
      host: "127.0.0.1",
      port: 3306,
      username: "root",
      dumpOptionsId: await profileId(admin),
    });
    targetDir = path.join(work, "local");
    targetId = await createTarget(admin, { name: "pf-local", kind: "LOCAL", path: targetDir });
    await mariadbExec([
      `CREATE USER IF NOT EXISTS '${limited}'@'127.0.0.1' IDENTIFIED BY 'limited-pass'`,
      `GRANT CREATE, DROP, SELECT ON \`pfl\\_%\`.* TO '${limited}'@'127.0.0.1'`,
    ]);
  });

  afterAll(async () => {
    await app?.close();
    await checked?.close();
    for (const dir of mounts) execFileSync("umount", [dir]);
    for (const db of mariaDbs) await dropMariadbDatabase(db);
    await mariadbExec([`DROP USER IF EXISTS '${limited}'@'127.0.0.1'`]).catch(() => {});
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function sample(label: string, bulkMb = 0): Promise<string> {
    const name = uniqueName(label);
    mariaDbs.push(name);
    await createMariadbSample(name, { rows: 50 });
    if (bulkMb) await addBulkTable(name, bulkMb);
    return name;
  }

  function expectNothingLeft(): void {
    expect(fs.readdirSync(spool)).toEqual([]);
    expect(listFiles(targetDir)).toEqual([]);
    expect(descendants(process.pid).map((p) => p.comm)).toEqual([]);
  }

  it("a spool without room for the database's estimated size: refused before the dump starts, naming the spool and both sizes", async () => {
    const db = await sample("pfcheck", 3);
    await mariadbExec(["ANALYZE TABLE bulk"], db); // InnoDB's statistics (the estimate) lag fresh inserts
    const serverId = await createServer(checkedAdmin, {
      name: "maria-pf-checked",
      engine: "MARIADB",
      host: "127.0.0.1",
      port: 3306,
      username: "root",
      dumpOptionsId: (
        dataOf(await checkedAdmin(`{ dumpOptionsProfiles { id name } }`)) as { dumpOptionsProfiles: Array<{ id: number; name: string }> }
      ).dumpOptionsProfiles.find((p) => p.name === "par")!.id,
    });
    const dir = path.join(work, "checked-local");
    const target = await createTarget(checkedAdmin, { name: "pf-checked", kind: "LOCAL", path: dir });
    const [b] = await runBackup(checkedAdmin, { serverId, databases: [db], storageTargetIds: [target] });
    const done = await waitForBackup(checkedAdmin, b!.id);
    expect(done.status).toBe("FAILED");
    expect(done.error).toMatch(new RegExp(`^the spool ${spool} has \\d+\\.\\d MiB free, less than the \\d+\\.\\d MiB the database is estimated at`));
    expect(done.tool).toBeNull(); // mydumper never ran
    expect(listFiles(dir)).toEqual([]);
    expect(fs.readdirSync(spool)).toEqual([]);
  });

  // Under 1 s to about 25 s on a quiet machine (mydumper does not always stop at once on a full spool): room for a loaded one.
  it("a spool that fills up during the dump: FAILED with mydumper's own error, no artifact, the spool emptied", { timeout: 120_000 }, async () => {
    const db = await sample("pffull", 3);
    const [b] = await runBackup(admin, { serverId: mariaId, databases: [db], storageTargetIds: [targetId] });
    const done = await waitForBackup(admin, b!.id, undefined, 90_000);
    expect(done.status).toBe("FAILED");
    expect(done.error).toMatch(/^the dump exited with code \d+/);
    expect(done.error).toMatch(/No space left on device|Error writing|Could not write/i);
    expect(done.artifacts[0]?.status).toBe("FAILED");
    expectNothingLeft();
  });

  it("mydumper killed (SIGKILL) while its global lock waits: FAILED naming the signal, its session ended, the spool emptied", async () => {
    const db = await sample("pfkill");
    const conn = await connect({ ...MARIADB, database: db });
    const [{ id: lockId }] = (await conn.query("SELECT CONNECTION_ID() AS id")) as [{ id: number }];
    await conn.query("LOCK TABLES files WRITE");
    try {
      const [b] = await runBackup(admin, { serverId: mariaId, databases: [db], storageTargetIds: [targetId] });
      const waiting = async () =>
        (
          (await mariadbExec(["SELECT ID AS id, INFO AS info, STATE AS state FROM information_schema.PROCESSLIST"]))[0] as Array<{
            id: number;
            info: string | null;
          }>
        )
          .filter((r) => Number(r.id) !== Number(lockId) && /FLUSH TABLES WITH READ LOCK/i.test(r.info ?? ""))
          .map((r) => Number(r.id));
      await eventually(async () => (await waiting()).length > 0, "mydumper's FLUSH TABLES WITH READ LOCK to wait for the table lock");
      const dumper = await eventually(() => descendants(process.pid, "mydumper")[0], "the mydumper process");
      await new Promise((r) => setTimeout(r, 300)); // the runner samples its client port every 50 ms
      process.kill(dumper.pid, "SIGKILL");
      const done = await waitForBackup(admin, b!.id, undefined, 20_000);
      expect(done).toMatchObject({ status: "FAILED", error: "the dump was killed by SIGKILL" });
      // The table lock is still held: the waiting FTWRL did not end by itself, the runner ended it.
      await eventually(async () => (await waiting()).length === 0, "mydumper's session to be ended on the server");
      expectNothingLeft();
    } finally {
      await conn.end();
    }
  });

  it("a failed myloader (the account may create tables but not insert): restore FAILED with myloader's error, the new database dropped, the spool emptied", async () => {
    const db = await sample("pfload");
    const [b] = await runBackup(admin, { serverId: mariaId, databases: [db], storageTargetIds: [targetId] });
    const backup = await waitForBackup(admin, b!.id);
    expect(backup.status, backup.error ?? "").toBe("SUCCEEDED");
    const serverId = await createServer(admin, {
      name: "maria-pf-limited",
      engine: "MARIADB",
      host: "127.0.0.1",
      port: 3306,
      username: limited,
      password: "limited-pass",
      includeDatabases: ["none"],
    });
    const database = `pfl_${Date.now() % 100000}`;
    mariaDbs.push(database);
    const restore = await restoreAndWait(admin, { backupId: backup.id, serverId, database });
    expect(restore.status).toBe("FAILED");
    expect(restore.error).toMatch(/^myloader exited with code 1: .*(INSERT command denied|denied)/s);
    expect(restore.error).toContain(`the new database "${database}" was dropped`);
    expect(restore.error).not.toContain("limited-pass");
    expect(restore.targetState).toBe("UNTOUCHED");
    const [exists] = (await mariadbExec([`SHOW DATABASES LIKE '${database}'`])) as [unknown[]];
    expect(exists).toEqual([]);
    expect(fs.readdirSync(spool)).toEqual([]);
    expect(descendants(process.pid).map((p) => p.comm)).toEqual([]);
  });
});
