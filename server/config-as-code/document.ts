import { z } from "zod";
import { extraFlagProblem } from "../catalog/dump-flags.ts";
import { ENGINES } from "../catalog/servers.service.ts";
import { parseRecipient } from "../encryption/age-keys.ts";
import { webhookUrlRule } from "../notifications/webhooks.service.ts";
import {
  absolutePathRule,
  bucketRule,
  countRule,
  cronRule,
  endpointRule,
  globListRule,
  hostRule,
  nameRule,
  portRule,
  prefixRule,
  regionRule,
  secretRule,
  timezoneRule,
  usernameRule,
} from "../catalog/validate.ts";

/**
 * The `sqlguard.yaml` document (apiVersion sqlguard/v1, kind Configuration), built from the same
 * field rules as the configuration services (server/catalog/validate.ts), so a document is refused
 * for exactly what the API refuses. Every object is identified by its name; unknown fields are
 * errors. `docs/sqlguard.schema.json` is generated from this schema (scripts/print-config-schema.ts).
 */

export const API_VERSION = "sqlguard/v1";
export const KIND = "Configuration";

/** A secret: `${env:NAME}`, `${file:/path}`, or (with a warning) the secret itself. */
const secret = secretRule.describe(
  `A secret: \${env:NAME} or \${file:/absolute/path}, resolved where the document is applied. An inline value is accepted with a warning.`,
);

const labelKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,62}$/, "label keys are letters, digits, '_', '.', '-' (max 63)");
const labels = z
  .record(labelKey, z.string().max(255, "label values are at most 255 characters"))
  .refine((l) => Object.keys(l).length <= 50, { message: "at most 50 labels" })
  .describe("Free-form key/value labels, e.g. { env: prod }; schedules select servers by them.");

const description = z.string().max(500, "must be at most 500 characters").nullable().optional();
const ref = nameRule.describe("The name of an object of this document (or of the installation).");

const flags = (family: "mysql" | "pg") =>
  z
    .array(z.string().trim())
    .max(50, "at most 50 flags")
    .superRefine((list, ctx) => {
      list.forEach((flag, i) => {
        const problem = extraFlagProblem(flag, family);
        if (problem) ctx.addIssue({ code: "custom", path: [i], message: problem });
      });
    });

export const dumpOptionsDoc = z.strictObject({
  name: nameRule,
  description,
  singleTransaction: z.boolean().default(true),
  quick: z.boolean().default(true),
  routines: z.boolean().default(true),
  triggers: z.boolean().default(true),
  events: z.boolean().default(true),
  hexBlob: z.boolean().default(true),
  setGtidPurged: z.enum(["AUTO", "ON", "OFF"]).nullable().optional(),
  columnStatistics: z.boolean().nullable().optional(),
  pgFormat: z.enum(["PLAIN", "CUSTOM"]).default("PLAIN"),
  noOwner: z.boolean().default(true),
  noPrivileges: z.boolean().default(false),
  mysqlExtraFlags: flags("mysql").default([]),
  pgExtraFlags: flags("pg").default([]),
  compression: z.enum(["ZSTD", "GZIP", "NONE"]).default("ZSTD"),
  compressionLevel: z.number().int("must be a whole number").default(3),
  encryption: z
    .enum(["NONE", "AGE"])
    .default("NONE")
    .describe("AGE: artifacts are encrypted after compression (age v1, `.age`) to the instance key and every recovery recipient."),
});

/**
 * A recovery recipient: the public half (`age1…`) of a key a user holds, which every encrypted
 * backup is also written to. Leaving one out of a document retires it only with prune.
 */
export const recoveryRecipientDoc = z.strictObject({
  label: z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters"),
  recipient: z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      try {
        parseRecipient(value);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
      }
    })
    .describe('An age public key, `age1…` (the "public key:" line age-keygen prints); its private half stays with you.'),
});

export const storageTargetDoc = z.strictObject({
  name: nameRule,
  kind: z.enum(["LOCAL", "S3"]),
  enabled: z.boolean().default(true),
  isDefault: z.boolean().default(false).describe("Used by runBackup and by schedules that name no target."),
  path: absolutePathRule.optional().describe("LOCAL: absolute base directory."),
  bucket: bucketRule.optional(),
  region: regionRule.optional(),
  endpoint: endpointRule.optional(),
  prefix: prefixRule.default(""),
  forcePathStyle: z.boolean().default(true),
  accessKeyId: z.string().trim().max(255, "must be at most 255 characters").optional(),
  secretAccessKey: secret.optional(),
});

export const serverDoc = z.strictObject({
  name: nameRule,
  engine: z.enum(ENGINES),
  host: hostRule,
  port: portRule.optional().describe("Defaults to 3306 (MySQL, MariaDB) or 5432 (PostgreSQL)."),
  username: usernameRule,
  password: secret.optional(),
  tls: z.boolean().default(false),
  allowPublicKeyRetrieval: z.boolean().default(true),
  enabled: z.boolean().default(true),
  labels: labels.default({}),
  includeDatabases: globListRule.default([]),
  excludeDatabases: globListRule.default([]),
  maxConcurrent: z.number().int("must be a whole number").min(1, "must be at least 1").max(64, "must be at most 64").default(1),
  dumpOptions: ref.nullable().optional().describe("The dump option profile (by name); none = the built-in defaults."),
  pitr: z
    .strictObject({
      enabled: z.boolean(),
      rpoSeconds: z.number().int("must be a whole number").min(5, "must be at least 5").max(3600, "must be at most 3600").default(60),
      storageTargets: z.array(ref).default([]).describe("Storage targets (by name) for the binlog archive; empty = the default targets."),
    })
    .optional()
    .describe("Point-in-time recovery (MariaDB / MySQL): the binlog archived continuously."),
});

const keep = (min: number, message: string) => countRule.min(min, message).optional();

export const retentionDoc = z.strictObject({
  keepForever: z.boolean().optional(),
  maxAgeDays: keep(1, "must be ≥ 1"),
  keepLast: keep(1, "must be ≥ 1"),
  gfsHourly: countRule.optional(),
  gfsDaily: countRule.optional(),
  gfsWeekly: countRule.optional(),
  gfsMonthly: countRule.optional(),
  gfsYearly: countRule.optional(),
  minKeep: countRule.min(1, "must be ≥ 1, so that failing backups never empty the history").default(1),
});

export const RETENTION_LIMITS = ["maxAgeDays", "keepLast", "gfsHourly", "gfsDaily", "gfsWeekly", "gfsMonthly", "gfsYearly"] as const;

const serverNames = z.array(ref).max(1000, "at most 1000 entries");
const serverSelector = z.union(
  [
    serverNames.describe("Servers by name."),
    z
      .strictObject({
        matchLabels: labels.optional().describe("Every enabled server carrying all of these labels, matched at each run."),
        names: serverNames.optional().describe("And these servers, by name."),
      })
      .refine((s) => Object.keys(s.matchLabels ?? {}).length > 0 || (s.names?.length ?? 0) > 0, { message: "must name at least one label or server" }),
  ],
  { error: "must be a list of server names or { matchLabels: { key: value } }" },
);

export const scheduleDoc = z.strictObject({
  name: nameRule,
  description,
  cronExpression: cronRule,
  timezone: timezoneRule.default("UTC"),
  enabled: z.boolean().default(true),
  missedRunPolicy: z.enum(["RUN_ONCE", "SKIP"]).default("RUN_ONCE"),
  servers: serverSelector
    .optional()
    .describe("A list of server names, or { matchLabels: { env: prod } } (matched at every run); omitted = every enabled server."),
  storageTargets: z.array(ref).max(1000, "at most 1000 entries").default([]).describe("Targets by name; empty = the default targets."),
  retention: z.record(ref, retentionDoc).default({}).describe("Retention per storage target (by name)."),
  drill: z
    .strictObject({
      server: ref.describe("The verification server drills restore into."),
      cron: cronRule.nullable().optional().describe("Drill on this cron instead of after every successful backup."),
      enabled: z.boolean().default(true),
      pitr: z
        .boolean()
        .default(false)
        .describe("Point-in-time drills: a dump plus the archived binlog replayed to a random row-count checkpoint (MariaDB with point-in-time recovery on)."),
    })
    .optional()
    .describe("Restore drills of this schedule's backups."),
});

export const webhookDoc = z.strictObject({
  name: nameRule,
  url: webhookUrlRule,
  secret: secret.optional(),
  format: z.enum(["GENERIC", "HEALTHCHECKS"]).default("GENERIC"),
  onFailure: z.boolean().default(true),
  onRecovery: z.boolean().default(true),
  onOverdue: z.boolean().default(true),
  onSuccess: z.boolean().default(false),
  schedule: ref.nullable().optional().describe("Only this schedule's backups; omitted = every backup."),
  enabled: z.boolean().default(true),
});

export const userDoc = z.strictObject({
  username: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._@-]{1,100}$/, "may contain only letters, digits, '.', '_', '@' and '-' (max 100)"),
  role: z.enum(["ADMIN", "OPERATOR", "VIEWER"]),
  disabled: z.boolean().default(false),
});

export const configurationDoc = z
  .strictObject({
    apiVersion: z.literal(API_VERSION, { message: `must be ${API_VERSION}` }),
    kind: z.literal(KIND, { message: `must be ${KIND}` }),
    dumpOptions: z.array(dumpOptionsDoc).default([]).describe("Dump option profiles."),
    storageTargets: z.array(storageTargetDoc).default([]),
    servers: z.array(serverDoc).default([]),
    schedules: z.array(scheduleDoc).default([]),
    webhooks: z.array(webhookDoc).default([]),
    users: z.array(userDoc).default([]).describe("Users and their roles; passwords are never part of a document."),
    recoveryRecipients: z
      .array(recoveryRecipientDoc)
      .default([])
      .describe("Recovery recipients of encrypted backups (the instance key is not part of a document); prune retires the ones left out."),
  })
  .describe("A SQLGuard installation's configuration (sqlguard.yaml).");

export type ConfigurationDoc = z.output<typeof configurationDoc>;
export type DumpOptionsDoc = z.output<typeof dumpOptionsDoc>;
export type StorageTargetDoc = z.output<typeof storageTargetDoc>;
export type ServerDoc = z.output<typeof serverDoc>;
export type ScheduleDoc = z.output<typeof scheduleDoc>;
export type RetentionDoc = z.output<typeof retentionDoc>;
export type WebhookDoc = z.output<typeof webhookDoc>;
export type UserDoc = z.output<typeof userDoc>;
export type RecoveryRecipientDoc = z.output<typeof recoveryRecipientDoc>;

/** The document's sections, in the order they are exported, planned and written. */
export const SECTIONS = ["dumpOptions", "storageTargets", "servers", "schedules", "webhooks", "users", "recoveryRecipients"] as const;
export type Section = (typeof SECTIONS)[number];

/** Each section's identifying field. */
export const KEY_OF: Record<Section, "name" | "username" | "recipient"> = {
  dumpOptions: "name",
  storageTargets: "name",
  servers: "name",
  schedules: "name",
  webhooks: "name",
  users: "username",
  recoveryRecipients: "recipient",
};

/** The fields holding secrets, per section: plans say only "set" / "changed". */
export const SECRET_FIELDS: Record<Section, string[]> = {
  dumpOptions: [],
  storageTargets: ["secretAccessKey"],
  servers: ["password"],
  schedules: [],
  webhooks: ["secret"],
  users: [],
  recoveryRecipients: [],
};

/** A path in the document as users read it: `schedules[2].retention.offsite.keepLast`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || "document";
}

/** The JSON Schema of the document, for editors (yaml-language-server). */
export function documentJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configurationDoc, { io: "input", unrepresentable: "any", target: "draft-2020-12" }) as Record<string, unknown>;
  return { title: "sqlguard.yaml (apiVersion sqlguard/v1, kind Configuration)", ...schema };
}
