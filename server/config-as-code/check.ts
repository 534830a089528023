import YAML from "yaml";
import type { z } from "zod";
import { cronProblem } from "../catalog/validate.ts";
import type { FieldProblem } from "../errors.ts";
import { webhookUrlProblem, type WebhookNetwork } from "../notifications/address-guard.ts";
import { compressionLevelProblem } from "../process/compress.ts";
import { realStoragePathProblem } from "../storage/storage-paths.ts";
import { configurationDoc, formatPath, KEY_OF, RETENTION_LIMITS, SECRET_FIELDS, SECTIONS, type ConfigurationDoc, type Section } from "./document.ts";
import { resolveSecret, type SecretSource } from "./secrets.ts";

/** What a document check needs: where secrets come from, the data directory and the webhook network rules. */
export type CheckDeps = { source: SecretSource; dataDir?: string; network?: WebhookNetwork };

export type CheckedDocument = {
  doc: ConfigurationDoc;
  /** Resolved secrets by "section/name/field". */
  secretValues: Map<string, string>;
  warnings: string[];
};

/** Names that exist outside the document: the installation's (when nothing is pruned), to resolve references. */
export type KnownNames = Record<Section, Set<string>>;

/**
 * Parses and checks a document: YAML syntax, the schema (unknown fields, types, ranges), then the
 * rules across fields and objects (duplicate names, references, cron expressions in their time
 * zone, retention, storage paths, webhook addresses, secrets). Returns every problem at once, each
 * named by its path in the document; nothing is written here.
 */
export async function checkDocument(text: string, known: KnownNames, deps: CheckDeps): Promise<{ problems: FieldProblem[]; checked?: CheckedDocument }> {
  const parsed = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (parsed.errors.length) {
    return {
      problems: parsed.errors.map((e) => ({
        field: "document",
        problem: `${e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}: ` : ""}${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:$/, "")}`,
      })),
    };
  }
  const raw = parsed.toJS({ maxAliasCount: 100 }) as unknown;
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    return { problems: [{ field: "document", problem: "must be a mapping with apiVersion: sqlguard/v1 and kind: Configuration" }] };
  }
  const result = configurationDoc.safeParse(raw, { reportInput: true });
  const schemaProblems = result.success ? [] : zodProblems(result.error);
  // With schema problems, the objects that are valid on their own are still checked further, so
  // that every problem is listed at once; the others' names still count as present.
  const doc = result.success ? result.data : partialDocument(raw as Record<string, unknown>);
  if (!doc) return { problems: schemaProblems };
  const problems: FieldProblem[] = [...schemaProblems];
  const warnings: string[] = [];
  const add = (path: Array<string | number>, problem: string): void => {
    problems.push({ field: formatPath(path), problem });
  };

  // Duplicate names, then what every reference may point to.
  const names = {} as KnownNames;
  for (const section of SECTIONS) {
    const seen = new Map<string, number>();
    const key = KEY_OF[section];
    const rawItems = Array.isArray((raw as Record<string, unknown>)[section]) ? ((raw as Record<string, unknown>)[section] as unknown[]) : [];
    rawItems.forEach((o, i) => {
      const name = o && typeof o === "object" ? (o as Record<string, unknown>)[key] : undefined;
      if (typeof name !== "string") return;
      const first = seen.get(name.trim());
      if (first !== undefined) add([section, i, key], `duplicate name ${JSON.stringify(name.trim())} (also ${formatPath([section, first])})`);
      else seen.set(name.trim(), i);
    });
    names[section] = new Set([...seen.keys(), ...known[section]]);
  }
  const refer = (section: Section, what: string, name: string | null | undefined, path: Array<string | number>): void => {
    if (name != null && !names[section].has(name)) add(path, `no ${what} named ${JSON.stringify(name)}`);
  };

  for (const [i, d] of doc.dumpOptions.entries()) {
    if (!d) continue;
    const problem = compressionLevelProblem(d.compression === "NONE" ? "ZSTD" : d.compression, d.compressionLevel);
    if (problem) add(["dumpOptions", i, "compressionLevel"], d.compression === "NONE" ? problem.replace(/ for ZSTD$/, "") : problem);
  }
  for (const [i, t] of doc.storageTargets.entries()) {
    if (!t) continue;
    const at = (f: string) => ["storageTargets", i, f];
    if (t.kind === "LOCAL") {
      if (!t.path) add(at("path"), "is required for a LOCAL target");
      else {
        const problem = await realStoragePathProblem(t.path, deps.dataDir);
        if (problem) add(at("path"), problem);
      }
    }
    if (t.kind === "S3") {
      if (!t.bucket) add(at("bucket"), "is required for an S3 target");
      if (Boolean(t.accessKeyId) !== Boolean(t.secretAccessKey))
        add(
          at(t.accessKeyId ? "secretAccessKey" : "accessKeyId"),
          "accessKeyId and secretAccessKey must be given together (or both left out to use the environment's credentials)",
        );
    }
  }
  for (const [i, s] of doc.servers.entries()) {
    if (!s) continue;
    refer("dumpOptions", "dump option profile", s.dumpOptions, ["servers", i, "dumpOptions"]);
    for (const [j, n] of (s.pitr?.storageTargets ?? []).entries()) refer("storageTargets", "storage target", n, ["servers", i, "pitr", "storageTargets", j]);
  }
  for (const [i, s] of doc.schedules.entries()) {
    if (!s) continue;
    const at = (...p: Array<string | number>) => ["schedules", i, ...p];
    const problem = cronProblem(s.cronExpression, s.timezone);
    if (problem) add(at("cronExpression"), problem === "never fires" ? `never fires in ${s.timezone}` : problem);
    const sel = s.servers;
    const serverNames = Array.isArray(sel) ? sel : (sel?.names ?? []);
    for (const [j, n] of serverNames.entries()) refer("servers", "server", n, Array.isArray(sel) ? at("servers", j) : at("servers", "names", j));
    for (const [j, n] of s.storageTargets.entries()) refer("storageTargets", "storage target", n, at("storageTargets", j));
    for (const [target, rule] of Object.entries(s.retention)) {
      refer("storageTargets", "storage target", target, at("retention", target));
      const limits = RETENTION_LIMITS.filter((f) => rule[f] != null);
      if (rule.keepForever && limits.length) add(at("retention", target, limits[0]!), "cannot be combined with keepForever");
      if (!rule.keepForever && limits.length === 0)
        add(at("retention", target), "set keepForever, or at least one of maxAgeDays, keepLast, gfsHourly, gfsDaily, gfsWeekly, gfsMonthly, gfsYearly");
    }
    if (s.drill) {
      refer("servers", "server", s.drill.server, at("drill", "server"));
      const drillProblem = s.drill.cron ? cronProblem(s.drill.cron, s.timezone) : null;
      if (drillProblem) add(at("drill", "cron"), drillProblem === "never fires" ? `never fires in ${s.timezone}` : drillProblem);
    }
  }
  for (const [i, w] of doc.webhooks.entries()) {
    if (!w) continue;
    refer("schedules", "schedule", w.schedule, ["webhooks", i, "schedule"]);
    const problem = await webhookUrlProblem(w.url, deps.network);
    if (problem) add(["webhooks", i, "url"], problem);
  }

  // Secrets last: resolved where the document is applied.
  const secretValues = new Map<string, string>();
  for (const section of SECTIONS) {
    const fields = SECRET_FIELDS[section];
    if (!fields.length) continue;
    for (const [i, o] of (doc[section] as Array<Record<string, unknown> | undefined>).entries()) {
      if (!o) continue;
      for (const field of fields) {
        const raw = o[field];
        if (typeof raw !== "string" || raw === "") continue;
        try {
          const resolved = await resolveSecret(raw, deps.source);
          secretValues.set(`${section}/${String(o[KEY_OF[section]])}/${field}`, resolved.value);
          if (resolved.inline)
            warnings.push(`${formatPath([section, i, field])}: the secret is written inline; refer to it as \${env:NAME} or \${file:/path} instead`);
        } catch (error) {
          add([section, i, field], (error as Error).message);
        }
      }
    }
  }
  return problems.length ? { problems } : { problems, checked: { doc: doc as ConfigurationDoc, secretValues, warnings } };
}

/** A document whose sections hold the objects valid on their own (the others as holes, keeping indexes); null if the top level is unusable. */
function partialDocument(raw: Record<string, unknown>): PartialDoc | null {
  const out = {} as PartialDoc;
  for (const section of SECTIONS) {
    const items = raw[section];
    if (items !== undefined && !Array.isArray(items)) return null;
    const schema = configurationDoc.shape[section].unwrap().element;
    (out as Record<string, unknown[]>)[section] = (items ?? []).map((o) => {
      const r = schema.safeParse(o);
      return r.success ? r.data : undefined;
    });
  }
  return out;
}

type PartialDoc = { [K in Section]: Array<ConfigurationDoc[K][number] | undefined> };

/** Zod's issues as document paths: unknown fields each on their own path, missing fields "is required". */
function zodProblems(error: z.ZodError): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ field: formatPath([...issue.path, key]), problem: "unknown field" });
      continue;
    }
    const input = (issue as { input?: unknown }).input;
    const problem =
      issue.code === "invalid_type" && input === undefined
        ? "is required"
        : issue.code === "invalid_type"
          ? `must be ${article(issue.expected)} (not ${describeValue(input)})`
          : issue.message;
    out.push({ field: formatPath(issue.path), problem });
  }
  return out;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}
