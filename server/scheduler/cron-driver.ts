import crypto from "node:crypto";
import { cronZone } from "../catalog/cron.ts";
import { Cron } from "croner";
import type { Logger } from "../observability/logger.ts";
import { latestDue, nextDue, type CronSpec } from "./due-times.ts";

/** Called when a job fires, with the due time it fires for (whole seconds, as croner computes it). */
export type TickHandler = (dueAt: Date) => Promise<void>;

/**
 * The cron adapter: named jobs that call a handler at each due time. The scheduler reconciles the
 * database's schedules onto it; tests use a manual driver that fires when the test says so.
 */
export interface CronDriver {
  /** Adds job `name`, or replaces it when it exists. Throws when the expression or zone is invalid. */
  set(name: string, spec: CronSpec, onTick: TickHandler): void;
  /** Removes job `name`; removing a missing job is a no-op. */
  remove(name: string): void;
  /** The spec of job `name`, or undefined when there is no such job. */
  spec(name: string): CronSpec | undefined;
  /** The next due time of job `name`, or null (no such job, or it never fires again). */
  nextRun(name: string): Date | null;
  names(): string[];
  /** Removes every job. */
  stopAll(): void;
}

type Job = { spec: CronSpec; cron: Cron };

/**
 * Real jobs on croner: an explicit time zone each, `protect` (a tick still being handled makes
 * croner skip the next one, logged), a `catch` handler (a failing tick is logged and the job keeps
 * going), unref'd timers. Job names carry a per-driver prefix because croner's name registry is
 * process-wide and two schedulers may share a process (tests, benchmarks).
 */
export class CronerDriver implements CronDriver {
  readonly #jobs = new Map<string, Job>();
  readonly #prefix = `sqlguard-${crypto.randomBytes(4).toString("hex")}`;
  readonly #log: Logger;

  constructor(logger: Logger) {
    this.#log = logger.child({ component: "cron" });
  }

  set(name: string, spec: CronSpec, onTick: TickHandler): void {
    this.remove(name);
    const cron = new Cron(
      spec.expression,
      {
        name: `${this.#prefix}:${name}`,
        ...cronZone(spec.timezone),
        unref: true,
        protect: () => this.#log.warn({ job: name }, "tick skipped: the previous tick of this job is still being handled"),
        catch: (error: unknown) => this.#log.error({ err: error, job: name }, "tick failed"),
      },
      async () => {
        // croner fires at (or a few ms after) the due time; map back to the due time itself.
        const now = new Date();
        await onTick(latestDue(spec, now) ?? now);
      },
    );
    this.#jobs.set(name, { spec, cron });
  }

  remove(name: string): void {
    this.#jobs.get(name)?.cron.stop();
    this.#jobs.delete(name);
  }

  spec(name: string): CronSpec | undefined {
    return this.#jobs.get(name)?.spec;
  }

  nextRun(name: string): Date | null {
    return this.#jobs.get(name)?.cron.nextRun() ?? null;
  }

  names(): string[] {
    return [...this.#jobs.keys()];
  }

  stopAll(): void {
    for (const name of this.names()) this.remove(name);
  }
}

/** What the manual driver keeps per job. */
type ManualJob = { spec: CronSpec; onTick: TickHandler; checkedUpTo: Date };

/**
 * A driver for tests: nothing fires until `runDue()`, which calls each job for every due time
 * between its last check and `now()` (a ManualClock's time), in order, one at a time.
 */
export class ManualCronDriver implements CronDriver {
  readonly #jobs = new Map<string, ManualJob>();

  constructor(private readonly now: () => Date) {}

  set(name: string, spec: CronSpec, onTick: TickHandler): void {
    nextDue(spec, this.now()); // throws on a bad spec, as croner would
    this.#jobs.set(name, { spec, onTick, checkedUpTo: this.#jobs.get(name)?.checkedUpTo ?? this.now() });
  }

  remove(name: string): void {
    this.#jobs.delete(name);
  }

  spec(name: string): CronSpec | undefined {
    return this.#jobs.get(name)?.spec;
  }

  nextRun(name: string): Date | null {
    const job = this.#jobs.get(name);
    return job ? nextDue(job.spec, this.now()) : null;
  }

  names(): string[] {
    return [...this.#jobs.keys()];
  }

  stopAll(): void {
    this.#jobs.clear();
  }

  /** Fires every due time passed since the last call; returns how many ticks ran. */
  async runDue(): Promise<number> {
    const now = this.now();
    let fired = 0;
    for (const [name, job] of [...this.#jobs]) {
      for (let due = nextDue(job.spec, job.checkedUpTo); due && due <= now; due = nextDue(job.spec, due)) {
        if (this.#jobs.get(name) !== job) break;
        await job.onTick(due);
        fired++;
      }
      job.checkedUpTo = now;
    }
    return fired;
  }
}
