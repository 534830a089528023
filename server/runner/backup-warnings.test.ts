import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, createTarget, dataOf, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { dropMariadbDatabase, mariadbExec, uniqueName } from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";
import { privilegeWarnings } from "./dumpers/discovery.ts";

const ROUTINES = /routines defined by other users are silently left out/;
const MYISAM =
  /^MyISAM tables have no transactions, so the single-transaction snapshot does not cover "legacy": each is dumped as it is when the dump reaches it$/;

/** A backup that misses objects says so on its record and in its manifest, and still succeeds. */
describe("backup warnings", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let targetId: number;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-warnings-"));
  const db = uniqueName("warn");
  const clean = uniqueName("warn_clean");
  const user = uniqueName("wu");
  const PASSWORD = "Warn-pass-123";

  beforeAll(async () => {
    app = await createTestApp();
    admin = await app.as("ADMIN");
    targetId = await createTarget(admin, { name: "warn-local", kind: "LOCAL", path: work });
    await mariadbExec([`CREATE DATABASE ${db}`, `CREATE DATABASE ${clean}`, `CREATE TABLE ${clean}.t (id INT PRIMARY KEY) ENGINE=InnoDB`]);
    await mariadbExec(
      [
        "CREATE TABLE orders (id INT PRIMARY KEY) ENGINE=InnoDB",
        "CREATE TABLE legacy (id INT PRIMARY KEY) ENGINE=MyISAM",
        "INSERT INTO orders VALUES (1), (2)",
        "CREATE PROCEDURE count_orders() SELECT COUNT(*) FROM orders",
      ],
      db,
    );
    // Enough to dump the tables, but not to read a routine defined by root.
    await mariadbExec([
      `CREATE USER '${user}'@'%' IDENTIFIED BY '${PASSWORD}'`,
      `GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON ${db}.* TO '${user}'@'%'`,
    ]);
  });

  afterAll(async () => {
    await app?.close();
    await dropMariadbDatabase(db);
    await dropMariadbDatabase(clean);
    await mariadbExec([`DROP USER IF EXISTS '${user}'@'%'`]);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("records what the dump leaves out on the backup, in GraphQL and in the manifest, and still succeeds", async () => {
    const serverId = await createServer(admin, { name: "maria-warn", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: user, password: PASSWORD });
    const [b] = await runBackup(admin, { serverId, databases: [db], storageTargetIds: [targetId] });
    const done = await waitForBackup(admin, b!.id);
    expect(done.status).toBe("SUCCEEDED");
    const { backup } = dataOf(await admin(`query($id: ID!) { backup(id: $id) { warnings artifacts { key } } }`, { id: b!.id })) as {
      backup: { warnings: string[]; artifacts: Array<{ key: string }> };
    };
    expect(backup.warnings).toEqual(expect.arrayContaining([expect.stringMatching(ROUTINES), expect.stringMatching(MYISAM)]));
    // The routine really is missing from the artifact: the warning is not a false alarm.
    const sql = execFileSync("zstd", ["-dc", path.join(work, backup.artifacts[0]!.key)]).toString();
    expect(sql).toContain("CREATE TABLE `orders`");
    expect(sql).not.toContain("count_orders");
    const manifest = JSON.parse(fs.readFileSync(path.join(work, `${backup.artifacts[0]!.key}.manifest.json`), "utf8")) as { warnings: string[] };
    expect(manifest.warnings).toEqual(backup.warnings);
    expect(app.logLines.some((l) => l.includes("the backup will leave objects out"))).toBe(true);
  });

  it("records no warning for a database and account that miss nothing", async () => {
    const serverId = await createServer(admin, { name: "maria-root", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
    const [b] = await runBackup(admin, { serverId, databases: [clean], storageTargetIds: [targetId] });
    expect((await waitForBackup(admin, b!.id)).status).toBe("SUCCEEDED");
    const { backup } = dataOf(await admin(`query($id: ID!) { backup(id: $id) { warnings } }`, { id: b!.id })) as { backup: { warnings: string[] } };
    expect(backup.warnings).toEqual([]);
  });

  it("warns only about what the profile's dump needs", () => {
    const grants = ["GRANT USAGE ON *.* TO `u`@`%`", "GRANT SELECT, SHOW VIEW ON `shop`.* TO `u`@`%`"];
    const all = privilegeWarnings(grants, ["shop"], false, null);
    expect(all.map((w) => /lacks (\S+( \S+)?) on|routines/.exec(w)?.[0])).toEqual(["lacks TRIGGER on", "lacks EVENT on", "routines"]);
    const lean = { singleTransaction: false, routines: false, triggers: false, events: false } as never;
    expect(privilegeWarnings(grants, ["shop"], false, lean)).toEqual([
      'the user lacks LOCK TABLES on "shop": dumps without the single-transaction option will fail',
    ]);
  });
});
