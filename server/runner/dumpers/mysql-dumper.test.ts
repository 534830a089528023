import { describe, expect, it } from "vitest";
import { buildMysqlDump } from "./mysql-dumper.ts";
import type { DumpProfile, DumpTools, ServerConnection } from "./types.ts";

const MARIADB_TOOL: DumpTools = {
  mysqlDump: { path: "/usr/bin/mariadb-dump", flavor: "mariadb", version: "mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)" },
  pgDump: null,
};
const MYSQL8_TOOL: DumpTools = {
  mysqlDump: { path: "/usr/bin/mysqldump", flavor: "mysql", version: "mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)" },
  pgDump: null,
};
const MYSQL57_TOOL: DumpTools = {
  mysqlDump: { path: "/usr/bin/mysqldump", flavor: "mysql", version: "mysqldump  Ver 10.13 Distrib 5.7.44, for Linux (x86_64)" },
  pgDump: null,
};
const MYSQL84_TOOL: DumpTools = {
  mysqlDump: { path: "/usr/bin/mysqldump", flavor: "mysql", version: "mysqldump  Ver 8.4.3 for Linux on x86_64 (MySQL Community Server - GPL)" },
  pgDump: null,
};
const MYSQL8025_TOOL: DumpTools = {
  mysqlDump: { path: "/usr/bin/mysqldump", flavor: "mysql", version: "mysqldump  Ver 8.0.25 for Linux on x86_64 (MySQL Community Server - GPL)" },
  pgDump: null,
};
const MYSQL55_TOOL: DumpTools = {
  mysqlDump: { path: "/usr/bin/mysqldump", flavor: "mysql", version: "mysqldump  Ver 10.13 Distrib 5.5.62, for linux-glibc2.12 (x86_64)" },
  pgDump: null,
};
const MARIADB_SERVER = "10.11.19-MariaDB-0+deb12u1";
const MYSQL8_SERVER = "8.0.36";
const MYSQL57_SERVER = "5.7.44-log";
const PASSWORD = "s3cr3t pa$$ word";
const WEIRD = "we;ird $(x) ünï";

const conn = (over: Partial<ServerConnection> = {}): ServerConnection => ({
  engine: "MARIADB",
  host: "db.example",
  port: 3307,
  username: "backup",
  password: PASSWORD,
  tls: false,
  ...over,
});

/** A profile with the schema defaults, then `over`. */
const profile = (over: Partial<DumpProfile> = {}): DumpProfile => ({
  singleTransaction: true,
  quick: true,
  routines: true,
  triggers: true,
  events: true,
  hexBlob: true,
  setGtidPurged: null,
  columnStatistics: null,
  pgFormat: "PLAIN",
  noOwner: true,
  noPrivileges: false,
  mysqlExtraFlags: [],
  pgExtraFlags: [],
  ...over,
});

describe("buildMysqlDump", () => {
  it("passes the password only in MYSQL_PWD, never in argv or the description", () => {
    const dump = buildMysqlDump(conn(), null, "app", MARIADB_TOOL, MARIADB_SERVER);
    expect(dump.env).toEqual({ MYSQL_PWD: PASSWORD });
    expect(dump.args.join("\n")).not.toContain(PASSWORD);
    expect(dump.args.some((a) => a.startsWith("--password") || a.startsWith("-p"))).toBe(false);
    expect(dump.description).not.toContain(PASSWORD);
    expect(dump.description).toMatch(/^mariadb-dump 10\.11\.19-MariaDB --single-transaction/);
  });

  it("sets no MYSQL_PWD when the server has no password", () => {
    expect(buildMysqlDump(conn({ password: null }), null, "app", MARIADB_TOOL, MARIADB_SERVER).env).toEqual({});
  });

  it("connects over TCP to the configured host, port and user, ignoring local option files", () => {
    const dump = buildMysqlDump(conn(), null, "app", MARIADB_TOOL, MARIADB_SERVER);
    expect(dump.command).toBe("/usr/bin/mariadb-dump");
    expect(dump.args[0]).toBe("--no-defaults");
    expect(dump.args).toEqual(expect.arrayContaining(["--host=db.example", "--port=3307", "--user=backup", "--protocol=TCP"]));
    expect(dump.format).toBe("sql");
  });

  it.each([[WEIRD], ["--host=evil.example"], ["-pxyz"], ["app`; DROP DATABASE x; --"]])("passes the database %j as one argv element after --, last", (name) => {
    const { args } = buildMysqlDump(conn(), null, name, MARIADB_TOOL, MARIADB_SERVER);
    expect(args.at(-1)).toBe(name);
    expect(args.at(-2)).toBe("--");
    expect(args.filter((a) => a === "--")).toHaveLength(1);
    expect(args.filter((a) => a.includes(name))).toHaveLength(1);
  });

  it("never dumps with --databases or --all-databases (no CREATE DATABASE / USE)", () => {
    const { args } = buildMysqlDump(conn(), null, "app", MARIADB_TOOL, MARIADB_SERVER);
    expect(args.filter((a) => /^--(databases|all-databases|add-drop-database)$|^-[AB]$/.test(a))).toEqual([]);
  });

  it.each([
    ["", /empty/],
    ["a\0b", /NUL/],
  ])("refuses the database name %j", (name, message) => {
    expect(() => buildMysqlDump(conn(), null, name, MARIADB_TOOL, MARIADB_SERVER)).toThrow(message);
  });

  it("uses the schema defaults for a null profile", () => {
    const fromNull = buildMysqlDump(conn(), null, "app", MARIADB_TOOL, MARIADB_SERVER).args;
    const fromDefaults = buildMysqlDump(conn(), profile(), "app", MARIADB_TOOL, MARIADB_SERVER).args;
    expect(fromNull).toEqual(fromDefaults);
    expect(fromNull).toEqual(expect.arrayContaining(["--single-transaction", "--routines", "--events", "--hex-blob", "--default-character-set=utf8mb4"]));
    expect(fromNull.filter((a) => a.startsWith("--skip-"))).toEqual([]);
  });

  it("turns profile options off with --skip-… where the tool default is on, by leaving them out otherwise", () => {
    const off = profile({ singleTransaction: false, quick: false, routines: false, triggers: false, events: false, hexBlob: false });
    const { args } = buildMysqlDump(conn(), off, "app", MARIADB_TOOL, MARIADB_SERVER);
    expect(args).toEqual(expect.arrayContaining(["--skip-quick", "--skip-triggers"]));
    for (const flag of ["--single-transaction", "--routines", "--events", "--hex-blob", "--quick", "--triggers"]) expect(args).not.toContain(flag);
  });

  it.each([
    ["mariadb", MARIADB_TOOL, "--ssl"],
    ["mysql", MYSQL8_TOOL, "--ssl-mode=REQUIRED"],
  ])("requires TLS the %s way when the server has tls", (_flavor, tools, flag) => {
    expect(buildMysqlDump(conn({ tls: true }), null, "app", tools, MYSQL8_SERVER).args).toContain(flag);
    expect(buildMysqlDump(conn({ tls: false }), null, "app", tools, MYSQL8_SERVER).args.filter((a) => a.startsWith("--ssl"))).toEqual([]);
  });

  it.each([
    ["Oracle's mysqldump, no TLS", MYSQL8_TOOL, {}, true],
    ["Oracle's mysqldump, no TLS, retrieval allowed", MYSQL8_TOOL, { allowPublicKeyRetrieval: true }, true],
    ["Oracle's mysqldump, no TLS, retrieval off", MYSQL8_TOOL, { allowPublicKeyRetrieval: false }, false],
    ["Oracle's mysqldump over TLS (no key needed)", MYSQL8_TOOL, { tls: true }, false],
    ["Oracle's mysqldump 8.4", MYSQL84_TOOL, {}, true],
    ["mariadb-dump (fetches the key itself; no such option)", MARIADB_TOOL, {}, false],
  ] as const)("--get-server-public-key (caching_sha2_password after a restart): %s", (_case, tools, over, expected) => {
    const { args, description } = buildMysqlDump(conn({ engine: "MYSQL", ...over }), null, "app", tools, MYSQL8_SERVER);
    expect(args.includes("--get-server-public-key")).toBe(expected);
    expect(args.indexOf("--get-server-public-key")).toBeLessThan(args.indexOf("--"));
    expect(description).not.toContain("--get-server-public-key");
  });

  it.each([
    ["mysql tool, MySQL 8 server", MYSQL8_TOOL, MYSQL8_SERVER, "OFF" as const, "--set-gtid-purged=OFF"],
    ["mysql tool, MySQL 5.7 server", MYSQL57_TOOL, MYSQL57_SERVER, "AUTO" as const, "--set-gtid-purged=AUTO"],
    ["mysql tool, MySQL 8 server, profile ON (to seed a replica)", MYSQL8_TOOL, MYSQL8_SERVER, "ON" as const, "--set-gtid-purged=ON"],
    // Restorable into the same GTID server, and replicated when restored: not mysqldump's AUTO.
    ["mysql tool, profile unset", MYSQL8_TOOL, MYSQL8_SERVER, null, "--set-gtid-purged=OFF"],
    ["mysql 5.7 tool, profile unset", MYSQL57_TOOL, MYSQL57_SERVER, null, "--set-gtid-purged=OFF"],
    ["mysql 8.4 tool, profile unset", MYSQL84_TOOL, "8.4.3", null, "--set-gtid-purged=OFF"],
    ["mysql tool, MariaDB server (no gtid_mode)", MYSQL8_TOOL, MARIADB_SERVER, "ON" as const, "--set-gtid-purged=OFF"],
    ["mysql 5.5 tool (no such option)", MYSQL55_TOOL, MYSQL57_SERVER, "ON" as const, null],
    ["mariadb tool, MySQL server", MARIADB_TOOL, MYSQL8_SERVER, "ON" as const, null],
  ])("--set-gtid-purged: %s", (_case, tools, server, setting, expected) => {
    const { args } = buildMysqlDump(conn({ engine: "MYSQL" }), profile({ setGtidPurged: setting }), "app", tools, server);
    expect(args.filter((a) => a.startsWith("--set-gtid-purged")).at(0) ?? null).toBe(expected);
  });

  it.each([
    ["mysql 8 tool, MariaDB server", MYSQL8_TOOL, MARIADB_SERVER, null, true],
    ["mysql 8 tool, MariaDB server, profile on", MYSQL8_TOOL, MARIADB_SERVER, true, true],
    ["mysql 8 tool, MySQL 5.7 server", MYSQL8_TOOL, MYSQL57_SERVER, null, true],
    ["mysql 8 tool, MySQL 8 server, profile unset", MYSQL8_TOOL, MYSQL8_SERVER, null, false],
    ["mysql 8 tool, MySQL 8 server, profile off", MYSQL8_TOOL, MYSQL8_SERVER, false, true],
    ["mysql 8 tool, MySQL 8 server, profile on", MYSQL8_TOOL, MYSQL8_SERVER, true, false],
    ["mysql 5.7 tool (no such option), profile off", MYSQL57_TOOL, MYSQL57_SERVER, false, false],
    ["mariadb tool (no such option), profile off", MARIADB_TOOL, MYSQL8_SERVER, false, false],
  ])("--column-statistics=0: %s", (_case, tools, server, setting, expected) => {
    const { args } = buildMysqlDump(conn(), profile({ columnStatistics: setting }), "app", tools, server);
    expect(args.includes("--column-statistics=0")).toBe(expected);
    expect(args.filter((a) => a.startsWith("--column-statistics") && a !== "--column-statistics=0")).toEqual([]);
  });

  it("tells a MariaDB server by the engine when the version is unknown", () => {
    const { args } = buildMysqlDump(conn({ engine: "MARIADB" }), profile({ setGtidPurged: "ON" }), "app", MYSQL8_TOOL, "");
    expect(args).toContain("--column-statistics=0");
    expect(args.filter((a) => a.startsWith("--set-gtid-purged"))).toEqual(["--set-gtid-purged=OFF"]);
  });

  it.each([
    ["mariadb-dump", "--source-data=2", "--master-data=2", MARIADB_TOOL],
    ["mariadb-dump", "--master-data=1", "--master-data=1", MARIADB_TOOL],
    ["mysqldump 5.7", "--source-data=2", "--master-data=2", MYSQL57_TOOL],
    ["mysqldump 8.0.25", "--source-data=2", "--master-data=2", MYSQL8025_TOOL],
    ["mysqldump 8.0.36", "--master-data=2", "--source-data=2", MYSQL8_TOOL],
    ["mysqldump 8.4", "--master-data=1", "--source-data=1", MYSQL84_TOOL],
    ["mysqldump 8.4", "--source-data=2", "--source-data=2", MYSQL84_TOOL],
  ])("spells the binlog position flag for %s: %s → %s", (_tool, flag, expected, tools) => {
    const { args, description } = buildMysqlDump(conn({ engine: "MYSQL" }), profile({ mysqlExtraFlags: [flag] }), "app", tools, MYSQL8_SERVER);
    expect(args.filter((a) => /^--(master|source)-data/.test(a))).toEqual([expected]);
    expect(description).toContain(expected);
  });

  it("appends allowed extra flags after the profile's, so they win, and before the database", () => {
    const flags = ["--skip-extended-insert", "--max-allowed-packet=64M", "--ignore-table=app.sessions"];
    const { args, description } = buildMysqlDump(conn(), profile({ mysqlExtraFlags: flags }), "app", MARIADB_TOOL, MARIADB_SERVER);
    expect(args.slice(-5)).toEqual([...flags, "--", "app"]);
    expect(description).toContain("--ignore-table=app.sessions");
  });

  it.each([
    ["--result-file=/tmp/x"],
    ["--password=hunter2"],
    ["-phunter2"],
    ["--ignore-table=app.x; rm -rf /"],
    ["--compact=1"],
    ["constructor"],
    ["__proto__=x"],
    ["toString=x"],
  ])("refuses the extra flag %j, naming it", (flag) => {
    expect(() => buildMysqlDump(conn(), profile({ mysqlExtraFlags: ["--compact", flag] }), "app", MARIADB_TOOL, MARIADB_SERVER)).toThrow(JSON.stringify(flag));
  });

  it("refuses extra flags that are not a list of strings", () => {
    expect(() => buildMysqlDump(conn(), profile({ mysqlExtraFlags: { "--compact": true } }), "app", MARIADB_TOOL, MARIADB_SERVER)).toThrow(/list of strings/);
    expect(() => buildMysqlDump(conn(), profile({ mysqlExtraFlags: [1] }), "app", MARIADB_TOOL, MARIADB_SERVER)).toThrow(/list of strings/);
  });

  it("says so when no dump program is installed", () => {
    expect(() => buildMysqlDump(conn(), null, "app", { mysqlDump: null, pgDump: null }, MARIADB_SERVER)).toThrow(
      "neither mariadb-dump nor mysqldump is installed on this machine",
    );
  });

  it("has nothing to clean up", async () => {
    await expect(buildMysqlDump(conn(), null, "app", MARIADB_TOOL, MARIADB_SERVER).cleanup()).resolves.toBeUndefined();
  });
});
