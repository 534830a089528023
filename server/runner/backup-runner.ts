import { Readable } from "node:stream";
import type { BackupsRepository, BackupWithArtifacts } from "../db/backups.repository.ts";
import type { PrismaClient } from "../db/client.ts";
import type { DumpOptions, Server, StorageTarget } from "../db/generated/client.ts";
import type { Logger } from "../observability/logger.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { artifactKey, contentTypeOf, MANIFEST_SUFFIX } from "./artifact-key.ts";
import { runPipeline, type PipelineResult } from "./backup-pipeline.ts";
import type { DumpEngine } from "./dump-engine.ts";
import type { ReplicationPosition, ServerConnection } from "./dumpers/types.ts";
import { connectionOf } from "./connection-of.ts";
import { BackupError } from "./errors.ts";
import type { BackupEvents } from "./events.ts";
import { SlotLimiter } from "./limiter.ts";
import { buildManifest } from "./manifest.ts";
import { saveTableStats, type TableStats } from "./table-stats.ts";

export type RunnerLimits = {
  maxConcurrent: number;
  stallMs: number;
  timeoutMs: number;
  maxAttempts: number;
  /** First retry delay; doubles per attempt (with jitter), at most 5 minutes. */
  retryBaseMs: number;
  heartbeatMs: number;
};

export type RunnerDeps = {
  prisma: PrismaClient;
  repo: BackupsRepository;
  secrets: SecretBox;
  storeFor: (target: StorageTarget) => ArtifactStore;
  engine: DumpEngine;
  events: BackupEvents;
  logger: Logger;
  instanceId: string;
  limits: RunnerLimits;
};

type ServerRow = Server & { dumpOptions: DumpOptions | null };
type Attempt = {
  result: PipelineResult;
  tool: string;
  serverVersion: string;
  position: ReplicationPosition | null;
  manifestErrors: Map<number, string>;
  tableStats: TableStats | null;
};

const PROGRESS_EVENT_MS = 250;

/**
 * Runs PENDING backup records, each in the background within the concurrency limits: dump →
 * compress → checksum → every storage target, then the manifests, then the record. Transient
 * failures are retried with backoff; a stalled or overlong backup is killed; every failure path
 * leaves no artifact under its final name and a FAILED (or CANCELLED) record with its reason.
 */
export class BackupRunner {
  readonly #limiter: SlotLimiter;
  readonly #active = new Map<number, AbortController>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #log: Logger;
  #stopping = false;

  constructor(private readonly deps: RunnerDeps) {
    this.#limiter = new SlotLimiter(deps.limits.maxConcurrent);
    this.#log = deps.logger.child({ component: "runner" });
  }

  /** Runs the given PENDING backups in the background; returns at once. */
  enqueue(backupIds: number[]): void {
    for (const id of backupIds) {
      const task = this.#run(id).catch((error: unknown) => this.#log.error({ err: error, backupId: id }, "backup task crashed"));
      this.#tasks.add(task);
      void task.finally(() => this.#tasks.delete(task));
    }
  }

  /** Backups running on this instance now. */
  get running(): number {
    return this.#active.size;
  }

  /** Stops a running backup on this instance at once; returns false if it does not run here. */
  abortLocal(id: number, reason: BackupError): boolean {
    const controller = this.#active.get(id);
    controller?.abort(reason);
    return controller !== undefined;
  }

  /** Waits until every queued and running backup has ended (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.#tasks.size) await Promise.allSettled([...this.#tasks]);
  }

  /** Shutdown: starts nothing new, stops what runs (recorded as interrupted), waits for the records. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const controller of this.#active.values()) controller.abort(new BackupError("INTERRUPTED", "interrupted: SQLGuard was shut down"));
    await this.idle();
  }

  /**
   * At start: fails what this instance left PENDING or RUNNING (it restarted) and what other
   * instances left RUNNING without renewing their lease (they died), and removes their partial files.
   */
  async recover(): Promise<number> {
    const leaseMs = Math.max(60_000, this.deps.limits.heartbeatMs * 4);
    const leftovers = await this.deps.repo.failInterrupted(this.deps.instanceId, new Date(Date.now() - leaseMs));
    const targets = await this.deps.prisma.storageTarget.findMany({ where: { id: { in: leftovers.flatMap((l) => l.storageTargetId ?? []) } } });
    for (const l of leftovers) {
      const target = targets.find((t) => t.id === l.storageTargetId);
      if (!target) continue;
      await this.deps
        .storeFor(target)
        .discard(l.key)
        .catch((error: unknown) => this.#log.warn({ err: error, backupId: l.backupId, target: target.name }, "could not remove a partial artifact"));
    }
    const backups = new Set(leftovers.map((l) => l.backupId)).size;
    if (backups) this.#log.warn({ backups }, "marked backups interrupted by a previous stop as failed");
    return backups;
  }

  /** Removes `.partial` leftovers older than `olderThan` on every enabled target (best effort). */
  async removeStalePartials(olderThan: Date): Promise<void> {
    const targets = await this.deps.prisma.storageTarget.findMany({ where: { enabled: true } });
    for (const target of targets) {
      try {
        const removed = await this.deps.storeFor(target).removePartials(olderThan);
        if (removed) this.#log.info({ target: target.name, removed }, "removed partial artifacts left by interrupted backups");
      } catch (error) {
        this.#log.warn({ err: error, target: target.name }, "could not look for partial artifacts");
      }
    }
  }

  async #run(id: number): Promise<void> {
    const { repo, prisma, events } = this.deps;
    const backup = await repo.get(id);
    if (backup?.status !== "PENDING") return;
    const server = backup.serverId ? await prisma.server.findUnique({ where: { id: backup.serverId }, include: { dumpOptions: true } }) : null;
    if (!server) {
      await this.#finishFailed(backup, new BackupError("CONFIGURATION", "the server was deleted before the backup started"), backup.attempt);
      return;
    }
    const release = await this.#limiter.acquire(server.id, server.maxConcurrent);
    try {
      // Left PENDING on shutdown: the next start records it as interrupted.
      if (this.#stopping || !(await repo.claim(id, this.deps.instanceId))) return;
      events.emit({ type: "STATUS", backupId: id, status: "RUNNING" });
      await this.#execute(backup, server);
    } finally {
      release();
    }
  }

  async #execute(backup: BackupWithArtifacts, server: ServerRow): Promise<void> {
    const { repo, limits, secrets } = this.deps;
    const log = this.#log.child({ backupId: backup.id, server: server.name, database: backup.database });
    const controller = new AbortController();
    this.#active.set(backup.id, controller);
    const conn = connectionOf(server, secrets);
    const password = conn.password;
    const scrub = (text: string) => (password ? text.split(password).join("[redacted]") : text);
    let stored = 0;
    const heartbeat = setInterval(() => {
      repo.heartbeat(backup.id, stored).then(
        ({ cancelRequested }) => cancelRequested && controller.abort(new BackupError("CANCELLED", "cancelled by request")),
        (error: unknown) => log.warn({ err: error }, "heartbeat failed"),
      );
    }, limits.heartbeatMs);
    const timeout = setTimeout(
      () => controller.abort(new BackupError("TIMEOUT", `the backup exceeded its time limit of ${Math.round(limits.timeoutMs / 1000)} s`)),
      limits.timeoutMs,
    );
    log.info({ attempt: backup.attempt }, "backup started");
    let attempt = backup.attempt;
    try {
      for (;;) {
        try {
          const done = await this.#attempt(backup, server, conn, controller.signal, (bytes) => (stored = bytes), log);
          await this.#finishStored(backup, done, attempt, scrub);
          log.info({ storedBytes: done.result.storedBytes, rawBytes: done.result.rawBytes }, "backup finished");
          return;
        } catch (caught) {
          const error = toBackupError(caught, controller.signal);
          if (error.transient && attempt < limits.maxAttempts && !controller.signal.aborted) {
            attempt++;
            log.warn({ attempt, reason: error.reason, err: scrub(error.message) }, "transient failure, retrying");
            await repo.noteAttempt(backup.id, attempt, scrub(error.message));
            await sleep(backoffMs(limits.retryBaseMs, attempt), controller.signal);
            continue;
          }
          log.warn({ reason: error.reason, err: scrub(error.message) }, "backup failed");
          await this.#finishFailed(
            backup,
            new BackupError(error.reason, scrub(error.message)),
            attempt,
            error instanceof Error && "stderrTail" in error ? scrub(String(error.stderrTail)) : undefined,
          );
          return;
        }
      }
    } finally {
      clearInterval(heartbeat);
      clearTimeout(timeout);
      this.#active.delete(backup.id);
    }
  }

  /** One attempt: inspect the server, dump to every target, write the manifests. */
  async #attempt(
    backup: BackupWithArtifacts,
    server: ServerRow,
    conn: ServerConnection,
    signal: AbortSignal,
    onStored: (bytes: number) => void,
    log: Logger,
  ): Promise<Attempt> {
    const { engine, prisma, repo, events, limits } = this.deps;
    signal.throwIfAborted();
    const inspection = await engine.inspect(conn).catch((error: Error & { transient?: boolean }) => {
      throw new BackupError("CONNECTION_FAILED", error.message, error.transient === true, { cause: error });
    });
    if (!inspection.databases.includes(backup.database)) {
      throw new BackupError("CONFIGURATION", `database ${JSON.stringify(backup.database)} does not exist on ${server.name}`);
    }
    const position = await engine.position(conn).catch(() => null);
    const tableStats = await this.#tableStats(backup, conn, log);
    const profile = server.dumpOptions;
    let dump;
    try {
      dump = engine.build(conn, profile, backup.database, await engine.tools(), inspection.version);
    } catch (error) {
      throw new BackupError("CONFIGURATION", (error as Error).message);
    }
    const compression = profile?.compression ?? "ZSTD";
    const key = artifactKey({ ...backup, backupId: backup.id, format: dump.format, compression });
    // What the dump will leave out (missing privileges, tables outside the snapshot): recorded, not fatal.
    const warnings = (await engine.dumpWarnings?.(conn, backup.database, profile).catch(() => null)) ?? [];
    if (warnings.length) log.warn({ warnings }, "the backup will leave objects out");
    await prisma.$transaction([
      prisma.backup.update({ where: { id: backup.id }, data: { compression, tool: dump.description, serverVersion: inspection.version, warnings } }),
      prisma.backupArtifact.updateMany({ where: { backupId: backup.id }, data: { key } }),
    ]);

    const targets = await prisma.storageTarget.findMany({ where: { id: { in: backup.artifacts.flatMap((a) => a.storageTargetId ?? []) } } });
    const stores = new Map(targets.map((t) => [t.id, this.deps.storeFor(t)]));
    // The watchdog: no byte for stallMs means the dump hangs.
    const stall = new AbortController();
    let lastByteAt = Date.now();
    const watchdog = setInterval(
      () => {
        if (Date.now() - lastByteAt > limits.stallMs)
          stall.abort(new BackupError("STALLED", `stalled: no data for ${Math.round(limits.stallMs / 1000)} s`, false));
      },
      Math.min(1000, limits.stallMs / 4),
    );
    const started = Date.now();
    let lastEvent = 0;
    try {
      const result = await runPipeline({
        dump,
        compression,
        level: profile?.compressionLevel ?? 3,
        targets: targets.map((t) => ({ id: t.id, store: stores.get(t.id)!, key, contentType: contentTypeOf(dump.format, compression) })),
        signal: AbortSignal.any([signal, stall.signal]),
        expectedBytes: await repo.previousStoredBytes(server.id, backup.database),
        onProgress: ({ rawBytes, storedBytes }) => {
          lastByteAt = Date.now();
          onStored(storedBytes);
          if (lastByteAt - lastEvent >= PROGRESS_EVENT_MS) {
            lastEvent = lastByteAt;
            events.emit({
              type: "PROGRESS",
              backupId: backup.id,
              rawBytes,
              storedBytes,
              bytesPerSecond: Math.round(rawBytes / Math.max(0.001, (lastByteAt - started) / 1000)),
            });
          }
        },
      });
      // The last word on progress: a short backup may end before its first throttled event.
      events.emit({
        type: "PROGRESS",
        backupId: backup.id,
        rawBytes: result.rawBytes,
        storedBytes: result.storedBytes,
        bytesPerSecond: Math.round(result.rawBytes / Math.max(0.001, (Date.now() - started) / 1000)),
      });
      const manifestErrors = await this.#writeManifests(
        backup,
        server,
        { result, key, dump, compression, level: profile?.compressionLevel ?? 3, inspection, position, tableStats, warnings, started },
        stores,
      );
      return { result, tool: dump.description, serverVersion: inspection.version, position, manifestErrors, tableStats };
    } finally {
      clearInterval(watchdog);
      await dump.cleanup();
    }
  }

  /** Writes the manifest beside each stored artifact; a target whose manifest fails loses its artifact too. */
  async #writeManifests(
    backup: BackupWithArtifacts,
    server: ServerRow,
    run: {
      result: PipelineResult;
      key: string;
      dump: { description: string; format: "sql" | "pg-custom" };
      compression: "ZSTD" | "GZIP" | "NONE";
      level: number;
      inspection: { version: string };
      position: ReplicationPosition | null;
      tableStats: TableStats | null;
      warnings: string[];
      started: number;
    },
    stores: Map<number, ArtifactStore>,
  ): Promise<Map<number, string>> {
    const manifest = buildManifest({
      backupId: backup.id,
      server: { name: server.name, engine: server.engine, host: server.host, port: server.port, version: run.inspection.version },
      database: backup.database,
      schedule: backup.scheduleName,
      trigger: backup.trigger,
      dump: { tool: run.dump.description, format: run.dump.format },
      compression: { algorithm: run.compression.toLowerCase() as "zstd" | "gzip" | "none", level: run.compression === "NONE" ? 0 : run.level },
      artifact: { key: run.key, rawBytes: run.result.rawBytes, storedBytes: run.result.storedBytes, sha256: run.result.sha256 },
      position: run.position,
      ...(run.tableStats ? { tableStats: run.tableStats } : {}),
      warnings: run.warnings,
      startedAt: new Date(run.started).toISOString(),
      finishedAt: new Date().toISOString(),
    });
    const body = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    const errors = new Map<number, string>();
    await Promise.all(
      run.result.targets
        .filter((t) => t.ok)
        .map(async (t) => {
          const store = stores.get(t.id)!;
          try {
            await store.put(run.key + MANIFEST_SUFFIX, Readable.from([body]), { contentType: "application/json" });
          } catch (error) {
            errors.set(t.id, `the manifest could not be stored: ${(error as Error).message}`);
            await store.delete(run.key).catch(() => {});
          }
        }),
    );
    return errors;
  }

  async #finishStored(backup: BackupWithArtifacts, done: Attempt, attempt: number, scrub: (s: string) => string): Promise<void> {
    const artifacts = done.result.targets.map((t) => {
      const manifestError = done.manifestErrors.get(t.id);
      if (t.ok && !manifestError) return { storageTargetId: t.id, ok: true as const, bytes: t.bytes };
      return { storageTargetId: t.id, ok: false as const, error: scrub(manifestError ?? (t.ok ? "not stored" : (t as { error: Error }).error.message)) };
    });
    const okCount = artifacts.filter((a) => a.ok).length;
    const status = okCount === 0 ? "FAILED" : okCount === artifacts.length ? "SUCCEEDED" : "PARTIAL";
    const failures = artifacts.filter((a) => !a.ok).map((a) => `target ${a.storageTargetId}: ${(a as { error: string }).error}`);
    await this.deps.repo.finish(backup.id, {
      status,
      attempt,
      rawBytes: done.result.rawBytes,
      storedBytes: done.result.storedBytes,
      sha256: status === "FAILED" ? null : done.result.sha256,
      tool: done.tool,
      serverVersion: done.serverVersion,
      position: done.position,
      error: failures.length ? failures.join("; ") : null,
      logTail: scrub(done.result.stderrTail).slice(-4000) || null,
      artifacts,
    });
    if (done.tableStats && status !== "FAILED") await saveTableStats(this.deps.prisma, backup.id, done.tableStats);
    this.deps.events.emit({ type: "STATUS", backupId: backup.id, status });
  }

  /**
   * The tables and objects a restore drill expects (names only: the drill counts the dump's own
   * rows), captured only for backups whose schedule runs restore drills; a failure to capture
   * never fails the backup.
   */
  async #tableStats(backup: BackupWithArtifacts, conn: ServerConnection, log: Logger): Promise<TableStats | null> {
    if (!backup.scheduleId || !this.deps.engine.tableStats) return null;
    const schedule = await this.deps.prisma.schedule.findUnique({ where: { id: backup.scheduleId }, select: { drillEnabled: true } });
    if (!schedule?.drillEnabled) return null;
    return this.deps.engine.tableStats(conn, backup.database).catch((error: unknown) => {
      log.warn({ err: error }, "could not capture table statistics for restore drills");
      return null;
    });
  }

  async #finishFailed(backup: BackupWithArtifacts, error: BackupError, attempt: number, logTail?: string): Promise<void> {
    const status = error.reason === "CANCELLED" ? "CANCELLED" : "FAILED";
    await this.deps.repo.finish(backup.id, { status, attempt, error: error.message, logTail: logTail?.slice(-4000) ?? null, artifacts: [] });
    this.deps.events.emit({ type: "STATUS", backupId: backup.id, status });
  }
}

function toBackupError(error: unknown, signal: AbortSignal): BackupError {
  if (signal.aborted && signal.reason instanceof BackupError) return signal.reason;
  if (error instanceof BackupError) return error;
  return new BackupError("STORAGE_FAILED", (error as Error)?.message ?? String(error));
}

function backoffMs(baseMs: number, attempt: number): number {
  const exp = Math.min(baseMs * 2 ** (attempt - 2), 300_000);
  return Math.round(exp * (0.75 + Math.random() * 0.5));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
}
