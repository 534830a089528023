import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig, parseConfigFileEnv, parsePitrCheckpointMs } from "./env.ts";

/** Runs parseConfig and returns the ConfigError it throws. */
function configErrorOf(env: Record<string, string | undefined>): ConfigError {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`parseConfig accepted ${JSON.stringify(env)}`);
}

describe("parseConfig", () => {
  it("uses the documented defaults for an empty environment", () => {
    expect(parseConfig({})).toEqual({
      databaseUrl: "mysql://root@127.0.0.1:3306/sqlguard",
      port: 8080,
      host: "0.0.0.0",
      dataDir: path.resolve("data"),
      secretKey: undefined,
      adminPassword: undefined,
      logLevel: "info",
      sessionTtlHours: 168,
      instanceId: os.hostname(),
      backups: { maxConcurrent: 4, stallMs: 600_000, timeoutMs: 43_200_000, maxAttempts: 3 },
    });
  });

  it("treats empty variables as unset and ignores unrelated ones", () => {
    const config = parseConfig({ SQLGUARD_PORT: "", SQLGUARD_LOG_LEVEL: "", SQLGUARD_SECRET_KEY: "", PATH: "/usr/bin", HOME: "/root", OTHER_PORT: "x" });
    expect(config).toEqual(parseConfig({}));
  });

  it("honours every variable it reads", () => {
    const env = {
      DATABASE_URL: "mariadb://sqlguard:s3cr%40t@db.internal:3307/guard_meta?connectTimeout=5000",
      SQLGUARD_PORT: "9090",
      SQLGUARD_HOST: "127.0.0.1",
      SQLGUARD_DATA_DIR: "/var/lib/sqlguard",
      SQLGUARD_SECRET_KEY: "k".repeat(32),
      SQLGUARD_ADMIN_PASSWORD: "correct horse",
      SQLGUARD_LOG_LEVEL: "debug",
      SQLGUARD_SESSION_TTL_HOURS: "12",
      SQLGUARD_INSTANCE_ID: "guard-1",
      SQLGUARD_MAX_CONCURRENT_BACKUPS: "16",
      SQLGUARD_BACKUP_STALL_SECONDS: "45",
      SQLGUARD_BACKUP_TIMEOUT_SECONDS: "7200",
      SQLGUARD_BACKUP_MAX_ATTEMPTS: "5",
    };
    expect(parseConfig(env)).toEqual({
      databaseUrl: "mariadb://sqlguard:s3cr%40t@db.internal:3307/guard_meta?connectTimeout=5000",
      port: 9090,
      host: "127.0.0.1",
      dataDir: "/var/lib/sqlguard",
      secretKey: "k".repeat(32),
      adminPassword: "correct horse",
      logLevel: "debug",
      sessionTtlHours: 12,
      instanceId: "guard-1",
      backups: { maxConcurrent: 16, stallMs: 45_000, timeoutMs: 7_200_000, maxAttempts: 5 },
    });
  });

  it("resolves a relative data directory against the working directory", () => {
    expect(parseConfig({ SQLGUARD_DATA_DIR: "var/guard" }).dataDir).toBe(path.join(process.cwd(), "var/guard"));
    expect(path.isAbsolute(parseConfig({}).dataDir)).toBe(true);
  });

  it.each(["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const)("accepts log level %s", (level) => {
    expect(parseConfig({ SQLGUARD_LOG_LEVEL: level }).logLevel).toBe(level);
  });

  it.each([
    ["SQLGUARD_PORT", "1"],
    ["SQLGUARD_PORT", "65535"],
    ["SQLGUARD_SESSION_TTL_HOURS", "8760"],
    ["SQLGUARD_MAX_CONCURRENT_BACKUPS", "256"],
    ["SQLGUARD_BACKUP_MAX_ATTEMPTS", "20"],
    ["SQLGUARD_BACKUP_STALL_SECONDS", "86400"],
    ["SQLGUARD_BACKUP_TIMEOUT_SECONDS", "2592000"],
    ["SQLGUARD_VERIFY_INTERVAL_SECONDS", "31536000"],
    ["SQLGUARD_PITR_CHECKPOINT_MINUTES", "10080"],
    ["SQLGUARD_RETENTION_INTERVAL_SECONDS", "2592000"],
    ["SQLGUARD_FAILED_RETENTION_SECONDS", "315360000"],
    ["SQLGUARD_OVERDUE_GRACE_SECONDS", "2592000"],
    ["SQLGUARD_SECRET_KEY", "x".repeat(32)],
    ["SQLGUARD_ADMIN_PASSWORD", "12345678"],
    ["DATABASE_URL", "mysql://root@localhost/sqlguard"],
  ])("accepts the boundary value %s=%s", (name, value) => {
    expect(() => parseConfig({ [name]: value })).not.toThrow();
  });

  it.each([
    ["DATABASE_URL", "postgres://root@127.0.0.1:5432/sqlguard"],
    ["DATABASE_URL", "mysql://root@127.0.0.1:3306/"],
    ["DATABASE_URL", "mysql://root@127.0.0.1:3306/bad-name"],
    ["SQLGUARD_PORT", "abc"],
    ["SQLGUARD_PORT", "0"],
    ["SQLGUARD_PORT", "65536"],
    ["SQLGUARD_PORT", "80.5"],
    ["SQLGUARD_SECRET_KEY", "x".repeat(31)],
    ["SQLGUARD_ADMIN_PASSWORD", "1234567"],
    ["SQLGUARD_LOG_LEVEL", "loud"],
    ["SQLGUARD_LOG_LEVEL", "INFO"],
    ["SQLGUARD_SESSION_TTL_HOURS", "0"],
    ["SQLGUARD_SESSION_TTL_HOURS", "8761"],
    ["SQLGUARD_INSTANCE_ID", "i".repeat(256)],
    ["SQLGUARD_MAX_CONCURRENT_BACKUPS", "257"],
    ["SQLGUARD_BACKUP_STALL_SECONDS", "0"],
    ["SQLGUARD_BACKUP_TIMEOUT_SECONDS", "never"],
    ["SQLGUARD_BACKUP_MAX_ATTEMPTS", "21"],
    // Past Node's timer limit (~24.8 days) a plain timer fires after 1 ms: every duration has a maximum.
    ["SQLGUARD_BACKUP_STALL_SECONDS", "86401"],
    ["SQLGUARD_BACKUP_TIMEOUT_SECONDS", "2592001"],
    ["SQLGUARD_VERIFY_INTERVAL_SECONDS", "31536001"],
    ["SQLGUARD_PITR_CHECKPOINT_MINUTES", "10081"],
    ["SQLGUARD_PITR_CHECKPOINT_MINUTES", "-1"],
    ["SQLGUARD_RETENTION_INTERVAL_SECONDS", "2592001"],
    ["SQLGUARD_FAILED_RETENTION_SECONDS", "315360001"],
    ["SQLGUARD_OVERDUE_GRACE_SECONDS", "2592001"],
  ])("rejects %s=%s, naming the variable", (name, value) => {
    const error = configErrorOf({ [name]: value });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(new RegExp(`^${name}: `));
  });

  it("names the maximum of a duration variable", () => {
    expect(configErrorOf({ SQLGUARD_BACKUP_TIMEOUT_SECONDS: String(40 * 86_400) }).problems).toEqual([
      "SQLGUARD_BACKUP_TIMEOUT_SECONDS: must be at most 2592000 (30 days)",
    ]);
    expect(configErrorOf({ SQLGUARD_VERIFY_INTERVAL_SECONDS: String(2 * 365 * 86_400) }).problems).toEqual([
      "SQLGUARD_VERIFY_INTERVAL_SECONDS: must be at most 31536000 (365 days)",
    ]);
  });

  it("lists every problem at once in one ConfigError, each naming its variable", () => {
    const error = configErrorOf({
      DATABASE_URL: "postgres://x/y",
      SQLGUARD_PORT: "abc",
      SQLGUARD_LOG_LEVEL: "loud",
      SQLGUARD_SECRET_KEY: "short",
      SQLGUARD_ADMIN_PASSWORD: "pw",
      SQLGUARD_MAX_CONCURRENT_BACKUPS: "0",
      SQLGUARD_BACKUP_MAX_ATTEMPTS: "99",
      SQLGUARD_HOST: "127.0.0.1",
    });
    const names = [
      "DATABASE_URL",
      "SQLGUARD_PORT",
      "SQLGUARD_LOG_LEVEL",
      "SQLGUARD_SECRET_KEY",
      "SQLGUARD_ADMIN_PASSWORD",
      "SQLGUARD_MAX_CONCURRENT_BACKUPS",
      "SQLGUARD_BACKUP_MAX_ATTEMPTS",
    ];
    expect(error.problems.map((p) => p.split(":")[0]).sort()).toEqual([...names].sort());
    expect(error.name).toBe("ConfigError");
    for (const name of names) expect(error.message).toContain(`  - ${name}: `);
    expect(error.problems.find((p) => p.startsWith("SQLGUARD_SECRET_KEY"))).toContain("at least 32 characters");
    expect(error.problems.find((p) => p.startsWith("DATABASE_URL"))).toContain("mysql://user:password@host:3306/database");
    // Valid variables next to the bad ones are not reported.
    expect(error.message).not.toContain("SQLGUARD_HOST");
  });

  it("does not echo secret values in its problems", () => {
    const error = configErrorOf({ SQLGUARD_SECRET_KEY: "tooShortSecret", SQLGUARD_ADMIN_PASSWORD: "pw-1234" });
    expect(error.message).not.toContain("tooShortSecret");
    expect(error.message).not.toContain("pw-1234");
  });
});

describe("parseConfigFileEnv", () => {
  it("is off by default; resolves a relative path; prune only when asked", () => {
    expect(parseConfigFileEnv({})).toEqual({ path: null, prune: false });
    expect(parseConfigFileEnv({ SQLGUARD_CONFIG_FILE: "", SQLGUARD_CONFIG_PRUNE: "" })).toEqual({ path: null, prune: false });
    expect(parseConfigFileEnv({ SQLGUARD_CONFIG_FILE: "conf/sqlguard.yaml", SQLGUARD_CONFIG_PRUNE: "true" })).toEqual({
      path: path.resolve("conf/sqlguard.yaml"),
      prune: true,
    });
  });

  it("names SQLGUARD_CONFIG_PRUNE when it is not true or false, also in parseConfig's list", () => {
    expect(() => parseConfigFileEnv({ SQLGUARD_CONFIG_PRUNE: "yes" })).toThrow(/SQLGUARD_CONFIG_PRUNE: must be true or false/);
    expect(configErrorOf({ SQLGUARD_CONFIG_PRUNE: "yes" }).problems).toContain("SQLGUARD_CONFIG_PRUNE: must be true or false");
  });
});

describe("parsePitrCheckpointMs", () => {
  it("is 15 minutes by default, 0 = off, in milliseconds", () => {
    expect(parsePitrCheckpointMs({})).toBe(15 * 60_000);
    expect(parsePitrCheckpointMs({ SQLGUARD_PITR_CHECKPOINT_MINUTES: "0" })).toBe(0);
    expect(parsePitrCheckpointMs({ SQLGUARD_PITR_CHECKPOINT_MINUTES: "5" })).toBe(300_000);
    expect(() => parsePitrCheckpointMs({ SQLGUARD_PITR_CHECKPOINT_MINUTES: "soon" })).toThrow(/SQLGUARD_PITR_CHECKPOINT_MINUTES/);
  });
});
