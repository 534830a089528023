import { describe, expect, it } from "vitest";
import type { ServerConnection } from "../runner/dumpers/types.ts";
import { buildRestoreCommands, databaseNameProblem, defaultRestoreName } from "./restore-command.ts";
import type { RestoreTools } from "./restore-tools.ts";

const TOOLS: RestoreTools = {
  mysql: { path: "/usr/bin/mariadb", flavor: "mariadb", version: "mariadb  Ver 15.1 Distrib 10.11.19-MariaDB" },
  psql: { path: "/usr/bin/psql", version: "psql (PostgreSQL) 15.20" },
  pgRestore: { path: "/usr/lib/postgresql/15/bin/pg_restore", version: "pg_restore (PostgreSQL) 15.20" },
};
const maria: ServerConnection = { engine: "MARIADB", host: "db", port: 3307, username: "backup", password: "s3cret pw", tls: false };
const pg: ServerConnection = { engine: "POSTGRESQL", host: "pg", port: 5433, username: "restorer", password: "pg-secret", tls: true };

describe("buildRestoreCommands", () => {
  it("passes a MariaDB database name after -- and the password only in MYSQL_PWD", () => {
    const { client, converter, transactional } = buildRestoreCommands(maria, "--host=evil", "sql", TOOLS);
    expect(client.command).toBe("/usr/bin/mariadb");
    expect(client.args.slice(-2)).toEqual(["--", "--host=evil"]);
    expect(client.args).toContain("--no-defaults");
    expect(client.args).toContain("--binary-mode");
    expect(client.args).toContain("--host=db");
    expect(client.args.join(" ")).not.toContain("s3cret");
    expect(client.env).toEqual({ MYSQL_PWD: "s3cret pw" });
    expect(client.description).not.toContain("--host=evil");
    expect(converter).toBeNull();
    expect(transactional).toBe(false);
  });

  it("gives psql everything through libpq variables, PGDATABASE as a plain name", () => {
    const { client, transactional } = buildRestoreCommands(pg, "host=evil dbname=x", "sql", TOOLS);
    expect(client.args).toEqual(["--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=1", "--file=-"]);
    expect(client.env).toMatchObject({
      PGHOST: "pg",
      PGPORT: "5433",
      PGUSER: "restorer",
      PGDATABASE: "host=evil dbname=x",
      PGPASSWORD: "pg-secret",
      PGSSLMODE: "require",
    });
    expect(transactional).toBe(true);
  });

  it("turns a custom archive into SQL with pg_restore, applied by psql in one transaction", () => {
    const { converter, transactional } = buildRestoreCommands(pg, "shop", "pg-custom", TOOLS);
    expect(converter).toMatchObject({ command: "/usr/lib/postgresql/15/bin/pg_restore", args: ["--no-owner", "--file=-"], env: {} });
    expect(transactional).toBe(true);
  });

  it.each([
    ["Oracle's mysql without TLS", "mysql", {}, true],
    ["Oracle's mysql without TLS, retrieval off", "mysql", { allowPublicKeyRetrieval: false }, false],
    ["Oracle's mysql over TLS", "mysql", { tls: true }, false],
    ["MariaDB's client (fetches the key itself)", "mariadb", {}, false],
  ] as const)("passes --get-server-public-key to %s: %s", (_client, flavor, over, expected) => {
    const tools = { ...TOOLS, mysql: { path: "/usr/bin/mysql", flavor, version: "x" } };
    const { client } = buildRestoreCommands({ ...maria, engine: "MYSQL", ...over }, "shop", "sql", tools);
    expect(client.args.includes("--get-server-public-key")).toBe(expected);
    expect(client.args.slice(-2)).toEqual(["--", "shop"]);
  });

  it.each([
    ["MariaDB's client 10.11.19", "mariadb", "mariadb  Ver 15.1 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)", false],
    ["MariaDB's client 10.11.6 (before sandbox mode)", "mariadb", "mariadb  Ver 15.1 Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)", true],
    ["Oracle's mysql 8.0", "mysql", "mysql  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)", true],
    ["Oracle's mysql 8.4", "mysql", "mysql  Ver 8.4.3 for Linux on x86_64 (MySQL Community Server - GPL)", true],
  ] as const)("drops a MariaDB dump's sandbox first line for %s: %s", (_client, flavor, version, strip) => {
    const tools = { ...TOOLS, mysql: { path: "/usr/bin/mysql", flavor, version } };
    expect(buildRestoreCommands({ ...maria, engine: "MYSQL" }, "shop", "sql", tools).stripSandboxLine).toBe(strip);
    expect(buildRestoreCommands(pg, "shop", "sql", tools).stripSandboxLine).toBe(false);
  });

  it.each([
    ["no mariadb/mysql client", maria, "sql", { ...TOOLS, mysql: null }, /neither mariadb nor mysql/],
    ["no psql", pg, "sql", { ...TOOLS, psql: null }, /psql is not installed/],
    ["no pg_restore for a custom archive", pg, "pg-custom", { ...TOOLS, pgRestore: null }, /pg_restore is not installed/],
    ["a custom archive into MariaDB", maria, "pg-custom", TOOLS, /cannot be restored into MySQL or MariaDB/],
  ] as const)("refuses %s", (_label, conn, format, tools, message) => {
    expect(() => buildRestoreCommands(conn, "db", format, tools)).toThrow(message);
  });
});

describe("database names", () => {
  it.each([
    ["MARIADB", "shop_restored", null],
    ["MARIADB", "", /empty/],
    ["MARIADB", "a\0b", /NUL/],
    ["MARIADB", "x".repeat(65), /64 characters/],
    ["MARIADB", "ends with space ", /space/],
    ["MARIADB", "MySQL", /system database/],
    ["POSTGRESQL", "ü".repeat(32), /63 bytes/],
    ["POSTGRESQL", "template1", /template/],
    ["POSTGRESQL", "we;ird $(x)", null],
  ] as const)("%s %j → %s", (engine, name, problem) => {
    const found = databaseNameProblem(engine, name);
    if (problem === null) expect(found).toBeNull();
    else expect(found).toMatch(problem);
  });

  it("names a default target after the source and the UTC time, shortened to fit", () => {
    const at = new Date("2026-11-23T02:03:04.567Z");
    expect(defaultRestoreName("MARIADB", "shop", at)).toBe("shop_restored_20261123_020304");
    const long = defaultRestoreName("POSTGRESQL", "é".repeat(60), at);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^é+_restored_20261123_020304$/);
    expect([...defaultRestoreName("MYSQL", "x".repeat(80), at)].length).toBe(64);
  });
});
