import os from "node:os";
import { cronZone, isTimeZone } from "../catalog/cron.ts";
import path from "node:path";
import { Cron } from "croner";
import { z } from "zod";

const DAY_S = 86_400;

/**
 * The maximum of a duration variable. Every duration has one: the timers fed from them also wait
 * in steps (server/process/timers.ts), but an interval of years is a typo, better refused at boot.
 */
function atMost(seconds: number, label: string): string {
  return `must be at most ${seconds} (${label})`;
}

/**
 * The only reader of process.env. Everything else (servers, schedules, storage, retention) lives in
 * the metadata database and is edited through GraphQL.
 */
const envSchema = z.object({
  // Metadata database (MySQL or MariaDB). Created at start if it does not exist.
  DATABASE_URL: z
    .string()
    .default("mysql://root@127.0.0.1:3306/sqlguard")
    .refine((v) => /^(mysql|mariadb):\/\/[^/]+\/[A-Za-z0-9_$]+(\?.*)?$/.test(v), {
      message: "must look like mysql://user:password@host:3306/database",
    }),
  // HTTP port for the console, /graphql, /metrics, /healthz and /readyz.
  SQLGUARD_PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  // Address to listen on.
  SQLGUARD_HOST: z.string().min(1).default("0.0.0.0"),
  // Working directory: the generated secret key, and the default local storage target.
  SQLGUARD_DATA_DIR: z.string().min(1).default("./data"),
  // Key that encrypts stored passwords (AES-256-GCM); at least 32 characters. If unset, a random
  // key is generated once into <data dir>/secret.key (mode 0600).
  SQLGUARD_SECRET_KEY: z.string().min(32, "must be at least 32 characters").optional(),
  // Password of the `admin` account created at first start. If unset, a random one is printed once.
  SQLGUARD_ADMIN_PASSWORD: z.string().min(8, "must be at least 8 characters").optional(),
  // trace, debug, info, warn, error, fatal or silent.
  SQLGUARD_LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  // Lifetime of a console login session, in hours.
  SQLGUARD_SESSION_TTL_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 365)
    .default(24 * 7),
  // Name of this instance in backup records and logs; defaults to the host name. It must stay the
  // same across restarts (backups it left running are then marked interrupted at once) and differ
  // between instances sharing one metadata database.
  SQLGUARD_INSTANCE_ID: z.string().min(1).max(255).optional(),
  // Backups this instance runs at once, over all servers (each server also has its own limit).
  SQLGUARD_MAX_CONCURRENT_BACKUPS: z.coerce.number().int().min(1).max(256).default(4),
  // A backup that writes no byte for this long is killed and recorded as stalled (at most 1 day).
  SQLGUARD_BACKUP_STALL_SECONDS: z.coerce.number().int().min(1).max(DAY_S, atMost(DAY_S, "1 day")).default(600),
  // Hard limit on one backup attempt's duration (at most 30 days).
  SQLGUARD_BACKUP_TIMEOUT_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(30 * DAY_S, atMost(30 * DAY_S, "30 days"))
    .default(12 * 3600),
  // Attempts per backup when failures are transient (connection refused, S3 5xx, timeouts).
  SQLGUARD_BACKUP_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  // Bearer token /metrics requires (`Authorization: Bearer <token>`); unset with the next one = open.
  SQLGUARD_METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  // `user:password` /metrics accepts as HTTP basic authentication (either credential works when both are set).
  SQLGUARD_METRICS_BASIC_AUTH: z
    .string()
    .regex(/^[^:]+:.+$/, "must be user:password")
    .optional(),
  // Point-in-time recovery (MariaDB): every this many minutes, row counts per table at an exact binlog
  // position (one consistent snapshot) are recorded for point-in-time drills (0 = never).
  SQLGUARD_PITR_CHECKPOINT_MINUTES: z.coerce.number().int().min(0).max(10_080).default(15),
  // How often every stored artifact is re-read and its SHA-256 checked against the record (0 = never; at most 1 year).
  SQLGUARD_VERIFY_INTERVAL_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(365 * DAY_S, atMost(365 * DAY_S, "365 days"))
    .default(7 * DAY_S),
  // First delay before an upload to one storage target is retried (doubles per attempt, with jitter).
  SQLGUARD_BACKUP_RETRY_BASE_SECONDS: z.coerce.number().min(0.05).max(3600).default(10),
  // How often every server and storage target is checked for reachability (0 = never; at most 1 day).
  SQLGUARD_HEALTH_INTERVAL_SECONDS: z.coerce.number().min(0).max(DAY_S, atMost(DAY_S, "1 day")).default(60),
  // PARTIAL backups younger than this are repaired automatically by the sweeper (0 = never; at most 30 days).
  SQLGUARD_AUTO_REPAIR_HOURS: z.coerce.number().min(0).max(720).default(24),
});

/**
 * Scheduling, high availability and retention. A schema of its own so that `Config` keeps its
 * shape; parseConfig validates it too, so every problem of the environment is listed at once.
 */
const schedulingSchema = z.object({
  // Run the cron scheduler on this instance ("false": API, manual backups and retention only).
  SQLGUARD_SCHEDULER_ENABLED: z.enum(["true", "false"], { message: "must be true or false" }).default("true"),
  // A backup whose instance stops renewing its lease for this long is taken over by another instance.
  SQLGUARD_LEASE_SECONDS: z.coerce.number().int().min(2).max(3600).default(60),
  // How often each instance re-reads the schedules, to pick up changes made through another instance.
  SQLGUARD_SCHEDULE_POLL_SECONDS: z.coerce.number().min(0.2).max(3600).default(15),
  // How often the full retention sweep runs (a sweep of its group also follows every backup; at most 30 days).
  SQLGUARD_RETENTION_INTERVAL_SECONDS: z.coerce
    .number()
    .min(1)
    .max(30 * DAY_S, atMost(30 * DAY_S, "30 days"))
    .default(3600),
  // How long failed, cancelled and skipped runs are kept before retention removes them (7 days; at most 10 years).
  SQLGUARD_FAILED_RETENTION_SECONDS: z.coerce
    .number()
    .min(0)
    .max(3650 * DAY_S, atMost(3650 * DAY_S, "10 years"))
    .default(7 * DAY_S),
  // Time a scheduled backup gets after its due time before its database counts as overdue (at most 30 days).
  SQLGUARD_OVERDUE_GRACE_SECONDS: z.coerce
    .number()
    .min(0)
    .max(30 * DAY_S, atMost(30 * DAY_S, "30 days"))
    .default(3600),
});

/**
 * The HTTP edge: who may call with the session cookie from a browser, how the server is reached,
 * and where webhooks may go. A schema of its own (parseEdgeConfig); parseConfig validates it too.
 */
const edgeSchema = z.object({
  // Comma-separated origins (scheme://host[:port]) whose pages may call /graphql and downloads with
  // the session cookie (credentialed CORS). None by default: only the console's own origin.
  SQLGUARD_CORS_ORIGINS: z
    .string()
    .default("")
    .transform((v) =>
      v
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .refine((origins) => origins.every(isOrigin), { message: "must be comma-separated origins such as https://ops.example.com (no path, no wildcard)" }),
  // The URL users open (e.g. https://backups.example.com behind a reverse proxy): an https URL makes
  // the session cookie Secure, and its origin counts as the console's own.
  SQLGUARD_PUBLIC_URL: z.string().refine(isHttpUrl, { message: "must be an http(s) URL such as https://backups.example.com" }).optional(),
  // Behind a reverse proxy: take the client address (login throttling, logs) from the last
  // X-Forwarded-For entry instead of the socket.
  SQLGUARD_TRUST_PROXY: z.enum(["true", "false"], { message: "must be true or false" }).default("false"),
  // Let webhooks call link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254).
  SQLGUARD_WEBHOOK_ALLOW_LINK_LOCAL: z.enum(["true", "false"], { message: "must be true or false" }).default("false"),
});

/** When the weekly report goes out (server/notifications/weekly-report.ts). */
const weeklyReportSchema = z.object({
  // Cron expression (5 or 6 fields) of the weekly e-mail report to the EMAIL channels that turned it on.
  SQLGUARD_WEEKLY_REPORT_CRON: z
    .string()
    .trim()
    .default("0 8 * * 1")
    .refine((v) => cronValid(v, "UTC"), { message: "must be a cron expression such as 0 8 * * 1 (Mondays 08:00)" }),
  // IANA time zone of that expression and of the report's days and times, e.g. Europe/Berlin.
  SQLGUARD_WEEKLY_REPORT_TIMEZONE: z.string().trim().default("UTC").refine(isTimeZone, { message: "must be an IANA time zone such as Europe/Berlin" }),
});

function cronValid(expression: string, timezone: string): boolean {
  try {
    new Cron(expression, { paused: true, ...cronZone(timezone) });
    return true;
  } catch {
    return false;
  }
}

/** The weekly report's schedule (parseConfig validates it too). */
export function parseWeeklyReportConfig(env: Record<string, string | undefined>): { expression: string; timezone: string } {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = weeklyReportSchema.safeParse(cleaned);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  return { expression: result.data.SQLGUARD_WEEKLY_REPORT_CRON, timezone: result.data.SQLGUARD_WEEKLY_REPORT_TIMEZONE };
}

/** Sign-in settings only the environment may set (server/auth/sign-in-settings.service.ts). */
const signInSchema = z.object({
  // Accept http:// OIDC issuers: for development and tests only (1 or true); https:// otherwise.
  SQLGUARD_OIDC_ALLOW_HTTP: z.enum(["1", "true", "0", "false"], { message: "must be 1, true, 0 or false" }).default("0"),
  // The local user who may still sign in with a password when local login is turned off.
  SQLGUARD_BREAK_GLASS_USER: z.string().trim().min(1).max(100).default("admin"),
});

/** The sign-in settings of the environment (parseConfig validates them too). */
export function parseSignInEnv(env: Record<string, string | undefined>): { allowHttpIssuer: boolean; breakGlassUser: string } {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = signInSchema.safeParse(cleaned);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  const allow = result.data.SQLGUARD_OIDC_ALLOW_HTTP;
  return { allowHttpIssuer: allow === "1" || allow === "true", breakGlassUser: result.data.SQLGUARD_BREAK_GLASS_USER };
}

/** The HTTP edge settings (see edgeSchema). */
export type EdgeConfig = {
  corsOrigins: string[];
  publicUrl?: string;
  trustProxy: boolean;
  webhookAllowLinkLocal: boolean;
};

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === value.replace(/\/$/, "");
  } catch {
    return false;
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

/** Configuration as code at start (server/config-as-code/config-file.ts). */
const configFileSchema = z.object({
  // A sqlguard.yaml document applied at start (before the scheduler) and again on SIGHUP; a bad
  // document stops the start. Drift from it is shown on the dashboard. Unset: nothing is applied.
  SQLGUARD_CONFIG_FILE: z.string().trim().min(1).optional(),
  // Also delete the objects the file does not name (never a storage target holding artifacts).
  SQLGUARD_CONFIG_PRUNE: z.enum(["true", "false"], { message: "must be true or false" }).default("false"),
});

/** The configuration file settings (parseConfig validates them too); `path` is absolute, or null when unset. */
export function parseConfigFileEnv(env: Record<string, string | undefined>): { path: string | null; prune: boolean } {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = configFileSchema.safeParse(cleaned);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  const file = result.data.SQLGUARD_CONFIG_FILE;
  return { path: file ? path.resolve(file) : null, prune: result.data.SQLGUARD_CONFIG_PRUNE === "true" };
}

/** Scheduling settings, in milliseconds. */
export type SchedulingConfig = {
  cronEnabled: boolean;
  leaseMs: number;
  pollMs: number;
  retentionIntervalMs: number;
  failedGraceMs: number;
  overdueGraceMs: number;
};

export type Config = {
  databaseUrl: string;
  port: number;
  host: string;
  dataDir: string;
  secretKey?: string;
  adminPassword?: string;
  logLevel: z.infer<typeof envSchema>["SQLGUARD_LOG_LEVEL"];
  sessionTtlHours: number;
  instanceId: string;
  backups: { maxConcurrent: number; stallMs: number; timeoutMs: number; maxAttempts: number };
};

/** Thrown with every problem in the environment at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses and validates the environment; throws ConfigError listing all problems. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  // An empty variable means "unset", as in most container tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = envSchema.safeParse(cleaned);
  const scheduling = schedulingSchema.safeParse(cleaned);
  const edge = edgeSchema.safeParse(cleaned);
  const signIn = signInSchema.safeParse(cleaned);
  const issues = [...(result.error?.issues ?? []), ...(scheduling.error?.issues ?? []), ...(edge.error?.issues ?? []), ...(signIn.error?.issues ?? [])];
  issues.push(...(weeklyReportSchema.safeParse(cleaned).error?.issues ?? []));
  issues.push(...(configFileSchema.safeParse(cleaned).error?.issues ?? []));
  issues.push(...(queueSchema.safeParse(cleaned).error?.issues ?? []));
  if (!result.success || issues.length) {
    throw new ConfigError(issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  const e = result.data;
  return {
    databaseUrl: e.DATABASE_URL,
    port: e.SQLGUARD_PORT,
    host: e.SQLGUARD_HOST,
    dataDir: path.resolve(e.SQLGUARD_DATA_DIR),
    secretKey: e.SQLGUARD_SECRET_KEY,
    adminPassword: e.SQLGUARD_ADMIN_PASSWORD,
    logLevel: e.SQLGUARD_LOG_LEVEL,
    sessionTtlHours: e.SQLGUARD_SESSION_TTL_HOURS,
    instanceId: e.SQLGUARD_INSTANCE_ID ?? os.hostname(),
    backups: {
      maxConcurrent: e.SQLGUARD_MAX_CONCURRENT_BACKUPS,
      stallMs: e.SQLGUARD_BACKUP_STALL_SECONDS * 1000,
      timeoutMs: e.SQLGUARD_BACKUP_TIMEOUT_SECONDS * 1000,
      maxAttempts: e.SQLGUARD_BACKUP_MAX_ATTEMPTS,
    },
  };
}

/** Parses the scheduling variables; throws ConfigError listing every problem (parseConfig checks them too). */
export function parseSchedulingConfig(env: Record<string, string | undefined>): SchedulingConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = schedulingSchema.safeParse(cleaned);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  const e = result.data;
  return {
    cronEnabled: e.SQLGUARD_SCHEDULER_ENABLED === "true",
    leaseMs: e.SQLGUARD_LEASE_SECONDS * 1000,
    pollMs: Math.round(e.SQLGUARD_SCHEDULE_POLL_SECONDS * 1000),
    retentionIntervalMs: Math.round(e.SQLGUARD_RETENTION_INTERVAL_SECONDS * 1000),
    failedGraceMs: Math.round(e.SQLGUARD_FAILED_RETENTION_SECONDS * 1000),
    overdueGraceMs: Math.round(e.SQLGUARD_OVERDUE_GRACE_SECONDS * 1000),
  };
}

/** The /metrics credentials (parseConfig validates them too); neither set leaves the endpoint open. */
export function parseMetricsAuth(env: Record<string, string | undefined>): { token?: string; basicAuth?: string } {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = envSchema.pick({ SQLGUARD_METRICS_TOKEN: true, SQLGUARD_METRICS_BASIC_AUTH: true }).safeParse(cleaned);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  return { token: result.data.SQLGUARD_METRICS_TOKEN, basicAuth: result.data.SQLGUARD_METRICS_BASIC_AUTH };
}

/** The artifact verification interval in milliseconds, 0 = off (parseConfig validates it too). */
export function parseVerifyIntervalMs(env: Record<string, string | undefined>): number {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = envSchema.pick({ SQLGUARD_VERIFY_INTERVAL_SECONDS: true }).safeParse(cleaned);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  return result.data.SQLGUARD_VERIFY_INTERVAL_SECONDS * 1000;
}

/** How often PITR row-count checkpoints are taken, in milliseconds, 0 = never (parseConfig validates it too). */
export function parsePitrCheckpointMs(env: Record<string, string | undefined>): number {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = envSchema.pick({ SQLGUARD_PITR_CHECKPOINT_MINUTES: true }).safeParse(cleaned);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  return result.data.SQLGUARD_PITR_CHECKPOINT_MINUTES * 60_000;
}

/** Upload retries, health checks and automatic repair (parseConfig validates them too). */
export function parseReliabilityConfig(env: Record<string, string | undefined>): { retryBaseMs: number; healthIntervalMs: number; autoRepairMs: number } {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = envSchema
    .pick({ SQLGUARD_BACKUP_RETRY_BASE_SECONDS: true, SQLGUARD_HEALTH_INTERVAL_SECONDS: true, SQLGUARD_AUTO_REPAIR_HOURS: true })
    .safeParse(cleaned);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  const e = result.data;
  return {
    retryBaseMs: Math.round(e.SQLGUARD_BACKUP_RETRY_BASE_SECONDS * 1000),
    healthIntervalMs: Math.round(e.SQLGUARD_HEALTH_INTERVAL_SECONDS * 1000),
    autoRepairMs: Math.round(e.SQLGUARD_AUTO_REPAIR_HOURS * 3_600_000),
  };
}

/** The HTTP edge settings (parseConfig validates them too). */
export function parseEdgeConfig(env: Record<string, string | undefined>): EdgeConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = edgeSchema.safeParse(cleaned);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  const e = result.data;
  return {
    corsOrigins: e.SQLGUARD_CORS_ORIGINS.map((o) => new URL(o).origin),
    publicUrl: e.SQLGUARD_PUBLIC_URL,
    trustProxy: e.SQLGUARD_TRUST_PROXY === "true",
    webhookAllowLinkLocal: e.SQLGUARD_WEBHOOK_ALLOW_LINK_LOCAL === "true",
  };
}

/** The work queue and the roles (server/queue/); parseConfig validates them too. */
const queueSchema = z.object({
  // What this process does: "all" (default: API, console and backups), "api" (GraphQL, console and
  // metrics; queues backups but runs none) or "worker" (claims and runs backups; /healthz, /readyz
  // and /metrics only, no GraphQL or console).
  SQLGUARD_ROLE: z.enum(["all", "api", "worker"], { message: "must be all, api or worker" }).default("all"),
  // Backups RUNNING at once over every instance sharing the metadata database; unset: no cap beyond
  // each instance's SQLGUARD_MAX_CONCURRENT_BACKUPS and each server's own limit.
  SQLGUARD_CLUSTER_MAX_CONCURRENT_BACKUPS: z.coerce.number().int().min(1).max(100_000).optional(),
  // How often a worker looks for queued backups (it also looks at once when a slot frees up or it queues one).
  SQLGUARD_QUEUE_POLL_SECONDS: z.coerce.number().min(0.05).max(60).default(1),
});

/** The role and the work queue's settings. */
export type QueueConfig = { role: "all" | "api" | "worker"; clusterMax?: number; pollMs: number };

/** Parses SQLGUARD_ROLE and the queue variables; throws ConfigError listing every problem. */
export function parseQueueConfig(env: Record<string, string | undefined>): QueueConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = queueSchema.safeParse(cleaned);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  const e = result.data;
  return { role: e.SQLGUARD_ROLE, clusterMax: e.SQLGUARD_CLUSTER_MAX_CONCURRENT_BACKUPS, pollMs: Math.round(e.SQLGUARD_QUEUE_POLL_SECONDS * 1000) };
}
