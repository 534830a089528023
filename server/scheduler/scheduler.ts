import { performance } from "node:perf_hooks";
import { requireRole, type Principal } from "../auth/roles.ts";
import type { ConfigEntity } from "../catalog/catalog-deps.ts";
import type { BackupWithArtifacts } from "../db/backups.repository.ts";
import { AppError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { CronDriver } from "./cron-driver.ts";
import type { TakeOver } from "../queue/leader-lease.ts";
import { dueTimesBetween, latestDue, sameSpec, type CronSpec } from "./due-times.ts";
import { Gate } from "./gate.ts";
import { markDue, runSchedule, type RunOutcome, type ScheduleRunDeps } from "./schedule-run.ts";

/** What the scheduler needs: a run's dependencies plus the cron adapter. */
export type SchedulerDeps = Omit<ScheduleRunDeps, "gate"> & {
  cron: CronDriver;
  /** Servers discovered and recorded at once over all runs; below the metadata DB pool (10 by default). */
  concurrency: number;
  /** Re-read the schedules this often, to pick up changes made through another instance. */
  pollMs: number;
  /**
   * Whether this instance fires the ticks now (it holds the "scheduler" lease, server/queue/leader-lease.ts);
   * every instance reconciles its jobs (their next run times), only the holder records runs. Always, when omitted.
   */
  fires?: () => boolean;
  /** Told after each tick (benchmarks, metrics): when it fired and what it recorded. */
  onTick?: (tick: { scheduleId: number; dueAt: Date; firedAt: Date; outcome: RunOutcome }) => void;
};

/** What one reconcile changed, and how long it took. */
export type ReconcileResult = { jobs: number; added: number; changed: number; removed: number; invalid: number; ms: number };

const WATCHED: ReadonlySet<ConfigEntity> = new Set(["schedule", "server", "storageTarget"]);
/** At most this many ticks of one schedule are run after a lease take-over (a per-second schedule). */
const MAX_GAP_RUNS = 100;
const jobName = (scheduleId: number) => `schedule-${scheduleId}`;

/**
 * Keeps one named cron job per enabled schedule, reconciled from the database at start, after each
 * configuration change on this instance and every `pollMs` (changes made elsewhere). A tick runs
 * the schedule for its due time (runSchedule, which "run now" calls too) and records the due time
 * as handled; at start, a due time missed while no instance ran is run once (RUN_ONCE) or skipped.
 */
export class Scheduler {
  readonly #log: Logger;
  readonly #run: ScheduleRunDeps;
  readonly #inFlight = new Set<Promise<unknown>>();
  #started = false;
  #stopPoll: (() => void) | null = null;
  #reconciling: Promise<void> | null = null;
  #dirty = false;

  constructor(private readonly deps: SchedulerDeps) {
    this.#log = deps.logger.child({ component: "scheduler" });
    this.#run = { ...deps, gate: new Gate(deps.concurrency) };
  }

  /** Reconciles, runs what was missed while down, then keeps polling. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const result = await this.reconcile();
    this.#log.info(result, "scheduler started");
    if (this.#fires()) await this.catchUp();
    if (!this.#started) return; // stopped while starting
    this.#stopPoll = this.deps.clock.every(this.deps.pollMs, () => void this.requestReconcile());
  }

  /** Stops every job and the polling, then waits for ticks being handled. */
  async stop(): Promise<void> {
    this.#started = false;
    this.#stopPoll?.();
    this.#stopPoll = null;
    this.deps.cron.stopAll();
    await this.idle();
    this.deps.cron.stopAll(); // a reconcile under way may have added jobs meanwhile
  }

  /** The ConfigListener hook: a change to schedules, servers or storage targets triggers a reconcile. */
  onConfigChange(change: { entity: ConfigEntity }): void {
    if (WATCHED.has(change.entity)) void this.requestReconcile();
  }

  /** Reconciles soon: concurrent requests share one run, plus one more if a request came during it. */
  requestReconcile(): Promise<void> {
    if (!this.#started) return Promise.resolve();
    if (this.#reconciling) {
      this.#dirty = true;
      return this.#reconciling;
    }
    this.#reconciling = (async () => {
      do {
        this.#dirty = false;
        await this.reconcile().catch((error: unknown) => this.#log.error({ err: error }, "reconcile failed"));
      } while (this.#dirty && this.#started);
      this.#reconciling = null;
    })();
    return this.#reconciling;
  }

  /** Waits for a pending reconcile and the ticks being handled (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#reconciling || this.#inFlight.size) await Promise.allSettled([this.#reconciling, ...this.#inFlight]);
  }

  /** Makes the live jobs match the enabled schedules: adds, replaces changed ones, removes the rest. */
  async reconcile(): Promise<ReconcileResult> {
    const started = performance.now();
    const rows = await this.deps.prisma.schedule.findMany({ where: { enabled: true }, select: { id: true, cronExpression: true, timezone: true } });
    const wanted = new Map(rows.map((r) => [jobName(r.id), { id: r.id, spec: { expression: r.cronExpression, timezone: r.timezone } }]));
    const result = { jobs: 0, added: 0, changed: 0, removed: 0, invalid: 0, ms: 0 };
    for (const name of this.deps.cron.names()) {
      if (!wanted.has(name)) {
        this.deps.cron.remove(name);
        result.removed++;
      }
    }
    for (const [name, { id, spec }] of wanted) {
      const current = this.deps.cron.spec(name);
      if (current && sameSpec(current, spec)) continue;
      try {
        this.deps.cron.set(name, spec, (dueAt) => this.#track(this.#tick(id, spec, dueAt)));
        result[current ? "changed" : "added"]++;
      } catch (error) {
        this.deps.cron.remove(name);
        result.invalid++;
        this.#log.error({ err: error, scheduleId: id, ...spec }, "schedule has an unusable cron expression or time zone");
      }
    }
    result.jobs = this.deps.cron.names().length;
    result.ms = Math.round((performance.now() - started) * 10) / 10;
    if (result.added || result.changed || result.removed) this.#log.info(result, "schedules reconciled");
    return result;
  }

  /** The live job's next fire time, or null when this instance has no job for the schedule. */
  nextRunAt(scheduleId: number): Date | null {
    return this.deps.cron.nextRun(jobName(scheduleId));
  }

  /**
   * Runs what no instance handled. Every enabled schedule's latest due time missed while no instance
   * ran (after its lastDueAt) runs once (RUN_ONCE) or is only recorded (SKIP). With `gapFrom` (this
   * instance took the scheduler lease over from a holder that stopped renewing then), every due time
   * after `gapFrom` runs, each once: they fell due while the cluster was up but nobody fired them.
   * Rows are unique per (schedule, server, database, dueAt), so a due time the previous holder did
   * record (all or part of it) adds only what is missing.
   */
  async catchUp(gapFrom?: Date): Promise<Array<{ scheduleId: number; dueAt: Date }>> {
    const now = this.deps.clock.now();
    const rows = await this.deps.prisma.schedule.findMany({ where: { enabled: true } });
    const missed = rows.flatMap((row) => {
      const spec = { expression: row.cronExpression, timezone: row.timezone };
      const handled = row.lastDueAt ?? row.createdAt;
      let gap: Date[];
      let dueAt: Date | null;
      try {
        gap = gapFrom ? dueTimesBetween(spec, new Date(Math.max(gapFrom.getTime(), row.createdAt.getTime())), now).slice(-MAX_GAP_RUNS) : [];
        dueAt = latestDue(spec, gap[0] ? new Date(gap[0].getTime() - 1) : now);
      } catch {
        return [];
      }
      const older = dueAt && dueAt > handled ? dueAt : null;
      return older || gap.length ? [{ row, spec, older, gap }] : [];
    });
    const ran: Array<{ scheduleId: number; dueAt: Date }> = [];
    await Promise.all(
      missed.map(async ({ row, spec, older, gap }) => {
        const runs = gap.map((dueAt) => ({ dueAt, why: "running a tick due while the scheduler lease changed hands" }));
        if (older && row.missedRunPolicy === "RUN_ONCE") runs.unshift({ dueAt: older, why: "running a backup missed while SQLGuard was down" });
        else if (older)
          this.#log.info({ scheduleId: row.id, schedule: row.name, dueAt: older }, "skipping a run missed while SQLGuard was down (missedRunPolicy SKIP)");
        // Oldest first, one after the other: the SKIPPED rule sees the earlier due time's backups.
        for (const { dueAt, why } of runs) {
          this.#log.warn({ scheduleId: row.id, schedule: row.name, dueAt }, why);
          const run = this.#track(runSchedule(this.#run, row.id, dueAt, "CATCH_UP", spec));
          if (await run.catch((error: unknown) => this.#log.error({ err: error, scheduleId: row.id }, "catch-up run failed")))
            ran.push({ scheduleId: row.id, dueAt });
        }
        const last = gap.at(-1) ?? older;
        if (last) await markDue(this.deps.prisma, row.id, last);
      }),
    );
    return ran;
  }

  /**
   * "Run now": the same run as a tick, without a due time, triggered MANUAL. Operator role. Returns
   * the recorded backups (PENDING, or SKIPPED while a previous run still goes); throws UNAVAILABLE
   * when nothing could be recorded, NOT_FOUND for an unknown schedule.
   */
  async runNow(principal: Principal, scheduleId: number): Promise<BackupWithArtifacts[]> {
    requireRole(principal, "OPERATOR");
    const outcome = (await this.#track(runSchedule(this.#run, scheduleId, null, "MANUAL")))!;
    if (outcome.queued.length === 0 && outcome.skipped.length === 0 && outcome.errors.length) {
      throw new AppError("UNAVAILABLE", outcome.errors.map((e) => (e.server ? `${e.server}: ${e.error}` : e.error)).join("; "));
    }
    const skipped = await this.deps.prisma.backup.findMany({ where: { id: { in: outcome.skipped } }, include: { artifacts: true } });
    return [...outcome.queued, ...skipped];
  }

  /** One tick; a schedule deleted, disabled or changed elsewhere meanwhile makes this job stale: reconcile. */
  async #tick(scheduleId: number, spec: CronSpec, dueAt: Date): Promise<void> {
    // Another instance holds the scheduler lease: it records this due time.
    if (!this.#fires()) return;
    const firedAt = this.deps.clock.now();
    const outcome = await runSchedule(this.#run, scheduleId, dueAt, "SCHEDULED", spec);
    if (!outcome) {
      void this.requestReconcile();
      return;
    }
    await markDue(this.deps.prisma, scheduleId, dueAt);
    this.#log.debug({ scheduleId, dueAt, queued: outcome.queued.length, skipped: outcome.skipped.length, duplicates: outcome.duplicates }, "tick handled");
    this.deps.onTick?.({ scheduleId, dueAt, firedAt, outcome });
  }

  #fires(): boolean {
    return this.deps.fires?.() ?? true;
  }

  /**
   * Took the scheduler lease: runs what was missed while no instance held it, as at start; with
   * `takeOver` (server/queue/leader-lease.ts), also every tick due since a lease length before the
   * previous holder's last renewal (a tick it was still recording when it died is completed).
   */
  async tookOver(takeOver?: TakeOver, leaseMs = 0): Promise<void> {
    if (!this.#started) return;
    const gapFrom = takeOver ? new Date(takeOver.renewedAt.getTime() - leaseMs) : undefined;
    await this.#track(this.catchUp(gapFrom)).catch((error: unknown) => this.#log.error({ err: error }, "catch-up after taking the scheduler lease failed"));
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work)).catch(() => {});
    return work;
  }
}
