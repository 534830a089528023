import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import { extraFlagProblem } from "./dump-flags.ts";
import { absolutePathRule, bucketRule, cronProblem, endpointRule, hostRule, nameRule, parseInput, portRule, prefixRule, timezoneProblem } from "./validate.ts";

const ok = (rule: z.ZodType, value: unknown) => rule.safeParse(value).success;

describe("field rules", () => {
  it.each([
    [hostRule, "db.example.com", true],
    [hostRule, "10.0.0.5", true],
    [hostRule, "::1", true],
    [hostRule, "[2001:db8::1]", true],
    [hostRule, "-bad-.example", false],
    [hostRule, "has space", false],
    [hostRule, "", false],
    [portRule, 3306, true],
    [portRule, 0, false],
    [portRule, 65536, false],
    [portRule, 3.5, false],
    [nameRule, "prod-db_1.eu", true],
    [nameRule, "../etc", false],
    [nameRule, "with space", false],
    [absolutePathRule, "/var/backups/sqlguard", true],
    [absolutePathRule, "relative/dir", false],
    [absolutePathRule, "/var/../etc", false],
    [absolutePathRule, "/", false],
    [bucketRule, "sqlguard-backups", true],
    [bucketRule, "Upper", false],
    [bucketRule, "ab", false],
    [endpointRule, "http://127.0.0.1:9000", true],
    [endpointRule, "ftp://host", false],
    [endpointRule, "http://user:pw@host", false],
    [prefixRule, "team/prod", true],
    [prefixRule, "/abs", false],
    [prefixRule, "a/../b", false],
  ])("%#: %j → %s", (rule, value, expected) => {
    expect(ok(rule as z.ZodType, value)).toBe(expected);
  });

  it("normalizes paths and prefixes", () => {
    expect(absolutePathRule.parse("/var//backups/")).toBe("/var/backups");
    expect(prefixRule.parse("team/prod/")).toBe("team/prod");
  });
});

describe("cron and time zones", () => {
  it("accepts standard expressions and explains bad ones", () => {
    expect(cronProblem("0 2 * * *")).toBeNull();
    expect(cronProblem("*/15 * * * *", "Europe/Berlin")).toBeNull();
    expect(cronProblem("61 * * * *")).toMatch(/^invalid cron expression: /);
    expect(cronProblem("not cron")).toMatch(/^invalid cron expression: /);
    // Croner takes a seconds field and fires every second; schedules are minutes.
    expect(cronProblem("* * * * * *")).toMatch(/^invalid cron expression: 6 fields, but a seconds field is not supported; use 5 fields/);
    expect(cronProblem("0 0 3 * * * *")).toMatch(/^invalid cron expression: 7 fields, but a seconds field is not supported/);
    expect(cronProblem("* * *")).toMatch(/^invalid cron expression: 3 fields; use 5 fields/);
    expect(cronProblem("@daily")).toBeNull();
    process.env.SQLGUARD_CRON_SECONDS = "true";
    try {
      expect(cronProblem("*/2 * * * * *")).toBeNull();
      expect(cronProblem("0 0 3 * * * *")).toMatch(/7 fields, but a seconds field is not supported/);
    } finally {
      delete process.env.SQLGUARD_CRON_SECONDS;
    }
    // One sentence of ours: none of the library's class names or nested "Original error" chains.
    for (const bad of ["61 * * * *", "0 0 32 * *", "x y z w v"]) {
      const problem = cronProblem(bad)!;
      expect(problem).toMatch(/^invalid cron expression: /);
      expect(problem).not.toMatch(/CronPattern|CronDate|Original error/);
      expect(problem.match(/invalid cron expression/g)).toHaveLength(1);
    }
  });

  it("knows IANA zones only", () => {
    expect(timezoneProblem("Europe/Berlin")).toBeNull();
    expect(timezoneProblem("Mars/Olympus")).toMatch(/unknown time zone "Mars\/Olympus"/);
  });
});

describe("extra dump flags", () => {
  it.each([
    ["--skip-comments", "mysql", null],
    ["--max-allowed-packet=1G", "mysql", null],
    ["--ignore-table=shop.sessions", "mysql", null],
    ["--password=x", "mysql", '"--password" is not an allowed mysqldump flag'],
    ["--result-file=/tmp/x", "mysql", '"--result-file" is not an allowed mysqldump flag'],
    ["--skip-comments=1", "mysql", "--skip-comments takes no value"],
    ["--max-allowed-packet", "mysql", "--max-allowed-packet needs a value (--max-allowed-packet=...)"],
    ["--max-allowed-packet=$(rm -rf /)", "mysql", "--max-allowed-packet has an invalid value"],
    ["--exclude-schema=tmp", "pg", null],
    ["--file=/etc/passwd", "pg", '"--file" is not an allowed pg_dump flag'],
    ["--no-comments", "mysql", '"--no-comments" is not an allowed mysqldump flag'],
  ] as const)("%s for %s", (flag, family, problem) => {
    expect(extraFlagProblem(flag, family)).toBe(problem);
  });
});

describe("parseInput", () => {
  const schema = z.object({ port: portRule, host: hostRule, tags: z.array(nameRule).optional() });

  it("reports every problem at once, each named by its field path", () => {
    let error: unknown;
    try {
      parseInput(schema, { port: 0, tags: ["ok", "bad name"] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const problems = (error as ValidationError).problems;
    expect(problems.map((p) => p.field).sort()).toEqual(["host", "port", "tags.1"]);
    expect(problems.find((p) => p.field === "host")?.problem).toBe("is required");
    expect((error as ValidationError).message).toContain("port: must be between 1 and 65535");
  });

  it("says null is not allowed where a value must be given", () => {
    expect(() => parseInput(schema, { port: null, host: "h" })).toThrow("port: must not be null");
  });
});
