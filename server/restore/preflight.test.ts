import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quoteIdent } from "../db/connection.ts";
import { createServer, createTarget, dataOf, listFiles, processesWith, runBackup, waitForBackup, type BackupView } from "../testing/backup-helpers.ts";
import { dropMariadbDatabase, dropPgDatabase, mariadbExec, pgExec, POSTGRES, uniqueName } from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";
import { runCli } from "../cli/testing/run-cli.ts";
import { requestRestore, waitForRestore, type RestoreView } from "./testing/restore-helpers.ts";

const PREFLIGHT = `query($input: RestorePreflightInput!) { restorePreflight(input: $input) {
  restoringUser definers objectCount canRewriteDefiners warnings problems { kind name definer problem solvedByRewrite } } }`;

type Preflight = {
  restoringUser: string;
  definers: string[];
  objectCount: number;
  canRewriteDefiners: boolean;
  warnings: string[];
  problems: Array<{ kind: string; name: string; definer: string | null; problem: string; solvedByRewrite: boolean }>;
};

/**
 * Restoring as a least-privilege user, on the real MariaDB and PostgreSQL: a dump whose view,
 * trigger, routines and event are DEFINER=root@localhost is pre-flighted, refused clearly without
 * a rewrite (nothing left behind), and restored with rewriteDefiners, the objects then defined by
 * the restoring user.
 */
describe("restore pre-flight and definer rewrite", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let operator: Awaited<ReturnType<typeof app.as>>;
  let mariaId: number;
  let pgId: number;
  let backup: BackupView;
  let viewBackup: BackupView;
  const viewSource = uniqueName("pfview");
  let pgBackup: BackupView;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-preflight-"));
  const source = uniqueName("pfsrc");
  const target = uniqueName("pftgt");
  const cliTarget = uniqueName("pfcli");
  const pgSource = uniqueName("pfpg");
  const pgTarget = uniqueName("pfpgt");
  const user = `sqlg_pf_${crypto.randomBytes(4).toString("hex")}`;
  const owner = `sqlg_pfo_${crypto.randomBytes(4).toString("hex")}`;
  const password = `pw-${crypto.randomBytes(6).toString("hex")}'"`;
  const credentials = { username: user, password };
  const restoreAs = (input: Record<string, unknown>) => requestRestore(operator, { credentials, ...input });
  const preflight = async (input: Record<string, unknown>) =>
    (dataOf(await operator(PREFLIGHT, { input })) as { restorePreflight: Preflight }).restorePreflight;

  beforeAll(async () => {
    app = await createTestApp();
    const admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    const localId = await createTarget(admin, { name: "pf-local", kind: "LOCAL", path: path.join(work, "local") });
    mariaId = await createServer(admin, { name: "maria-pf", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
    // Owners kept in the dump (the default leaves them out), so the restore meets them.
    const profile = dataOf(await admin(`mutation { createDumpOptions(input: { name: "pf-owners", noOwner: false, compression: GZIP }) { id } }`)) as {
      createDumpOptions: { id: number };
    };
    pgId = await createServer(admin, {
      name: "pg-pf",
      engine: "POSTGRESQL",
      host: "127.0.0.1",
      port: 5432,
      username: POSTGRES.user,
      dumpOptionsId: profile.createDumpOptions.id,
    });
    await mariadbExec([`CREATE DATABASE ${quoteIdent(source)}`]);
    await mariadbExec(
      [
        "CREATE TABLE orders (id INT PRIMARY KEY, total INT) ENGINE=InnoDB",
        "CREATE TABLE orders_log (id INT) ENGINE=InnoDB",
        "INSERT INTO orders VALUES (1, 10), (2, 20)",
        "CREATE DEFINER=root@localhost VIEW big_orders AS SELECT id FROM orders WHERE total > 15",
        "CREATE DEFINER=root@localhost TRIGGER orders_ai AFTER INSERT ON orders FOR EACH ROW INSERT INTO orders_log VALUES (NEW.id)",
        "CREATE DEFINER=root@localhost PROCEDURE order_count(OUT n INT) SELECT COUNT(*) INTO n FROM orders",
        "CREATE DEFINER=root@localhost EVENT purge_log ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM orders_log",
      ],
      source,
    );
    // Least privilege: everything on the target database, nothing else.
    await mariadbExec([
      `CREATE USER '${user}'@'%' IDENTIFIED BY ${sqlString(password)}`,
      `GRANT ALL ON ${quoteIdent(target)}.* TO '${user}'@'%'`,
      `GRANT ALL ON ${quoteIdent(cliTarget)}.* TO '${user}'@'%'`,
    ]);
    await pgExec([`CREATE DATABASE ${pgSource}`, `CREATE ROLE ${owner}`, `CREATE ROLE ${user} LOGIN CREATEDB PASSWORD ${sqlString(password)}`]);
    await pgExec(
      [
        `CREATE TABLE items (id int PRIMARY KEY)`,
        `INSERT INTO items VALUES (1), (2)`,
        `ALTER TABLE items OWNER TO ${owner}`,
        `CREATE VIEW items_v AS SELECT id FROM items`,
        `ALTER VIEW items_v OWNER TO ${owner}`,
      ],
      pgSource,
    );
    // A view alone: its CREATE statement begins on the line before its DEFINER clause.
    await mariadbExec([`CREATE DATABASE ${quoteIdent(viewSource)}`]);
    await mariadbExec(["CREATE TABLE t (id INT)", "CREATE DEFINER=root@localhost VIEW only_view AS SELECT id FROM t"], viewSource);
    const [v] = await runBackup(operator, { serverId: mariaId, databases: [viewSource], storageTargetIds: [localId] });
    const [m] = await runBackup(operator, { serverId: mariaId, databases: [source], storageTargetIds: [localId] });
    const [p] = await runBackup(operator, { serverId: pgId, databases: [pgSource], storageTargetIds: [localId] });
    [backup, pgBackup, viewBackup] = await Promise.all([waitForBackup(operator, m!.id), waitForBackup(operator, p!.id), waitForBackup(operator, v!.id)]);
    expect([backup.status, pgBackup.status, viewBackup.status]).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await dropMariadbDatabase(source);
    await dropMariadbDatabase(viewSource);
    await dropMariadbDatabase(target);
    await dropMariadbDatabase(cliTarget);
    await mariadbExec([`DROP USER IF EXISTS '${user}'@'%'`]).catch(() => {});
    await dropPgDatabase(pgSource);
    await dropPgDatabase(pgTarget);
    await pgExec([`DROP ROLE IF EXISTS ${user}`, `DROP ROLE IF EXISTS ${owner}`]).catch(() => {});
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("pre-flight lists every object defined by root@localhost and what the least-privilege user lacks", async () => {
    const result = await preflight({ backupId: backup.id, serverId: mariaId, database: target, credentials });
    expect(result.restoringUser).toBe(`${user}@%`);
    expect(result.definers).toEqual(["root@localhost"]);
    expect(result.objectCount).toBe(4);
    expect(result.canRewriteDefiners).toBe(true);
    expect(result.warnings).toEqual([
      `rewriting the definers makes ${user}@% the definer of every object: triggers, events and SQL SECURITY DEFINER views and routines then run with its privileges instead of root@localhost's`,
    ]);
    const byName = Object.fromEntries(result.problems.map((p) => [`${p.kind} ${p.name}`, p]));
    expect(Object.keys(byName).sort()).toEqual(
      [`EVENT ${source}.purge_log`, `PROCEDURE ${source}.order_count`, `TRIGGER ${source}.orders_ai`, `VIEW ${source}.big_orders`].sort(),
    );
    expect(byName[`TRIGGER ${source}.orders_ai`]).toEqual({
      kind: "TRIGGER",
      name: `${source}.orders_ai`,
      definer: "root@localhost",
      problem: `trigger ${source}.orders_ai is defined by root@localhost; ${user}@% lacks SET USER / SUPER`,
      solvedByRewrite: true,
    });
    // The server's own backup user (root) may set any definer: nothing to report.
    const asRoot = await preflight({ backupId: backup.id, serverId: mariaId, database: target });
    expect(asRoot).toMatchObject({ restoringUser: expect.stringMatching(/^root@/), definers: ["root@localhost"], problems: [], warnings: [] });
    expect(JSON.stringify(result)).not.toContain(password);
  });

  it("a wrong password is refused naming the credentials, without the password", async () => {
    const r = await operator(PREFLIGHT, {
      input: { backupId: backup.id, serverId: mariaId, database: target, credentials: { username: user, password: "nope-x1" } },
    });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "credentials" });
    expect(r.errors?.[0]?.message).toMatch(new RegExp(`${user} cannot sign in to maria-pf: .*Access denied`));
    const empty = await requestRestore(operator, { backupId: backup.id, serverId: mariaId, database: target, credentials: { username: " ", password } });
    expect(empty.errors?.[0]?.extensions).toMatchObject({ field: "credentials.username" });
  });

  it("without a rewrite the restore fails naming the object and its definer, and leaves no database behind", async () => {
    const started = dataOf(await restoreAs({ backupId: backup.id, serverId: mariaId, database: target })) as { restoreBackup: RestoreView };
    const restore = await waitForRestore(operator, started.restoreBackup.id);
    expect(restore.status).toBe("FAILED");
    expect(restore.error).toMatch(new RegExp(`^trigger orders_ai is defined by root@localhost, and ${user} may not create objects for another account`));
    expect(restore.error).toContain("ERROR 1227");
    expect(restore.error).not.toContain(password);
    expect(restore.targetState).toBe("UNTOUCHED");
    const rows = (await mariadbExec([`SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${target}'`]))[0] as unknown[];
    expect(rows).toEqual([]);
  });

  it("a refused view is named too (its statement begins the line before its DEFINER clause)", async () => {
    const started = dataOf(await restoreAs({ backupId: viewBackup.id, serverId: mariaId, database: target })) as { restoreBackup: RestoreView };
    const restore = await waitForRestore(operator, started.restoreBackup.id);
    expect(restore.status).toBe("FAILED");
    expect(restore.error).toMatch(new RegExp(`^view only_view is defined by root@localhost, and ${user} may not create objects for another account`));
    expect(restore.targetState).toBe("UNTOUCHED");
  });

  it("with rewriteDefiners the restore succeeds and every object is defined by the restoring user", async () => {
    // The password travels in the client's environment only: no command line ever holds it.
    const seen: string[] = [];
    const sampler = setInterval(() => seen.push(...processesWith(password).map((p) => p.argv)), 20);
    const started = dataOf(await restoreAs({ backupId: backup.id, serverId: mariaId, database: target, rewriteDefiners: true })) as {
      restoreBackup: RestoreView & { restoreUser: string };
    };
    const restore = await waitForRestore(operator, started.restoreBackup.id).finally(() => clearInterval(sampler));
    expect(restore.error).toBeNull();
    expect(restore.status).toBe("SUCCEEDED");
    expect(seen).toEqual([]);
    const me = `${user}@%`;
    const [views, triggers, routines, events, rows] = (await mariadbExec([
      `SELECT TABLE_NAME AS n, DEFINER AS d FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '${target}'`,
      `SELECT TRIGGER_NAME AS n, DEFINER AS d FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '${target}'`,
      `SELECT ROUTINE_NAME AS n, DEFINER AS d FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '${target}'`,
      `SELECT EVENT_NAME AS n, DEFINER AS d FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '${target}'`,
      `SELECT COUNT(*) AS n FROM ${quoteIdent(target)}.big_orders`,
    ])) as Array<Array<{ n: string; d: string }>>;
    expect([...views!, ...triggers!, ...routines!, ...events!].map((o) => `${o.n} ${o.d}`).sort()).toEqual(
      [`big_orders ${me}`, `order_count ${me}`, `orders_ai ${me}`, `purge_log ${me}`].sort(),
    );
    expect(Number(rows![0]!.n)).toBe(1);
    // Recorded and audited as that user, never with the password.
    const row = await app.db.prisma.restore.findUniqueOrThrow({ where: { id: Number(restore.id) } });
    expect(row).toMatchObject({ restoreUser: user, rewriteDefiners: true });
    const audit = await app.db.prisma.auditLog.findMany({ where: { entityType: "restore", entityId: String(restore.id) } });
    expect(audit.length).toBeGreaterThan(0);
    expect(JSON.stringify(audit)).toContain(user);
    expect(JSON.stringify(audit)).not.toContain(password);
    expect(JSON.stringify(row, (_k, v) => (typeof v === "bigint" ? String(v) : v))).not.toContain(password);
  });

  it("a restore as another user whose password this process does not hold fails without touching anything", async () => {
    const prisma = app.db.prisma;
    const last = await prisma.restore.findFirstOrThrow({ where: { backupId: Number(backup.id), status: "SUCCEEDED" }, orderBy: { id: "desc" } });
    const orphan = await prisma.restore.create({
      data: {
        backupId: backup.id,
        storageTargetId: last.storageTargetId,
        artifactKey: last.artifactKey,
        serverId: mariaId,
        serverName: "maria-pf",
        engine: "MARIADB",
        sourceDatabase: source,
        database: uniqueName("pforphan"),
        requestedBy: "test",
        restoreUser: user,
      },
    });
    // As after a restart, or on an instance that never saw the password.
    app.restore.jobs.start(orphan.id);
    const ended = await waitForRestore(operator, orphan.id);
    expect(ended.status).toBe("FAILED");
    expect(ended.error).toMatch(new RegExp(`^the password for restoring as ${user} was held only by the process that accepted the restore`));
    expect(ended.targetState).toBe("UNTOUCHED");
  });

  it("sqlguard restore --rewrite-definers restores the artifact file as the least-privilege user", async () => {
    const local = path.join(work, "local");
    const file = path.join(local, listFiles(local).find((f) => f.includes(source) && f.endsWith(".sql.zst"))!);
    const to = `mysql://${user}@127.0.0.1:3306`;
    const refused = await runCli(["restore", "--file", file, "--to", to, "--database", cliTarget], { MYSQL_PWD: password });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/trigger orders_ai is defined by root@localhost/);
    const done = await runCli(["restore", "--file", file, "--to", to, "--database", cliTarget, "--rewrite-definers"], { MYSQL_PWD: password });
    expect(done.stderr).not.toContain(password);
    expect(done.code).toBe(0);
    const [triggers] = (await mariadbExec([`SELECT DEFINER AS d FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '${cliTarget}'`])) as Array<
      Array<{ d: string }>
    >;
    expect(triggers).toEqual([{ d: `${user}@%` }]);
  });

  it("PostgreSQL: the pre-flight names the owners the role may not use, and rewriteDefiners drops OWNER TO", async () => {
    const result = await preflight({ backupId: pgBackup.id, serverId: pgId, database: pgTarget, credentials });
    expect(result.restoringUser).toBe(user);
    expect(result.definers).toEqual([owner]);
    expect(result.problems.map((p) => p.problem).sort()).toEqual(
      [
        `table public.items is owned by ${owner}; ${user} is not a member of ${owner}`,
        `table public.items_v is owned by ${owner}; ${user} is not a member of ${owner}`,
      ].sort(),
    );
    const failed = await waitForRestore(
      operator,
      (dataOf(await restoreAs({ backupId: pgBackup.id, serverId: pgId, database: pgTarget })) as { restoreBackup: RestoreView }).restoreBackup.id,
    );
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toContain(`must be member of role "${owner}"`);
    const ok = await waitForRestore(
      operator,
      (dataOf(await restoreAs({ backupId: pgBackup.id, serverId: pgId, database: pgTarget, rewriteDefiners: true })) as { restoreBackup: RestoreView })
        .restoreBackup.id,
    );
    expect(ok.error).toBeNull();
    expect(ok.status).toBe("SUCCEEDED");
    const [owners] = (await pgExec(
      [`SELECT relname || ' ' || pg_get_userbyid(relowner) AS o FROM pg_class WHERE relname IN ('items', 'items_v') ORDER BY 1`],
      pgTarget,
    )) as Array<Array<{ o: string }>>;
    expect(owners!.map((r) => r.o)).toEqual([`items ${user}`, `items_v ${user}`]);
  });
});

function sqlString(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}
