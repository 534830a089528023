import net from "node:net";
import { cronZone, isTimeZone } from "./cron.ts";
import path from "node:path";
import { Cron } from "croner";
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import { globProblem } from "./glob.ts";

/**
 * Field rules shared by the configuration services. Each rule's message is the problem; the
 * field name comes from the input's shape, so errors read `port: must be between 1 and 65535`.
 */

/** Names appear in storage keys and metric labels, so they stay simple. */
export const nameRule = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(100, "must be at most 100 characters")
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "may contain only letters, digits, '.', '_' and '-', and must start with a letter or digit");

const HOST_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

export const hostRule = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(255, "must be at most 255 characters")
  .refine((h) => net.isIP(h.replace(/^\[(.*)\]$/, "$1")) !== 0 || h.split(".").every((l) => HOST_LABEL.test(l)), {
    message: "must be a host name or an IP address",
  });

export const portRule = z.number().int("must be a whole number").min(1, "must be between 1 and 65535").max(65535, "must be between 1 and 65535");

export const usernameRule = z
  .string()
  .min(1, "must not be empty")
  .max(128, "must be at most 128 characters")
  .refine((u) => !/[\u0000-\u001f\u007f]/.test(u), { message: "must not contain control characters" });

export const secretRule = z.string().max(1024, "must be at most 1024 characters");

export const globListRule = z
  .array(z.string())
  .max(200, "at most 200 patterns")
  .superRefine((patterns, ctx) => {
    patterns.forEach((p, i) => {
      const problem = globProblem(p);
      if (problem) ctx.addIssue({ code: "custom", path: [i], message: `pattern ${JSON.stringify(p)} ${problem}` });
    });
  });

export const absolutePathRule = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(1024, "must be at most 1024 characters")
  .refine((p) => path.isAbsolute(p), { message: "must be an absolute path" })
  .refine((p) => !p.includes("\0"), { message: "must not contain NUL" })
  .refine((p) => !p.split("/").includes(".."), { message: "must not contain '..'" })
  .refine((p) => path.resolve(p) !== "/", { message: "must not be the root directory" })
  .transform((p) => path.resolve(p));

export const bucketRule = z
  .string()
  .trim()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be 3 to 63 lower-case letters, digits, '.' or '-'")
  .refine((b) => !b.includes(".."), { message: "must not contain '..'" });

export const regionRule = z
  .string()
  .trim()
  .regex(/^[a-z0-9-]{1,64}$/, "must be a region name such as us-east-1");

export const endpointRule = z
  .string()
  .trim()
  .max(1024, "must be at most 1024 characters")
  .refine(
    (e) => {
      try {
        const u = new URL(e);
        return (u.protocol === "http:" || u.protocol === "https:") && !u.username && !u.password;
      } catch {
        return false;
      }
    },
    { message: "must be an http(s) URL without credentials, e.g. https://s3.example.com:9000" },
  );

export const prefixRule = z
  .string()
  .trim()
  .max(512, "must be at most 512 characters")
  .refine((p) => !p.startsWith("/"), { message: "must not start with '/'" })
  .refine((p) => !p.split("/").some((s) => s === ".." || s === "."), { message: "must not contain '.' or '..' segments" })
  .refine((p) => !/[\u0000-\u001f\u007f\\]/.test(p), { message: "must not contain control characters or backslashes" })
  .transform((p) => p.replace(/\/+$/, ""));

/** Returns why a time zone is unknown, or null. */
export function timezoneProblem(tz: string): string | null {
  return isTimeZone(tz) ? null : `unknown time zone ${JSON.stringify(tz)} (use an IANA name such as Europe/Berlin or UTC)`;
}

export const timezoneRule = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .superRefine((tz, ctx) => {
    const problem = timezoneProblem(tz);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/**
 * Returns why a cron expression is unusable, or null: five fields (minute hour day month weekday)
 * or a nickname such as `@daily`. Croner would also take a seconds field (six or seven fields) and
 * fire every second; schedules are minutes, so that is refused unless SQLGUARD_CRON_SECONDS=true
 * (tests and demos: six fields, seconds first). The message is one sentence of our
 * own words and croner's reason, without its class names and nested "Original error" chains.
 */
export function cronProblem(expression: string, timezone = "UTC"): string | null {
  const fields = expression.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 1 || !fields[0]!.startsWith("@")) {
    const secondsField = fields.length === 6 && process.env.SQLGUARD_CRON_SECONDS === "true";
    if ((fields.length === 6 || fields.length === 7) && !secondsField) {
      return `invalid cron expression: ${fields.length} fields, but a seconds field is not supported; use 5 fields (minute hour day-of-month month day-of-week), e.g. "*/5 * * * *"`;
    }
    if (fields.length !== 5 && !secondsField)
      return `invalid cron expression: ${fields.length} field${fields.length === 1 ? "" : "s"}; use 5 fields (minute hour day-of-month month day-of-week), e.g. "0 3 * * *"`;
  }
  try {
    const job = new Cron(expression, { ...cronZone(timezone), paused: true });
    const next = job.nextRun();
    job.stop();
    return next ? null : "never fires";
  } catch (error) {
    return `invalid cron expression: ${cronReason((error as Error).message)}`;
  }
}

/** Croner's reason without its prefixes ("CronPattern: ") and the chained "Original error: …". */
function cronReason(message: string): string {
  const reason = message
    .split(/\s*Original error:/)[0]!
    .replace(/^(Cron[A-Za-z]*:\s*)+/, "")
    .trim();
  return reason || "not a cron expression";
}

export const cronRule = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(120, "must be at most 120 characters")
  .superRefine((c, ctx) => {
    const problem = cronProblem(c);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

export const countRule = z.number().int("must be a whole number").min(0, "must not be negative").max(100_000, "must be at most 100000");

/**
 * Parses input with a zod schema; on failure throws one ValidationError listing every problem,
 * each named by its field path (`includeDatabases.2`).
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  throw ValidationError.of(
    result.error.issues.map((issue) => ({
      field: issue.path.length ? issue.path.join(".") : "input",
      problem:
        issue.code === "invalid_type" && issue.input === undefined
          ? "is required"
          : issue.code === "invalid_type" && issue.input === null
            ? "must not be null"
            : issue.message,
    })),
  );
}
