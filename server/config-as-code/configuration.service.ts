import { hashPassword, randomPassword } from "../auth/password.ts";
import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import type { ConfigListener } from "../catalog/catalog-deps.ts";
import type { PrismaClient } from "../db/client.ts";
import { ValidationError } from "../errors.ts";
import type { WebhookNetwork } from "../notifications/address-guard.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import { writePlan } from "./apply.ts";
import type { KnownNames } from "./check.ts";
import { KEY_OF, SECTIONS, type Section } from "./document.ts";
import { planChanges, summarize, type Plan } from "./plan.ts";
import type { SecretSource } from "./secrets.ts";
import { canonicalDocument, loadState } from "./state.ts";

export type ConfigurationDeps = {
  prisma: PrismaClient;
  secrets: SecretBox;
  audit: AuditLog;
  /** Told once per applied document; the scheduler reconciles on it. */
  onChange: ConfigListener;
  /** Where `${env:…}` placeholders are looked up (main.ts: the process environment). */
  source: SecretSource;
  dataDir?: string;
  network?: WebhookNetwork;
  now?: () => Date;
};

export type PlanResult = Plan & { summary: string; empty: boolean; applied: boolean; dryRun: boolean; prune: boolean };

type Options = { prune?: boolean | null; dryRun?: boolean | null };

/** Artifact states whose object is (or is being) on a target: such a target is never pruned nor re-pointed. */
const HELD = ["STORED", "PENDING", "CORRUPT"] as const;

/**
 * Configuration as code: the installation exported as one `sqlguard.yaml` document, and a
 * document planned and applied against it (admin role). An apply is one transaction with one
 * audit entry holding the plan, then one scheduler reconcile; a document with problems changes
 * nothing and is refused with every problem, each named by its path in the document.
 */
export class ConfigurationService {
  constructor(private readonly deps: ConfigurationDeps) {}

  /** The installation as a document (no secrets: `${env:…}` placeholders). Admin role. */
  async export(principal: Principal | null): Promise<string> {
    requireRole(principal, "ADMIN");
    const { state } = await loadState(this.deps.prisma, this.deps.secrets);
    // check.ts and export.ts (with the YAML parser) load at the first use: a worker never applies a document.
    const { exportDocument } = await import("./export.ts");
    return exportDocument(state);
  }

  /** What applying `document` would change. Admin role; throws ValidationError listing every problem. */
  plan(principal: Principal | null, document: string, options: Options = {}): Promise<PlanResult> {
    return this.apply(principal, document, { ...options, dryRun: true });
  }

  /** Applies `document` (all or nothing), or only plans it with `dryRun`. Admin role. */
  async apply(principal: Principal | null, document: string, options: Options = {}): Promise<PlanResult> {
    const actor = requireRole(principal, "ADMIN");
    return this.applyAs(actorName(actor), actor.username, document, options);
  }

  /**
   * The apply itself, for a principal or for the configuration file at start (`actor` "config-file").
   * The document is checked before the transaction (files, DNS, storage paths); the plan is made
   * again inside it, on rows read under the lock, so what is written is what was planned.
   */
  async applyAs(actor: string, username: string | null, document: string, options: Options = {}): Promise<PlanResult> {
    const prune = Boolean(options.prune);
    const dryRun = Boolean(options.dryRun);
    const { prisma } = this.deps;
    const known = prune ? emptyNames() : await this.#names();
    const { checkDocument } = await import("./check.ts");
    const { problems, checked } = await checkDocument(document, known, this.deps);
    if (!checked) throw ValidationError.of(problems);
    const desired = canonicalDocument(checked.doc, checked.secretValues);
    const indexOf = (section: Section, name: string) =>
      (checked.doc[section] as unknown as Array<Record<string, string>>).findIndex((o) => o[KEY_OF[section]] === name);
    const newUserHashes = new Map<string, string>();
    for (const u of checked.doc.users) if (!known.users.has(u.username) || prune) newUserHashes.set(u.username, await hashPassword(randomPassword()));

    const run = async (tx: Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0]): Promise<PlanResult> => {
      const { state, ids } = await loadState(tx, this.deps.secrets);
      const held = await tx.backupArtifact.groupBy({
        by: ["storageTargetId"],
        where: { status: { in: [...HELD] }, storageTargetId: { not: null } },
        _count: true,
      });
      const nameById = new Map([...ids.storageTargets].map(([n, id]) => [id, n]));
      const heldArtifacts = new Map(held.map((h) => [nameById.get(h.storageTargetId!) ?? "", h._count]));
      const { plan, problems: planProblems } = planChanges(desired, state, prune, { heldArtifacts, actor: username, indexOf });
      if (planProblems.length) throw ValidationError.of(planProblems);
      plan.warnings.unshift(...checked.warnings);
      const result: PlanResult = { ...plan, summary: summarize(plan), empty: plan.changes.length === 0, applied: false, dryRun, prune };
      if (dryRun || result.empty) return result;
      await writePlan(tx, plan, desired, ids, { secrets: this.deps.secrets, newUserHashes, now: this.deps.now?.() ?? new Date() });
      await this.deps.audit.record(
        actor,
        "configuration.apply",
        "Configuration",
        null,
        null,
        { summary: result.summary, prune, changes: plan.changes, warnings: plan.warnings },
        tx,
      );
      return { ...result, applied: true };
    };
    const result = dryRun
      ? await run(prisma as never)
      : await prisma.$transaction(
          async (tx) => {
            // One apply at a time across instances; the lock ends with the session's transaction work.
            await tx.$queryRaw`SELECT GET_LOCK('sqlguard_config_apply', 30)`;
            try {
              return await run(tx);
            } finally {
              await tx.$queryRaw`SELECT RELEASE_LOCK('sqlguard_config_apply')`;
            }
          },
          { timeout: 120_000, maxWait: 30_000 },
        );
    if (result.applied) this.deps.onChange({ entity: "schedule", id: 0, action: "update" });
    return result;
  }

  /** How many objects of the document differ from the installation (created or updated by an apply without prune). */
  async drift(document: string): Promise<{ count: number; summary: string }> {
    const result = await this.applyAs("drift-check", null, document, { dryRun: true });
    return { count: result.changes.length, summary: result.summary };
  }

  async #names(): Promise<KnownNames> {
    const { prisma } = this.deps;
    const [d, t, s, sc, w, u, k] = await Promise.all([
      prisma.dumpOptions.findMany({ select: { name: true } }),
      prisma.storageTarget.findMany({ select: { name: true } }),
      prisma.server.findMany({ select: { name: true } }),
      prisma.schedule.findMany({ select: { name: true } }),
      prisma.webhook.findMany({ select: { name: true } }),
      prisma.user.findMany({ select: { username: true } }),
      prisma.encryptionKey.findMany({ where: { kind: "RECOVERY", retiredAt: null }, select: { recipient: true } }),
    ]);
    return {
      dumpOptions: new Set(d.map((r) => r.name)),
      storageTargets: new Set(t.map((r) => r.name)),
      servers: new Set(s.map((r) => r.name)),
      schedules: new Set(sc.map((r) => r.name)),
      webhooks: new Set(w.map((r) => r.name)),
      users: new Set(u.map((r) => r.username)),
      recoveryRecipients: new Set(k.map((r) => r.recipient)),
    };
  }
}

function emptyNames(): KnownNames {
  return Object.fromEntries(SECTIONS.map((s) => [s, new Set<string>()])) as KnownNames;
}
