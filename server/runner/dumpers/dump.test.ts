import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import mariadb from "mariadb";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnChild, type ExitInfo } from "../../process/spawn.ts";
import { buildDump } from "./build-dump.ts";
import { detectTools, findTools } from "./tools.ts";
import type { DumpCommand, DumpTools, ServerConnection } from "./types.ts";

const suffix = crypto.randomBytes(4).toString("hex");
const WEIRD = `we;ird $(x) ünï ${suffix}`;
const RESTORED = `sqlg_restored_${suffix}`;
const USER = `sqlg_dump_${suffix}`;
const PASSWORD = `Dump-${crypto.randomBytes(8).toString("hex")}`;
const ROW = "Zoë Ångström 日本語 🎉 it's";
const ROWS = 5000;

const MARIADB: ServerConnection = { engine: "MARIADB", host: "127.0.0.1", port: 3306, username: USER, password: PASSWORD, tls: false };
// Trust authentication ignores the password, but it still travels to pg_dump: it must stay out of argv.
const POSTGRES: ServerConnection = { engine: "POSTGRESQL", host: "127.0.0.1", port: 5432, username: "postgres", password: PASSWORD, tls: false };

const myIdent = (name: string) => `\`${name.replace(/`/g, "``")}\``;
const pgIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

async function mariadbRoot<T = unknown>(statements: string[]): Promise<T[]> {
  const c = await mariadb.createConnection({ host: "127.0.0.1", port: 3306, user: "root" });
  try {
    const results: T[] = [];
    for (const sql of statements) results.push((await c.query(sql)) as T);
    return results;
  } finally {
    await c.end();
  }
}

async function postgresRoot(statements: string[], database = "postgres"): Promise<void> {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database });
  await c.connect();
  try {
    for (const sql of statements) await c.query(sql);
  } finally {
    await c.end();
  }
}

type Run = { exit: ExitInfo; output: Buffer; cmdline: string };

/** Spawns the command as the runner does, reading its /proc command line while it runs. */
async function run(dump: DumpCommand, input?: Buffer): Promise<Run> {
  const child = spawnChild(dump.command, dump.args, { env: dump.env });
  // Right after spawn the child has exec'd and cannot have been reaped yet: /proc shows its argv.
  const cmdline = fs.readFileSync(`/proc/${child.pid}/cmdline`, "utf8").split("\0").join(" ");
  const chunks: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
  if (input) child.stdin.end(input);
  else child.stdin.end();
  const exit = await child.exited;
  return { exit, output: Buffer.concat(chunks), cmdline };
}

/** A plain command (restore tools) in the DumpCommand shape. */
const command = (cmd: string, args: string[], env: Record<string, string> = {}): DumpCommand => ({
  command: cmd,
  args,
  env,
  description: cmd,
  format: "sql",
  cleanup: async () => {},
});

let tools: DumpTools;

beforeAll(async () => {
  tools = await detectTools();
  // allSettled: afterAll must not run while a creation is still under way.
  const created = await Promise.allSettled([
    mariadbRoot([
      `CREATE DATABASE ${myIdent(WEIRD)} CHARACTER SET utf8mb4`,
      `CREATE DATABASE ${myIdent(RESTORED)} CHARACTER SET utf8mb4`,
      `CREATE TABLE ${myIdent(WEIRD)}.notes (id INT PRIMARY KEY, body VARCHAR(200) NOT NULL) ENGINE=InnoDB`,
      `INSERT INTO ${myIdent(WEIRD)}.notes VALUES (0, '${ROW.replace(/'/g, "''")}')`,
      // Enough rows that the dump is still running when /proc is read.
      `INSERT INTO ${myIdent(WEIRD)}.notes SELECT seq, CONCAT('row ', seq, ' ', REPEAT('x', 100)) FROM ${myIdent(WEIRD)}.seq_1_to_${ROWS}`,
      `CREATE USER '${USER}'@'%' IDENTIFIED BY '${PASSWORD}'`,
      `GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON ${myIdent(WEIRD)}.* TO '${USER}'@'%'`,
    ]),
    (async () => {
      await postgresRoot([`CREATE DATABASE ${pgIdent(WEIRD)}`]);
      await postgresRoot(["CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)", `INSERT INTO notes VALUES (0, '${ROW.replace(/'/g, "''")}')`], WEIRD);
    })(),
  ]);
  for (const r of created) if (r.status === "rejected") throw r.reason;
});

afterAll(async () => {
  await Promise.allSettled([
    mariadbRoot([`DROP DATABASE IF EXISTS ${myIdent(WEIRD)}`, `DROP DATABASE IF EXISTS ${myIdent(RESTORED)}`, `DROP USER IF EXISTS '${USER}'@'%'`]),
    postgresRoot([`DROP DATABASE IF EXISTS ${pgIdent(WEIRD)}`]),
  ]);
});

describe("detectTools", () => {
  it("finds mariadb-dump and pg_dump on this machine by absolute path, once", async () => {
    expect(tools.mysqlDump).toMatchObject({ flavor: "mariadb", version: expect.stringContaining("MariaDB") });
    expect(path.isAbsolute(tools.mysqlDump!.path)).toBe(true);
    expect(path.basename(tools.mysqlDump!.path)).toBe("mariadb-dump");
    expect(tools.pgDump?.version).toMatch(/^pg_dump \(PostgreSQL\) \d+/);
    expect(detectTools()).toBe(detectTools());
  });

  it("reports a missing program as null instead of throwing", async () => {
    const found = await findTools("/nonexistent:relative/dir");
    expect(found.mysqlDump).toBeNull();
    // pg_dump may still come from /usr/lib/postgresql/<major>/bin.
    if (found.pgDump) expect(found.pgDump.path).toMatch(/^\/usr\/lib\/postgresql\/[^/]+\/bin\/pg_dump$/);
  });
});

describe("a MariaDB dump", () => {
  it("dumps a weirdly named database with a password user, keeping the password out of argv, and restores under another name", async () => {
    const dump = buildDump(MARIADB, null, WEIRD, tools, "10.11.19-MariaDB");
    const { exit, output, cmdline } = await run(dump);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(cmdline).toContain(`--user=${USER}`);
    expect(cmdline).toContain(WEIRD);
    expect(cmdline).not.toContain(PASSWORD);
    expect(exit.stderrTail).not.toContain(PASSWORD);

    const sql = output.toString("utf8");
    expect(sql).toContain("CREATE TABLE `notes`");
    expect(sql).toContain(ROW.replace(/'/g, "\\'"));
    expect(sql).not.toMatch(/CREATE DATABASE|^USE /m);

    const restore = await run(
      command("mariadb", ["--no-defaults", "--host=127.0.0.1", "--protocol=TCP", "--user=root", "--default-character-set=utf8mb4", "--", RESTORED]),
      output,
    );
    expect(restore.exit).toMatchObject({ code: 0 });
    const [rows] = await mariadbRoot<{ body: string; n: number }[]>([
      `SELECT (SELECT body FROM ${myIdent(RESTORED)}.notes WHERE id = 0) AS body, (SELECT COUNT(*) FROM ${myIdent(RESTORED)}.notes) AS n`,
    ]);
    expect(rows![0]).toEqual({ body: ROW, n: BigInt(ROWS + 1) });
  });

  it("fails with the server's words for a wrong password", async () => {
    const { exit } = await run(buildDump({ ...MARIADB, password: "wrong-password" }, null, WEIRD, tools, "10.11.19-MariaDB"));
    expect(exit.code).not.toBe(0);
    expect(exit.stderrTail).toMatch(/Access denied/);
  });
});

describe("a PostgreSQL dump", () => {
  it("dumps a weirdly named database in plain format, the password only in the environment", async () => {
    const dump = buildDump(POSTGRES, null, WEIRD, tools, "15");
    const { exit, output, cmdline } = await run(dump);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(cmdline).toContain("--format=plain");
    expect(cmdline).not.toContain(PASSWORD);
    const sql = output.toString("utf8");
    expect(sql).toContain("CREATE TABLE public.notes");
    expect(sql).toContain(ROW);
    expect(sql).not.toMatch(/CREATE DATABASE|\\connect/);
  });

  it("dumps a custom-format archive that pg_restore reads", async () => {
    const dump = buildDump(POSTGRES, { ...defaults(), pgFormat: "CUSTOM" }, WEIRD, tools, "15");
    expect(dump.format).toBe("pg-custom");
    const { exit, output } = await run(dump);
    expect(exit.code).toBe(0);
    expect(output.subarray(0, 5).toString()).toBe("PGDMP");
    const restored = await run(command(path.join(path.dirname(tools.pgDump!.path), "pg_restore"), ["--file=-"]), output);
    expect(restored.exit.code).toBe(0);
    expect(restored.output.toString("utf8")).toContain(ROW);
  });
});

function defaults() {
  return {
    singleTransaction: true,
    quick: true,
    routines: true,
    triggers: true,
    events: true,
    hexBlob: true,
    setGtidPurged: null,
    columnStatistics: null,
    pgFormat: "PLAIN" as const,
    noOwner: true,
    noPrivileges: false,
    mysqlExtraFlags: [],
    pgExtraFlags: [],
  };
}
