import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** The labels of a per-database series: the server's name and the database's. */
export type DatabaseLabels = { server: string; database: string };
/** A run's labels: its database and the schedule that started it (MANUAL_SCHEDULE for none). */
export type RunLabels = DatabaseLabels & { schedule: string };
/** How a run ended, as the `status` label of sqlguard_backup_runs_total. */
export type RunStatus = "succeeded" | "partial" | "failed" | "cancelled" | "skipped";

/** The `schedule` label of a backup no schedule started; schedule names cannot contain parentheses. */
export const MANUAL_SCHEDULE = "(manual)";

/** Backup durations from a second to half a day. */
const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14_400, 43_200];
const DB = ["server", "database"] as const;

/**
 * Every SQLGuard metric, in a registry of its own (never prom-client's global one), with one typed
 * record function per fact. Labels are names only, never error text or paths.
 */
export class SqlguardMetrics {
  readonly #registry = new Registry();
  readonly #lastSuccess = this.#gauge(
    "sqlguard_backup_last_success_timestamp_seconds",
    "Start time of the newest successful (or partial) backup, Unix seconds.",
    DB,
  );
  readonly #lastStatus = this.#gauge("sqlguard_backup_last_status", "Outcome of the newest finished backup: 1 succeeded, 0 failed or partial.", DB);
  readonly #duration = new Histogram({
    name: "sqlguard_backup_duration_seconds",
    help: "Duration of successful backups, since this process started.",
    labelNames: ["server", "database", "schedule"] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.#registry],
  });
  readonly #size = this.#gauge("sqlguard_backup_size_bytes", "Stored (compressed) size of the newest successful backup.", [
    "server",
    "database",
    "compression",
  ]);
  readonly #runs = this.#counter("sqlguard_backup_runs_total", "Finished backup runs by outcome.", ["server", "database", "schedule", "status"]);
  readonly #overdue = this.#gauge(
    "sqlguard_backup_overdue",
    "1 when a database covered by a schedule has no successful backup since it was due (plus the grace).",
    DB,
  );
  readonly #running = this.#gauge("sqlguard_backups_running", "Backups running now, on every instance.", []);
  readonly #storageBytes = this.#gauge("sqlguard_storage_bytes", "Bytes of the stored backup artifacts on a storage target.", ["target"]);
  readonly #storageObjects = this.#gauge("sqlguard_storage_objects", "Stored backup artifacts on a storage target (manifests not counted).", ["target"]);
  readonly #uploadErrors = this.#counter("sqlguard_storage_upload_errors_total", "Artifacts a storage target failed to store.", ["target"]);
  readonly #retentionDeleted = this.#counter("sqlguard_retention_deleted_total", "Stored artifacts retention deleted from a storage target.", ["target"]);
  readonly #nextRun = this.#gauge("sqlguard_schedule_next_run_timestamp_seconds", "Next due time of an enabled schedule, Unix seconds.", ["schedule"]);
  readonly #verification = this.#gauge(
    "sqlguard_backup_verification_status",
    "0 when a kept artifact of the database on the target is corrupt or missing, else 1.",
    ["server", "database", "target"],
  );
  readonly #pitrFrom = this.#gauge(
    "sqlguard_pitr_recoverable_from_timestamp_seconds",
    "Oldest instant a point-in-time restore of the server can reach (its oldest usable dump), Unix seconds.",
    ["server"],
  );
  readonly #pitrTo = this.#gauge(
    "sqlguard_pitr_recoverable_to_timestamp_seconds",
    "Newest instant a point-in-time restore of the server can reach (its newest archived binlog event), Unix seconds.",
    ["server"],
  );
  readonly #pitrLag = this.#gauge("sqlguard_pitr_lag_seconds", "Seconds from the newest archived binlog commit to its storage.", ["server"]);
  readonly #pitrBroken = this.#gauge("sqlguard_pitr_chain_broken", "1 when the server's binlog archive chain is broken after its newest dump.", ["server"]);
  readonly #drillStatus = this.#gauge("sqlguard_restore_drill_status", "Outcome of the newest restore drill of the database: 1 passed, 0 failed.", DB);
  readonly #drillRestore = this.#gauge(
    "sqlguard_restore_drill_restore_seconds",
    "Restore time of the newest restore drill of the database (the RTO figure).",
    DB,
  );
  readonly #serverUp = this.#gauge("sqlguard_server_up", "1 when the last health check reached the database server, else 0.", ["server"]);
  readonly #targetUp = this.#gauge(
    "sqlguard_storage_target_up",
    "1 when the last health check wrote, read and deleted a probe on the storage target, else 0.",
    ["target"],
  );
  readonly #jobsQueued = this.#gauge("sqlguard_jobs_queued", "Jobs waiting in the work queue (PENDING), on every instance, by kind.", ["kind"]);
  readonly #jobWait = new Histogram({
    name: "sqlguard_job_wait_seconds",
    help: "Time a job waited in the work queue, from queued to claimed, for the jobs this instance claimed.",
    labelNames: ["kind"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers: [this.#registry],
  });
  readonly #workerSlots = this.#gauge("sqlguard_worker_slots", "This instance's job slots, busy (running a job) or free.", ["instance", "state"]);
  readonly #lastSuccessAt = new Map<string, number>();
  /** The compression label each database's size series carries, so a change replaces the old series. */
  readonly #sizeCompression = new Map<string, string>();
  #defaults = false;

  /** Content-Type of `render()`'s text. */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /** The series names a query can use: every metric's, a histogram's as _bucket, _sum and _count. */
  names(): string[] {
    return this.#registry.getMetricsAsArray().flatMap((m) => (m instanceof Histogram ? ["_bucket", "_sum", "_count"].map((s) => m.name + s) : [m.name]));
  }

  /** Adds the Node.js process metrics (CPU, memory, event loop, GC); idempotent. */
  enableDefaultMetrics(): void {
    if (this.#defaults) return;
    this.#defaults = true;
    collectDefaultMetrics({ register: this.#registry });
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.#registry.metrics();
  }

  /** A successful or partial backup that started at `startedAt`; only ever moves forward. */
  recordLastSuccess(labels: DatabaseLabels, startedAt: Date): void {
    const key = `${labels.server}\u0000${labels.database}`;
    const seconds = startedAt.getTime() / 1000;
    if (seconds <= (this.#lastSuccessAt.get(key) ?? -Infinity)) return;
    this.#lastSuccessAt.set(key, seconds);
    this.#lastSuccess.set(labels, seconds);
  }

  /** The outcome of a database's newest finished backup. */
  recordLastStatus(labels: DatabaseLabels, ok: boolean): void {
    this.#lastStatus.set(labels, ok ? 1 : 0);
  }

  /** The stored size of a database's newest successful backup, under its compression. */
  recordSize(labels: DatabaseLabels, compression: string, bytes: number): void {
    const key = `${labels.server}\u0000${labels.database}`;
    const previous = this.#sizeCompression.get(key);
    if (previous !== undefined && previous !== compression) this.#size.remove({ ...labels, compression: previous });
    this.#sizeCompression.set(key, compression);
    this.#size.set({ ...labels, compression }, bytes);
  }

  /** The duration of one successful backup. */
  recordDuration(labels: RunLabels, seconds: number): void {
    this.#duration.observe(labels, seconds);
  }

  /** `count` finished runs (a count from the database at start, then one per run). */
  recordRuns(labels: RunLabels, status: RunStatus, count = 1): void {
    this.#runs.inc({ ...labels, status }, count);
  }

  /** `count` artifacts a target failed to store; 0 makes the series exist, so increase() sees the first error. */
  recordUploadErrors(target: string, count = 1): void {
    this.#uploadErrors.inc({ target }, count);
  }

  /** `count` stored artifacts retention deleted from a target; 0 makes the series exist. */
  recordRetentionDeleted(target: string, count = 1): void {
    this.#retentionDeleted.inc({ target }, count);
  }

  /** Jobs of one kind (backup, restore, drill, verification: artifacts) waiting in the work queue now. */
  setJobsQueued(kind: string, count: number): void {
    this.#jobsQueued.set({ kind }, count);
  }

  /** A job this instance claimed after waiting `seconds` in the queue. */
  observeJobWait(kind: string, seconds: number): void {
    this.#jobWait.observe({ kind }, seconds);
  }

  /** This instance's slots now (an `api` instance has none). */
  setWorkerSlots(instance: string, slots: { busy: number; free: number }): void {
    this.#workerSlots.set({ instance, state: "busy" }, slots.busy);
    this.#workerSlots.set({ instance, state: "free" }, slots.free);
  }

  /** Backups running now. */
  setRunning(count: number): void {
    this.#running.set(count);
  }

  /** Replaces the per-target storage use (targets not listed disappear). */
  setStorage(rows: Array<{ target: string; bytes: number; objects: number }>): void {
    this.#storageBytes.reset();
    this.#storageObjects.reset();
    for (const r of rows) {
      this.#storageBytes.set({ target: r.target }, r.bytes);
      this.#storageObjects.set({ target: r.target }, r.objects);
    }
  }

  /** Replaces the overdue flags. */
  setOverdue(rows: Array<DatabaseLabels & { overdue: boolean }>): void {
    this.#overdue.reset();
    for (const r of rows) this.#overdue.set({ server: r.server, database: r.database }, r.overdue ? 1 : 0);
  }

  /** Replaces the next due times of the enabled schedules. */
  setNextRuns(rows: Array<{ schedule: string; at: Date }>): void {
    this.#nextRun.reset();
    for (const r of rows) this.#nextRun.set({ schedule: r.schedule }, r.at.getTime() / 1000);
  }

  /** The newest restore drill of a database: passed or not, and how long its restore took. */
  /** Replaces the point-in-time recovery window of every server with PITR on. */
  setPitr(rows: Array<{ server: string; from: Date | null; to: Date | null; lagSeconds: number | null; broken: boolean }>): void {
    for (const g of [this.#pitrFrom, this.#pitrTo, this.#pitrLag, this.#pitrBroken]) g.reset();
    for (const r of rows) {
      if (r.from) this.#pitrFrom.set({ server: r.server }, r.from.getTime() / 1000);
      if (r.to) this.#pitrTo.set({ server: r.server }, r.to.getTime() / 1000);
      if (r.lagSeconds !== null) this.#pitrLag.set({ server: r.server }, r.lagSeconds);
      this.#pitrBroken.set({ server: r.server }, r.broken ? 1 : 0);
    }
  }

  recordDrill(labels: DatabaseLabels, passed: boolean, restoreMs: number | null): void {
    this.#drillStatus.set(labels, passed ? 1 : 0);
    if (restoreMs !== null) this.#drillRestore.set(labels, restoreMs / 1000);
  }

  /** Replaces the verification status per database and target. */
  setVerification(rows: Array<DatabaseLabels & { target: string; ok: boolean }>): void {
    this.#verification.reset();
    for (const r of rows) this.#verification.set({ server: r.server, database: r.database, target: r.target }, r.ok ? 1 : 0);
  }

  /** Replaces the health of every server and storage target (those not listed disappear). */
  setHealth(servers: Array<{ server: string; up: boolean }>, targets: Array<{ target: string; up: boolean }>): void {
    this.#serverUp.reset();
    this.#targetUp.reset();
    for (const r of servers) this.#serverUp.set({ server: r.server }, r.up ? 1 : 0);
    for (const r of targets) this.#targetUp.set({ target: r.target }, r.up ? 1 : 0);
  }

  /**
   * Removes every per-database (and per-run) series whose server or database is gone: `keep`
   * says whether a (server, database) still exists. Returns how many series were removed.
   */
  async retainDatabases(keep: (labels: DatabaseLabels) => boolean): Promise<number> {
    let removed = 0;
    const metrics = [this.#lastSuccess, this.#lastStatus, this.#size, this.#overdue, this.#verification, this.#drillStatus, this.#drillRestore, this.#runs];
    for (const metric of metrics) {
      for (const value of (await metric.get()).values) {
        const { server, database } = value.labels as { server?: string; database?: string };
        if (server === undefined || database === undefined || keep({ server, database })) continue;
        (metric as Gauge<string>).remove(value.labels as Record<string, string>);
        removed++;
      }
    }
    const histogram = await this.#duration.get();
    const gone = new Set<string>();
    for (const value of histogram.values) {
      const { server, database, schedule } = value.labels as { server?: string; database?: string; schedule?: string };
      if (server === undefined || database === undefined || schedule === undefined || keep({ server, database })) continue;
      const key = JSON.stringify([server, database, schedule]);
      if (gone.has(key)) continue;
      gone.add(key);
      this.#duration.remove({ server, database, schedule });
      removed++;
    }
    for (const key of [...this.#lastSuccessAt.keys()]) {
      const [server, database] = key.split("\u0000") as [string, string];
      if (!keep({ server, database })) {
        this.#lastSuccessAt.delete(key);
        this.#sizeCompression.delete(key);
      }
    }
    return removed;
  }

  #gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.#registry] });
  }

  #counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.#registry] });
  }
}
