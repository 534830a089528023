import fs from "node:fs/promises";
import { requireRole, roleAtLeast, type Principal } from "../auth/roles.ts";
import { type FieldProblem, ValidationError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { ConfigurationService, PlanResult } from "./configuration.service.ts";
import type { ChangeAction } from "./plan.ts";
import type { Section } from "./document.ts";

/** The actor of the audit entry an apply of the file writes. */
export const CONFIG_FILE_ACTOR = "config-file";

/** The name a non-admin sees for a user that differs (only admins may list users). */
export const HIDDEN_USER = "(a user)";

/** What differs between the installation and the file's document (the `configurationDrift` query). */
export type ConfigurationDrift = {
  file: string;
  /** When the file was last applied (at start or on SIGHUP), whether or not that changed anything. */
  appliedAt: Date | null;
  differing: number;
  objects: Array<{ kind: Section; name: string; change: ChangeAction }>;
};

/** The file cannot be read or its document is refused: every problem, each named by its path in the document. */
export class ConfigFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: FieldProblem[],
  ) {
    super(`SQLGUARD_CONFIG_FILE ${file} is refused:\n${problems.map((p) => `  - ${p.field}: ${p.problem}`).join("\n")}`);
    this.name = "ConfigFileError";
  }
}

export type ConfigFileDeps = {
  configuration: Pick<ConfigurationService, "applyAs">;
  logger: Logger;
  /** Absolute path (SQLGUARD_CONFIG_FILE). */
  path: string;
  /** SQLGUARD_CONFIG_PRUNE: also delete what the file does not name. */
  prune: boolean;
  now?: () => Date;
};

/**
 * `SQLGUARD_CONFIG_FILE`: a sqlguard.yaml document that is the installation's source of truth.
 * main.ts applies it before the scheduler starts (a bad file stops the start) and again on
 * SIGHUP (a bad file is logged and changes nothing). Each apply is one transaction and one audit
 * entry by "config-file". Drift is the dry-run plan of the last applied document against the
 * installation now, so a change made through the console shows until the file is applied again.
 */
export class ConfigFile {
  #document: string | null = null;
  #appliedAt: Date | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #log: Logger;

  constructor(private readonly deps: ConfigFileDeps) {
    this.#log = deps.logger.child({ component: "config-file" });
  }

  get path(): string {
    return this.deps.path;
  }

  /** Reads and applies the file; throws ConfigFileError with every problem (nothing is changed then). */
  apply(): Promise<PlanResult> {
    // One apply at a time: a SIGHUP during the start (or two in a row) waits for the one before.
    const next = this.#queue.then(() => this.#applyNow());
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** SIGHUP: applies the file again; a bad file is logged, changes nothing, and the last good document stays. */
  async reload(): Promise<boolean> {
    try {
      await this.apply();
      return true;
    } catch (error) {
      if (!(error instanceof ConfigFileError)) throw error;
      this.#log.error({ file: error.file, problems: error.problems }, "configuration file refused on SIGHUP; nothing was changed");
      return false;
    }
  }

  /**
   * What differs from the file's document now (viewer role; users' names only for admins, as the
   * users list). Throws ValidationError if the document no longer plans (e.g. a secret file gone).
   */
  async drift(principal: Principal | null): Promise<ConfigurationDrift> {
    const admin = roleAtLeast(requireRole(principal, "VIEWER").role, "ADMIN");
    const document = this.#document ?? (await this.#read());
    const plan = await this.deps.configuration.applyAs("drift-check", null, document, { prune: this.deps.prune, dryRun: true });
    return {
      file: this.deps.path,
      appliedAt: this.#appliedAt,
      differing: plan.changes.length,
      objects: plan.changes.map((c) => ({ kind: c.section, name: c.section === "users" && !admin ? HIDDEN_USER : c.name, change: c.action })),
    };
  }

  async #applyNow(): Promise<PlanResult> {
    const document = await this.#read();
    let result: PlanResult;
    try {
      result = await this.deps.configuration.applyAs(CONFIG_FILE_ACTOR, null, document, { prune: this.deps.prune });
    } catch (error) {
      if (error instanceof ValidationError) throw new ConfigFileError(this.deps.path, error.problems);
      throw error;
    }
    this.#document = document;
    this.#appliedAt = this.deps.now?.() ?? new Date();
    for (const warning of result.warnings) this.#log.warn({ file: this.deps.path, warning }, "configuration file warning");
    this.#log.info({ file: this.deps.path, summary: result.summary, applied: result.applied }, "configuration file applied");
    return result;
  }

  async #read(): Promise<string> {
    try {
      return await fs.readFile(this.deps.path, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new ConfigFileError(this.deps.path, [{ field: "SQLGUARD_CONFIG_FILE", problem: `cannot be read (${code})` }]);
    }
  }
}
