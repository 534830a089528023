import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../db/connection.ts";
import { createServer, createTarget, listFiles, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { createMariadbSample, dropMariadbDatabase, MARIADB, uniqueName } from "../testing/sample-databases.ts";
import { freePort, httpClient, startServerProcess, type ServerProcess } from "../testing/server-process.ts";
import { dropDatabase, freshDatabaseUrl } from "../testing/test-db.ts";

describe("a SQLGuard process killed mid-backup", () => {
  const databaseUrl = freshDatabaseUrl("crash");
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-crash-"));
  const db = uniqueName("crash");
  let server: ServerProcess | undefined;

  afterAll(async () => {
    await server?.stop();
    await dropDatabase(databaseUrl);
    await dropMariadbDatabase(db);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  // About 10 s on a quiet machine (two process starts, a dump that reaches its lock): room for a loaded one.
  it("marks the backup FAILED (interrupted) and removes its partial file at the next start", { timeout: 120_000 }, async () => {
    const env = {
      DATABASE_URL: databaseUrl,
      SQLGUARD_PORT: String(await freePort()),
      SQLGUARD_DATA_DIR: dataDir,
      SQLGUARD_ADMIN_PASSWORD: "crash-test-admin",
      SQLGUARD_INSTANCE_ID: "crash-test",
      SQLGUARD_SCHEDULER_ENABLED: "false",
      SQLGUARD_LOG_LEVEL: "info",
    };
    await createMariadbSample(db, { rows: 30 });
    server = await startServerProcess(env);
    let client = await httpClient(server.url, "admin", "crash-test-admin");
    const serverId = await createServer(client, { name: "maria-crash", engine: "MARIADB", host: "127.0.0.1", username: "root" });
    const targetDir = path.join(dataDir, "crash-target");
    const targetId = await createTarget(client, { name: "crash-local", kind: "LOCAL", path: targetDir });

    // The dump blocks on a locked table, so the process dies with the backup RUNNING and a .partial on disk.
    const lock = await connect({ ...MARIADB, database: db });
    await lock.query("LOCK TABLES files WRITE");
    let backupId: number;
    try {
      const [b] = await runBackup(client, { serverId, databases: [db], storageTargetIds: [targetId] });
      backupId = b!.id;
      const deadline = Date.now() + 60_000;
      while (!listFiles(targetDir).some((f) => f.endsWith(".partial"))) {
        if (Date.now() > deadline) throw new Error(`no partial file appeared:\n${server.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      server.child.kill("SIGKILL");
      await server.exited;
    } finally {
      await lock.end();
    }
    expect(listFiles(targetDir).filter((f) => f.endsWith(".partial"))).toHaveLength(1);

    server = await startServerProcess(env);
    client = await httpClient(server.url, "admin", "crash-test-admin");
    const after = await waitForBackup(client, backupId);
    expect(after.status).toBe("FAILED");
    expect(after.error).toMatch(/interrupted/);
    expect(after.artifacts[0]!.status).toBe("FAILED");
    expect(listFiles(targetDir)).toEqual([]);
    expect(server.output()).toMatch(/marked failed|interrupted/);
  });
});
