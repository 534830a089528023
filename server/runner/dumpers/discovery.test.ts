import crypto from "node:crypto";
import mariadb from "mariadb";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classify, inspectServer, privilegeWarnings, replicationPosition, ServerConnectionError } from "./discovery.ts";
import type { ServerConnection } from "./types.ts";

// The MariaDB and PostgreSQL servers on this machine: root / postgres without a password.
const MARIADB: ServerConnection = { engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", password: null, tls: false };
const POSTGRES: ServerConnection = { engine: "POSTGRESQL", host: "127.0.0.1", port: 5432, username: "postgres", password: null, tls: false };

const suffix = crypto.randomBytes(4).toString("hex");
const WEIRD = `we;ird $(x) ünï ${suffix}`;
const PLAIN = `sqlg_disc_${suffix}`;
const USER = `sqlg_disc_${suffix}`;
const PASSWORD = `Pw-${crypto.randomBytes(6).toString("hex")}!$;`;

const myIdent = (name: string) => `\`${name.replace(/`/g, "``")}\``;
const pgIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

async function mariadbRoot(statements: string[]): Promise<void> {
  const c = await mariadb.createConnection({ host: "127.0.0.1", port: 3306, user: "root" });
  try {
    for (const sql of statements) await c.query(sql);
  } finally {
    await c.end();
  }
}

async function postgresRoot(statements: string[]): Promise<void> {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres" });
  await c.connect();
  try {
    for (const sql of statements) await c.query(sql);
  } finally {
    await c.end();
  }
}

async function failure(promise: Promise<unknown>): Promise<ServerConnectionError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServerConnectionError);
  return error as ServerConnectionError;
}

beforeAll(async () => {
  // allSettled: afterAll must not run while a creation is still under way.
  const created = await Promise.allSettled([
    mariadbRoot([
      `CREATE DATABASE ${myIdent(WEIRD)}`,
      `CREATE DATABASE ${myIdent(PLAIN)}`,
      `CREATE USER '${USER}'@'%' IDENTIFIED BY '${PASSWORD}'`,
      `GRANT SELECT ON ${myIdent(WEIRD)}.* TO '${USER}'@'%'`,
    ]),
    postgresRoot([`CREATE DATABASE ${pgIdent(WEIRD)}`, `CREATE DATABASE ${pgIdent(PLAIN)}`]),
  ]);
  for (const r of created) if (r.status === "rejected") throw r.reason;
});

afterAll(async () => {
  await Promise.allSettled([
    mariadbRoot([`DROP DATABASE IF EXISTS ${myIdent(WEIRD)}`, `DROP DATABASE IF EXISTS ${myIdent(PLAIN)}`, `DROP USER IF EXISTS '${USER}'@'%'`]),
    postgresRoot([`DROP DATABASE IF EXISTS ${pgIdent(WEIRD)}`, `DROP DATABASE IF EXISTS ${pgIdent(PLAIN)}`]),
  ]);
});

describe("inspectServer on MariaDB", () => {
  it("reports the version and the non-system databases in name order", async () => {
    const inspection = await inspectServer(MARIADB);
    expect(inspection.version).toMatch(/MariaDB/);
    expect(inspection.databases).toEqual(expect.arrayContaining([WEIRD, PLAIN]));
    for (const system of ["information_schema", "performance_schema", "mysql", "sys"]) expect(inspection.databases).not.toContain(system);
    expect(inspection.databases).toEqual([...inspection.databases].sort());
    expect(inspection.warnings).toEqual([]); // root has ALL PRIVILEGES
  });

  it("warns about the privileges a dump user lacks on the databases it sees", async () => {
    const inspection = await inspectServer({ ...MARIADB, username: USER, password: PASSWORD });
    expect(inspection.databases).toEqual([WEIRD]);
    const text = inspection.warnings.join("\n");
    expect(text).toContain(`the user lacks SHOW VIEW on ${JSON.stringify(WEIRD)}`);
    expect(text).toContain("TRIGGER");
    expect(text).toContain("EVENT");
    expect(text).toContain("routines defined by other users are silently left out");
    expect(text).not.toMatch(/lacks SELECT/);
  });

  it("refuses a wrong password as ACCESS_DENIED, without either password in the message", async () => {
    const wrong = `${PASSWORD}-wrong`;
    const error = await failure(inspectServer({ ...MARIADB, username: USER, password: wrong }));
    expect(error.kind).toBe("ACCESS_DENIED");
    expect(error.transient).toBe(false);
    expect(error.message).toContain(USER);
    expect(error.message).not.toContain(wrong);
    expect(error.message).not.toContain(PASSWORD);
  });

  it("reports a closed port as REFUSED, worth a retry", async () => {
    const error = await failure(inspectServer({ ...MARIADB, port: 1 }));
    expect(error).toMatchObject({ kind: "REFUSED", transient: true });
    expect(error.message).toContain("127.0.0.1:1");
  });

  it("reports TLS to a server without TLS as TLS", async () => {
    expect(await failure(inspectServer({ ...MARIADB, tls: true }))).toMatchObject({ kind: "TLS", transient: false });
  });

  it("reports an unknown host as UNKNOWN_HOST", async () => {
    expect(await failure(inspectServer({ ...MARIADB, host: "no-such-host.invalid" }))).toMatchObject({ kind: "UNKNOWN_HOST" });
  });

  it("reads the replication position or null, never throwing", async () => {
    const position = await replicationPosition(MARIADB);
    if (position !== null) expect(position.binlogFile ?? position.gtidSet).toBeTruthy();
    await expect(replicationPosition({ ...MARIADB, port: 1 })).resolves.toBeNull();
  });
});

describe("inspectServer on PostgreSQL", () => {
  it("lists connectable non-template databases in name order, postgres included", async () => {
    const inspection = await inspectServer(POSTGRES);
    expect(inspection.version).toMatch(/^\d+/);
    expect(inspection.databases).toEqual(expect.arrayContaining([WEIRD, PLAIN, "postgres"]));
    expect(inspection.databases).not.toContain("template0");
    expect(inspection.databases).not.toContain("template1");
    expect(inspection.databases).toEqual([...inspection.databases].sort());
    expect(inspection.warnings).toEqual([]);
  });

  it("reports an unknown role as ACCESS_DENIED", async () => {
    const error = await failure(inspectServer({ ...POSTGRES, username: `nobody_${suffix}`, password: PASSWORD }));
    expect(error).toMatchObject({ kind: "ACCESS_DENIED", transient: false });
    expect(error.message).not.toContain(PASSWORD);
  });

  it("reports a closed port as REFUSED and TLS to a server without TLS as TLS", async () => {
    expect(await failure(inspectServer({ ...POSTGRES, port: 1 }))).toMatchObject({ kind: "REFUSED", transient: true });
    expect(await failure(inspectServer({ ...POSTGRES, tls: true }))).toMatchObject({ kind: "TLS" });
  });

  it("reads the WAL position of a primary, and null when unreachable", async () => {
    expect(await replicationPosition(POSTGRES)).toEqual({ lsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/) });
    await expect(replicationPosition({ ...POSTGRES, port: 1 })).resolves.toBeNull();
  });
});

describe("classify", () => {
  it.each([
    [{ code: "ECONNREFUSED" }, "REFUSED", true],
    [{ code: "ENOTFOUND" }, "UNKNOWN_HOST", false],
    [{ code: "EAI_AGAIN" }, "UNKNOWN_HOST", true],
    [{ code: "ETIMEDOUT" }, "TIMEOUT", true],
    [{ code: "ER_CONNECTION_TIMEOUT", errno: 45012, message: "Connection timeout: failed to create socket after 10000ms" }, "TIMEOUT", true],
    [{ code: "ER_ACCESS_DENIED_ERROR", errno: 1045, text: "Access denied for user 'u'@'h' (using password: YES)" }, "ACCESS_DENIED", false],
    [{ code: "28P01", message: 'password authentication failed for user "u"' }, "ACCESS_DENIED", false],
    [{ code: "42501", message: 'permission denied for database "template1"' }, "PRIVILEGES", false],
    [{ code: "ER_CON_COUNT_ERROR", errno: 1040, text: "Too many connections" }, "OTHER", true],
    [{ code: "57P03", message: "the database system is starting up" }, "OTHER", true],
    [{ code: "53300", message: "sorry, too many clients already" }, "OTHER", true],
    [{ message: "Connection terminated unexpectedly" }, "OTHER", true],
    [{ message: "something odd" }, "OTHER", false],
    [{ code: "ER_ACCESS_DENIED_ERROR", errno: 1045, text: "Access denied for user 'ssl_timeout'@'h'" }, "ACCESS_DENIED", false],
    [{ message: "Connection terminated due to connection timeout" }, "TIMEOUT", true],
    [{ message: "The server does not support SSL connections" }, "TLS", false],
  ])("%j → %s", (error, kind, transient) => {
    expect(classify(error, MARIADB)).toMatchObject({ kind, transient });
  });

  it("scrubs the password from any driver text", () => {
    const error = classify({ message: "weird driver echo: hunter22" }, { ...MARIADB, password: "hunter22" });
    expect(error.message).not.toContain("hunter22");
    expect(error.message).toContain("[redacted]");
  });
});

describe("privilegeWarnings", () => {
  const dbs = ["app", "app_archive", "shop"];
  it.each([
    ["ALL PRIVILEGES globally", ["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"], []],
    ["roles it cannot see through", ["GRANT USAGE ON *.* TO `u`@`%`", "GRANT `backup_role` TO `u`@`%`"], []],
    ["every needed privilege globally", ["GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, REPLICATION CLIENT ON *.* TO `u`@`%`"], []],
    [
      "a wildcard database grant",
      ["GRANT USAGE ON *.* TO `u`@`%`", "GRANT ALL PRIVILEGES ON `app%`.* TO `u`@`%`"],
      ['SELECT on "shop"', 'SHOW VIEW on "shop"', 'TRIGGER on "shop"', 'EVENT on "shop"', 'LOCK TABLES on "shop"', "REPLICATION CLIENT"],
    ],
    [
      "an escaped underscore is no wildcard",
      ["GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, BINLOG MONITOR ON *.* TO `u`@`%`", "GRANT SELECT ON `app\\_x`.* TO `u`@`%`"],
      [],
    ],
    [
      "column and table grants do not count",
      ["GRANT USAGE, SUPER ON *.* TO `u`@`%`", "GRANT SELECT (`id`), SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON `app`.`t` TO `u`@`%`"],
      ['SELECT on "app", "app_archive", "shop"'],
    ],
  ])("%s", (_case, grants, expected) => {
    const warnings = privilegeWarnings(grants, dbs, true).join("\n");
    if (expected.length === 0) expect(warnings).toBe("");
    for (const part of expected) expect(warnings).toContain(part);
  });

  it("accepts SELECT on mysql.proc for reading routines, and wants it otherwise", () => {
    const dbLevel = "GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON `app`.* TO `u`@`%`";
    expect(privilegeWarnings(["GRANT USAGE ON *.* TO `u`@`%`", dbLevel, "GRANT SELECT ON `mysql`.`proc` TO `u`@`%`"], ["app"], false)).toEqual([]);
    expect(privilegeWarnings(["GRANT USAGE ON *.* TO `u`@`%`", dbLevel], ["app"], false)).toEqual([expect.stringContaining("routines defined by other users")]);
    expect(privilegeWarnings(["GRANT USAGE ON *.* TO `u`@`%`", dbLevel], [], false)).toEqual([]);
  });

  it("does not ask for the binlog privilege when the binary log is off", () => {
    expect(privilegeWarnings(["GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON *.* TO `u`@`%`"], dbs, false)).toEqual([]);
  });
});
