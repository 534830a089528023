import { describe, expect, it } from "vitest";
import { buildDump } from "./build-dump.ts";
import { buildPgDump } from "./pg-dumper.ts";
import type { DumpProfile, DumpTools, ServerConnection } from "./types.ts";

const TOOLS: DumpTools = {
  mysqlDump: null,
  pgDump: { path: "/usr/lib/postgresql/16/bin/pg_dump", version: "pg_dump (PostgreSQL) 16.4 (Debian 16.4-1.pgdg120+1)" },
};
const SERVER = "15.20 (Debian 15.20-0+deb12u1)";
const PASSWORD = "s3cr3t pa$$ word";
const WEIRD = "we;ird $(x) ünï";

const conn = (over: Partial<ServerConnection> = {}): ServerConnection => ({
  engine: "POSTGRESQL",
  host: "pg.example",
  port: 5433,
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

describe("buildPgDump", () => {
  it("passes every connection setting in libpq's environment, the password only there", () => {
    const dump = buildPgDump(conn(), null, "app", TOOLS, SERVER);
    expect(dump.command).toBe("/usr/lib/postgresql/16/bin/pg_dump");
    expect(dump.env).toEqual({
      PGHOST: "pg.example",
      PGPORT: "5433",
      PGUSER: "backup",
      PGPASSWORD: PASSWORD,
      PGDATABASE: "app",
      PGSSLMODE: "prefer",
      PGAPPNAME: "sqlguard",
      PGCONNECT_TIMEOUT: "15",
    });
    expect(dump.args.join("\n")).not.toContain(PASSWORD);
    expect(dump.description).not.toContain(PASSWORD);
    expect(dump.description).toBe("pg_dump 16.4 --format=plain --no-password --no-owner");
  });

  it("sets no PGPASSWORD when the server has no password", () => {
    expect(buildPgDump(conn({ password: null }), null, "app", TOOLS, SERVER).env).not.toHaveProperty("PGPASSWORD");
  });

  it.each([[WEIRD], ["--host=evil"], ["host=evil dbname=other"], ["postgresql://evil/x"]])("carries the database %j in PGDATABASE only", (name) => {
    const dump = buildPgDump(conn(), null, name, TOOLS, SERVER);
    expect(dump.env.PGDATABASE).toBe(name);
    expect(dump.args.some((a) => a.includes(name))).toBe(false);
    expect(dump.args.every((a) => a.startsWith("--"))).toBe(true);
  });

  it("requires TLS when the server has tls", () => {
    expect(buildPgDump(conn({ tls: true }), null, "app", TOOLS, SERVER).env.PGSSLMODE).toBe("require");
  });

  it.each([
    ["a null profile", null, ["--format=plain", "--no-password", "--no-owner"], "sql"],
    ["plain", profile({ pgFormat: "PLAIN" }), ["--format=plain", "--no-password", "--no-owner"], "sql"],
    ["custom, left uncompressed", profile({ pgFormat: "CUSTOM" }), ["--format=custom", "--compress=0", "--no-password", "--no-owner"], "pg-custom"],
    ["owners kept, privileges dropped", profile({ noOwner: false, noPrivileges: true }), ["--format=plain", "--no-password", "--no-privileges"], "sql"],
  ] as const)("flags for %s", (_case, p, args, format) => {
    const dump = buildPgDump(conn(), p, "app", TOOLS, SERVER);
    expect(dump.args).toEqual(args);
    expect(dump.format).toBe(format);
  });

  it("appends allowed extra flags", () => {
    const flags = ["--exclude-table-data=audit_log", "--no-comments", "--lock-wait-timeout=30s"];
    expect(buildPgDump(conn(), profile({ pgExtraFlags: flags }), "app", TOOLS, SERVER).args.slice(-3)).toEqual(flags);
  });

  it.each([["--file=/tmp/x"], ["--dbname=postgresql://evil"], ["--schema=public; rm -rf /"], ["--clean=yes"], ["-f/tmp/x"], ["constructor"], ["__proto__=x"]])(
    "refuses the extra flag %j, naming it",
    (flag) => {
      expect(() => buildPgDump(conn(), profile({ pgExtraFlags: ["--clean", flag] }), "app", TOOLS, SERVER)).toThrow(JSON.stringify(flag));
    },
  );

  it("refuses extra flags that are not a list of strings", () => {
    expect(() => buildPgDump(conn(), profile({ pgExtraFlags: "--clean" }), "app", TOOLS, SERVER)).toThrow(/list of strings/);
  });

  it("refuses to run a pg_dump older than the server, which pg_dump itself would refuse", () => {
    expect(() => buildPgDump(conn(), null, "app", TOOLS, "17.2 (Debian 17.2-1)")).toThrow(
      "pg_dump 16 (/usr/lib/postgresql/16/bin/pg_dump) cannot dump a PostgreSQL 17 server: install pg_dump 17 or newer",
    );
    expect(buildPgDump(conn(), null, "app", TOOLS, "16.9").args).toContain("--format=plain");
  });

  it("refuses an empty database name", () => {
    expect(() => buildPgDump(conn(), null, "", TOOLS, SERVER)).toThrow(/empty/);
  });
});

describe("buildDump", () => {
  it("dispatches by engine and names the missing program", () => {
    expect(() => buildDump(conn(), null, "app", { mysqlDump: null, pgDump: null }, SERVER)).toThrow("pg_dump is not installed on this machine");
    expect(() => buildDump(conn({ engine: "MYSQL" }), null, "app", TOOLS, "8.0.36")).toThrow("neither mariadb-dump nor mysqldump is installed on this machine");
    expect(buildDump(conn(), null, "app", TOOLS, SERVER).command).toBe("/usr/lib/postgresql/16/bin/pg_dump");
  });
});
