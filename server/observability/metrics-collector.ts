import { isSuccess, RECOVERY_POINT_STATUSES, runOutcome } from "../backups/outcome.ts";
import type { PrismaClient } from "../db/client.ts";
import type { BackupEvent, BackupEvents } from "../runner/events.ts";
import type { Logger } from "./logger.ts";
import { cronNextRun, refreshDbGauges, type NextRunSource, type OverdueSource } from "./metrics-db-gauges.ts";
import { loadMetrics, reachedStorage, RUN_STATUS, type KeptCopies, type Touched } from "./metrics-loader.ts";
import { MANUAL_SCHEDULE, SqlguardMetrics } from "./metrics.ts";

/** What the collector reads: the metadata database, the event bus, and the scheduler's view. */
export type MetricsCollectorDeps = {
  prisma: PrismaClient;
  events: BackupEvents;
  logger: Logger;
  /** Overdue flags per database; none without a scheduler. */
  overdue?: OverdueSource;
  /** Next due time per schedule; the cron expression's by default. */
  nextRunAt?: NextRunSource;
  /** The database-derived gauges are re-read at most this often, and after every finished backup. */
  refreshMs?: number;
  /** How long a scrape waits for a re-read under way before answering with the previous values. */
  scrapeWaitMs?: number;
};

/** Thrown by scrape() until the first load from the database has finished (the endpoint answers 503). */
export class MetricsNotReadyError extends Error {}

const REMEMBERED = 10_000;
const RETRY_LOAD_MS = 30_000;

/**
 * Keeps SqlguardMetrics true to the metadata database. `start()` follows the BackupEvents bus at
 * once and loads what must survive a restart; runs that end from the load's snapshot time on are
 * counted from the bus (each event re-reads its backup row), earlier ones by the load, so none
 * counts twice. The gauges that mirror database state are re-read on scrape: index-only queries,
 * cached for `refreshMs` and never more often than ten times their own duration, so a large
 * history costs a bounded share of the database. A scrape waits at most `scrapeWaitMs` for them.
 */
export class MetricsCollector {
  readonly metrics = new SqlguardMetrics();
  readonly #log: Logger;
  readonly #pending = new Set<Promise<void>>();
  readonly #seenRuns = new Set<number>();
  readonly #seenDeletions = new Set<number>();
  readonly #kept: KeptCopies = new Map();
  /** Only while loading: what events recorded meanwhile, which the load must not overwrite. */
  #touched: Touched | null = { status: new Set(), success: new Set() };
  #snapshotAt = new Date(0);
  #loaded = false;
  #refreshedAt = 0;
  #refreshCostMs = 0;
  #stale = true;
  #refreshing: Promise<void> | null = null;
  #off: (() => void) | null = null;
  #retry: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(private readonly deps: MetricsCollectorDeps) {
    this.#log = deps.logger.child({ component: "metrics" });
  }

  /** Follows the bus and loads from the database; a failed load is logged and retried every 30 s. */
  async start(): Promise<void> {
    this.metrics.enableDefaultMetrics();
    // Subscribed first and snapshotted once: a retried load still splits the runs at the same instant.
    this.#off ??= this.deps.events.on((event) => this.#onEvent(event));
    if (this.#snapshotAt.getTime() === 0) this.#snapshotAt = new Date();
    try {
      await loadMetrics(this.deps.prisma, this.metrics, this.#snapshotAt, this.#kept, this.#touched!);
      this.#loaded = true;
      this.#touched = null;
      await this.refresh();
    } catch (error) {
      this.#log.error({ err: error }, "could not load the metrics from the metadata database; retrying");
      if (!this.#stopped) this.#retry = setTimeout(() => void this.start(), RETRY_LOAD_MS).unref();
    }
  }

  /** Stops following the bus (and retrying the load). */
  stop(): void {
    this.#stopped = true;
    this.#off?.();
    this.#off = null;
    if (this.#retry) clearTimeout(this.#retry);
  }

  /** Resolves once every event received so far is recorded (tests). */
  async idle(): Promise<void> {
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
  }

  /** Re-reads the database-derived gauges now (one re-read at a time); a failure is logged and keeps the previous values. */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      this.#stale = false;
      const started = performance.now();
      try {
        const { overdue = async () => [], nextRunAt = cronNextRun } = this.deps;
        await refreshDbGauges(this.deps.prisma, this.metrics, { overdue, nextRunAt }, this.#kept);
        this.#refreshedAt = Date.now();
      } catch (error) {
        this.#stale = true;
        this.#log.warn({ err: error }, "could not read the metrics from the metadata database");
      } finally {
        this.#refreshCostMs = performance.now() - started;
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  /** The /metrics text. Throws MetricsNotReadyError before the first load has finished. */
  async scrape(): Promise<string> {
    if (!this.#loaded) throw new MetricsNotReadyError("metrics are still loading from the metadata database");
    const age = Date.now() - this.#refreshedAt;
    if ((this.#stale || age >= (this.deps.refreshMs ?? 15_000)) && age >= 10 * this.#refreshCostMs) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.refresh(), new Promise((resolve) => (timer = setTimeout(resolve, this.deps.scrapeWaitMs ?? 40)))]);
      clearTimeout(timer);
    }
    return this.metrics.render();
  }

  /** Content-Type of the scrape. */
  get contentType(): string {
    return this.metrics.contentType;
  }

  #onEvent(event: BackupEvent): void {
    if (event.type !== "STATUS") return;
    this.#stale = true;
    const work = event.status === "DELETED" ? this.#deleted(event.backupId) : RUN_STATUS[event.status] ? this.#finished(event.backupId) : null;
    if (!work) return;
    const task = work.catch((error: unknown) => this.#log.warn({ err: error, backupId: event.backupId }, "could not record a backup in the metrics"));
    this.#pending.add(task);
    void task.finally(() => this.#pending.delete(task));
  }

  /** A finished run: its count and upload errors (if after the snapshot); for a success its time, size, duration and copies. */
  async #finished(backupId: number): Promise<void> {
    if (remember(this.#seenRuns, backupId)) return;
    const b = await this.deps.prisma.backup.findUnique({
      where: { id: backupId },
      include: {
        server: { select: { name: true } },
        schedule: { select: { name: true } },
        artifacts: { include: { storageTarget: { select: { name: true } } } },
      },
    });
    const status = b && RUN_STATUS[b.status];
    if (!b || !status) return;
    const server = b.server?.name ?? b.serverName;
    const run = { server, database: b.database, schedule: b.schedule?.name ?? b.scheduleName ?? MANUAL_SCHEDULE };
    // A recovery point (outcome.ts): its time and size feed the last-success gauges.
    const success = (RECOVERY_POINT_STATUSES as readonly string[]).includes(b.status);
    if ((b.finishedAt ?? b.createdAt) >= this.#snapshotAt) {
      this.metrics.recordRuns(run, status);
      if (success && b.durationMs != null) this.metrics.recordDuration(run, b.durationMs / 1000);
      if (reachedStorage(b))
        for (const a of b.artifacts) if (a.status === "FAILED" && !a.storedAt && a.storageTarget) this.metrics.recordUploadErrors(a.storageTarget.name);
    }
    // Per-database gauges follow the servers that still exist, as the load does; an event is newer than the load.
    if (!b.server || !(success || b.status === "FAILED")) return;
    const labels = { server, database: b.database };
    const key = `${b.serverId}\u0000${b.database}`;
    this.#touched?.status.add(key);
    this.metrics.recordLastStatus(labels, isSuccess(runOutcome(b.status)));
    if (!success) return;
    this.#touched?.success.add(key);
    if (b.startedAt) this.metrics.recordLastSuccess(labels, b.startedAt);
    if (b.storedBytes != null) this.metrics.recordSize(labels, b.compression.toLowerCase(), Number(b.storedBytes));
    const targets = b.artifacts.flatMap((a) => (a.status === "STORED" && a.storageTarget ? [a.storageTarget.name] : []));
    this.#kept.set(key, { server, database: b.database, targets });
  }

  /** A backup retention emptied: its artifacts deleted from the snapshot on (the load counted the earlier ones). */
  async #deleted(backupId: number): Promise<void> {
    const artifacts = await this.deps.prisma.backupArtifact.findMany({
      where: { backupId, status: "DELETED", deletedAt: { gte: this.#snapshotAt } },
      include: { storageTarget: { select: { name: true } } },
    });
    for (const a of artifacts) {
      if (a.storageTarget && !remember(this.#seenDeletions, a.id)) this.metrics.recordRetentionDeleted(a.storageTarget.name);
    }
  }
}

/** Adds `id` to a bounded set; true when it was there already. */
function remember(seen: Set<number>, id: number): boolean {
  if (seen.has(id)) return true;
  seen.add(id);
  if (seen.size > REMEMBERED) seen.delete(seen.values().next().value!);
  return false;
}
