import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import type { BackupOutcome, BackupsRepository, BackupWithArtifacts } from "../db/backups.repository.ts";
import type { PrismaClient } from "../db/client.ts";
import { MetadataUnavailableError, RecordWriter } from "../db/record-writer.ts";
import type { DumpOptions, Server, StorageTarget } from "../db/generated/client.ts";
import type { Logger } from "../observability/logger.ts";
import { setLongTimeout } from "../process/timers.ts";
import type { RecipientKey } from "../encryption/keys.service.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { artifactKey, contentTypeOf, MANIFEST_SUFFIX } from "./artifact-key.ts";
import { runPipeline, type PipelineResult } from "./backup-pipeline.ts";
import type { DumpEngine } from "./dump-engine.ts";
import { expectedArtifactBytes } from "./expected-bytes.ts";
import type { DumpFormat, ReplicationPosition, ServerConnection } from "./dumpers/types.ts";
import { connectionOf } from "./connection-of.ts";
import { BackupError } from "./errors.ts";
import type { BackupEvents } from "./events.ts";
import { claimBackups, type ClaimedBackup } from "../queue/claim.ts";
import { removeStaleSpool } from "./spool-sweep.ts";
import { buildManifest, manifestEncryption } from "./manifest.ts";
import { copyArtifact } from "./copy-artifact.ts";
import type { TableStats } from "./table-stats.ts";

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
  /** Where PARALLEL dumps write their directories (one subdirectory per attempt, removed after it). */
  spoolDir?: string;
  /** PARALLEL: the spool must have this many times the database's estimated size free (default 1; 0 skips the check). */
  spoolReserve?: number;
  /** The keys `encryption: AGE` profiles encrypt to (server/encryption/keys.service.ts); without it such backups fail. */
  encryptionKeys?: { currentRecipients(): Promise<RecipientKey[]> };
  /** False on an `api` instance: it queues backups but never claims one (default true). */
  claims?: boolean;
  /** Cluster-wide cap on RUNNING backups, enforced in the claim (SQLGUARD_CLUSTER_MAX_CONCURRENT_BACKUPS). */
  clusterMax?: number;
  /** Told of each claim (metrics): how long the backup waited in the queue. */
  onClaim?: (claimed: ClaimedBackup) => void;
  /** Told whenever this instance's slots change (metrics). */
  onSlots?: (slots: { busy: number; free: number }) => void;
};

type ServerRow = Server & { dumpOptions: DumpOptions | null };
/** Where an attempt's time went, in ms (logged with "backup finished"; bench:pipeline prints them). */
type Phases = { prepareMs: number; dumpMs: number; manifestsMs: number };

type Attempt = {
  phases: Phases;
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
 * Once an attempt has ended, its outcome is final: the record is written through a RecordWriter,
 * so an outage of the metadata database delays it but does not lose it.
 */
export class BackupRunner {
  /** Every backup this process holds, queued or running, with the controller that stops it. */
  readonly #held = new Map<number, AbortController>();
  readonly #running = new Set<number>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #records: RecordWriter;
  readonly #log: Logger;
  #stopping = false;

  #claiming: Promise<void> | null = null;
  #claimAgain = false;
  #stopPoll: (() => void) | null = null;

  constructor(private readonly deps: RunnerDeps) {
    this.#log = deps.logger.child({ component: "runner" });
    this.#records = new RecordWriter({ logger: deps.logger });
  }

  /**
   * New PENDING backups were queued (here or on another instance): claims from the work queue
   * (server/queue/claim.ts) as many as this instance has free slots for, and runs them in the
   * background; returns at once. Which backups run here is the queue's choice, not the caller's.
   */
  enqueue(_backupIds: number[] = []): void {
    if (this.deps.claims === false || this.#stopping) return;
    if (this.#claiming) {
      this.#claimAgain = true;
      return;
    }
    // A call that came while this pass was ending (after its last check of #claimAgain, before this
    // finally) would otherwise be lost: the backup it announced stayed PENDING until the next poll,
    // or for good where nothing polls.
    const pass = this.#claimPasses().finally(() => {
      this.#claiming = null;
      if (this.#claimAgain && !this.#stopping) this.enqueue();
    });
    this.#claiming = pass;
    this.#tasks.add(pass);
    void pass.finally(() => this.#tasks.delete(pass));
  }

  /** Claims from the queue every `pollMs` too (backups queued by other instances). Returns the stopper. */
  startClaiming(pollMs: number): void {
    if (this.deps.claims === false || this.#stopPoll) return;
    const timer = setInterval(() => this.enqueue(), pollMs);
    timer.unref();
    this.#stopPoll = () => clearInterval(timer);
    this.enqueue();
  }

  /** Slots of this instance: busy (running a backup) and free. */
  get slots(): { busy: number; free: number } {
    const busy = this.#held.size;
    return { busy, free: Math.max(0, this.deps.limits.maxConcurrent - busy) };
  }

  async #claimPasses(): Promise<void> {
    do {
      this.#claimAgain = false;
      const free = this.slots.free;
      if (free === 0 || this.#stopping) return;
      let claimed: ClaimedBackup[];
      try {
        claimed = await claimBackups(this.deps.prisma, { instanceId: this.deps.instanceId, slots: free, clusterMax: this.deps.clusterMax });
      } catch (error) {
        this.#log.warn({ err: error }, "could not claim backups from the queue; the next pass retries");
        return;
      }
      for (const c of claimed) {
        this.deps.onClaim?.(c);
        this.#start(c.id);
      }
      if (claimed.length > 0 && claimed.length === free) this.#claimAgain = true;
    } while (this.#claimAgain && !this.#stopping);
  }

  /** Runs a backup this instance claimed (RUNNING here) in the background. */
  #start(id: number): void {
    {
      if (this.#held.has(id)) return;
      const controller = new AbortController();
      this.#held.set(id, controller);
      this.deps.onSlots?.(this.slots);
      const task = this.#run(id, controller)
        .catch((error: unknown) => {
          if (error instanceof MetadataUnavailableError)
            this.#log.warn({ err: error, backupId: id }, "backup left to the recovery: the metadata database is unreachable");
          else this.#log.error({ err: error, backupId: id }, "backup task crashed");
        })
        .finally(() => {
          this.#held.delete(id);
          this.deps.onSlots?.(this.slots);
        });
      this.#tasks.add(task);
      void task.finally(() => {
        this.#tasks.delete(task);
        // A slot came free: the next backup in the queue.
        this.enqueue();
      });
    }
  }

  /** Backups running on this instance now. */
  get running(): number {
    return this.#running.size;
  }

  /** True while this process runs the backup (claimed here, not yet recorded). */
  holds(id: number): boolean {
    return this.#held.has(id);
  }

  /** The ids this process holds (queued or running). */
  held(): number[] {
    return [...this.#held.keys()];
  }

  /** Stops a backup held by this process at once; returns false if it is not held here. */
  abortLocal(id: number, reason: BackupError): boolean {
    const controller = this.#held.get(id);
    controller?.abort(reason);
    return controller !== undefined;
  }

  /** Waits until every queued and running backup has ended (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.#tasks.size) await Promise.allSettled([...this.#tasks]);
  }

  /**
   * Shutdown: starts nothing new, stops what runs (recorded as interrupted), waits for the records.
   * A record the metadata database cannot take now is left RUNNING: the recovery at the next start
   * settles it (SUCCEEDED if its artifacts and manifests were committed).
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#stopPoll?.();
    this.#stopPoll = null;
    for (const controller of this.#held.values()) controller.abort(new BackupError("INTERRUPTED", "interrupted: SQLGuard was shut down"));
    this.#records.stop();
    await this.idle();
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

  /**
   * Removes spool directories (PARALLEL dumps and restores) that nothing has written to since
   * `olderThan`: what a crash left. A running attempt's directory changes as its dump writes.
   */
  async removeStaleSpool(olderThan: Date): Promise<void> {
    if (!this.deps.spoolDir) return;
    const removed = await removeStaleSpool(this.deps.spoolDir, olderThan);
    if (removed.length) this.#log.info({ removed }, "removed spool directories left by interrupted backups or restores");
  }

  async #run(id: number, controller: AbortController): Promise<void> {
    const { repo, prisma, events } = this.deps;
    const { signal } = controller;
    const backup = await this.#db("read the backup", () => repo.get(id), signal);
    if (backup?.status !== "RUNNING" || backup.instanceId !== this.deps.instanceId) return;
    const serverId = backup.serverId;
    const server = serverId
      ? await this.#db("read the server", () => prisma.server.findUnique({ where: { id: serverId }, include: { dumpOptions: true } }), signal)
      : null;
    if (!server) {
      await this.#record(
        id,
        this.#failedOutcome(new BackupError("CONFIGURATION", "the server was deleted before the backup started"), backup.attempt),
        this.#log,
      );
      return;
    }
    this.#running.add(id);
    try {
      events.emit({ type: "STATUS", backupId: id, status: "RUNNING" });
      await this.#execute(backup, server, controller);
    } finally {
      this.#running.delete(id);
    }
  }

  /** Runs the attempts of a claimed backup, then records their outcome (retrying through an outage). */
  async #execute(backup: BackupWithArtifacts, server: ServerRow, controller: AbortController): Promise<void> {
    const { limits } = this.deps;
    const log = this.#log.child({ backupId: backup.id, server: server.name, database: backup.database });
    let stored = 0;
    const stopHeartbeat = this.#heartbeat(backup.id, () => stored, controller, log);
    const stopTimeout = setLongTimeout(
      () => controller.abort(new BackupError("TIMEOUT", `the backup exceeded its time limit of ${Math.round(limits.timeoutMs / 1000)} s`)),
      limits.timeoutMs,
    );
    log.info({ attempt: backup.attempt }, "backup started");
    try {
      let outcome: BackupOutcome;
      try {
        outcome = await this.#attempts(backup, server, controller.signal, (bytes) => (stored = bytes), log);
      } finally {
        stopTimeout();
      }
      // From here the outcome is final; the heartbeat keeps the lease while the record is written.
      await this.#record(backup.id, outcome, log);
    } finally {
      stopHeartbeat();
    }
  }

  /** Attempts until one succeeds, a failure is permanent, or the attempts are used up; returns the outcome to record. */
  async #attempts(backup: BackupWithArtifacts, server: ServerRow, signal: AbortSignal, onStored: (bytes: number) => void, log: Logger): Promise<BackupOutcome> {
    const { repo, limits, secrets } = this.deps;
    let conn: ServerConnection;
    try {
      conn = connectionOf(server, secrets);
    } catch (error) {
      const message = `cannot decrypt the stored password of server ${server.name} (${(error as Error).message}): set the SQLGUARD_SECRET_KEY it was stored with, or enter the password again`;
      log.warn({ reason: "CONFIGURATION", err: message }, "backup failed");
      return this.#failedOutcome(new BackupError("CONFIGURATION", message), backup.attempt);
    }
    const password = conn.password;
    const scrub = (text: string) => (password ? text.split(password).join("[redacted]") : text);
    let attempt = backup.attempt;
    for (;;) {
      try {
        const done = await this.#attempt(backup, server, conn, signal, onStored, log);
        log.info(
          { storedBytes: done.result.storedBytes, rawBytes: done.result.rawBytes, phases: done.phases, spoolPeakBytes: done.result.spoolPeakBytes },
          "backup finished",
        );
        return this.#storedOutcome(done, attempt, scrub);
      } catch (caught) {
        const error = toBackupError(caught, signal);
        if (error.transient && attempt < limits.maxAttempts && !signal.aborted) {
          attempt++;
          log.warn({ attempt, reason: error.reason, err: scrub(error.message) }, "transient failure, retrying");
          const next = attempt;
          await this.#db("note the attempt", () => repo.noteAttempt(backup.id, next, scrub(error.message)), signal).catch((e: unknown) =>
            log.warn({ err: e }, "could not note the attempt"),
          );
          await sleep(backoffMs(limits.retryBaseMs, attempt), signal);
          continue;
        }
        log.warn({ reason: error.reason, err: scrub(error.message) }, "backup failed");
        return this.#failedOutcome(
          new BackupError(error.reason, scrub(error.message)),
          attempt,
          error instanceof Error && "stderrTail" in error ? scrub(String(error.stderrTail)) : undefined,
        );
      }
    }
  }

  /**
   * Renews the lease and saves the progress every heartbeatMs; aborts the run on a cancel request,
   * or when the row is no longer RUNNING here (another instance settled it). Returns the stopper.
   */
  #heartbeat(id: number, stored: () => number, controller: AbortController, log: Logger): () => void {
    let busy = false;
    const timer = setInterval(() => {
      // A heartbeat that hangs (the metadata database stopped answering) is not stacked upon.
      if (busy) return;
      busy = true;
      this.deps.repo
        .heartbeat(id, this.deps.instanceId, stored())
        .then(
          ({ cancelRequested, lost }) => {
            if (lost)
              controller.abort(new BackupError("INTERRUPTED", "interrupted: another instance settled this backup while it ran (its lease had expired)"));
            else if (cancelRequested) controller.abort(new BackupError("CANCELLED", "cancelled by request"));
          },
          (error: unknown) => log.warn({ err: error }, "heartbeat failed"),
        )
        .finally(() => (busy = false));
    }, this.deps.limits.heartbeatMs);
    return () => clearInterval(timer);
  }

  /** A read or write of the run, retried while the metadata database is unreachable, until `signal` aborts. */
  #db<T>(what: string, fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return this.#records.write(what, fn, { signal });
  }

  /**
   * Writes a backup's final outcome, retrying until the metadata database takes it; announces it.
   * Only a shutdown (or an error that is not the database being away) leaves the row RUNNING, for
   * the recovery at the next start or the lease sweep, which settle it from what the targets hold.
   */
  async #record(id: number, outcome: BackupOutcome, log: Logger): Promise<void> {
    let row: BackupWithArtifacts;
    try {
      row = await this.#records.write("record the backup's outcome", () => this.deps.repo.finish(id, outcome), { fields: { backupId: id } });
    } catch (error) {
      if (error instanceof MetadataUnavailableError)
        log.warn({ status: outcome.status }, "stopping with the metadata database unreachable: the backup is left to the recovery");
      else log.error({ err: error, status: outcome.status }, "could not record the backup's outcome: left to the lease sweep");
      return;
    }
    // Settled meanwhile by another instance (its lease had expired): that verdict stands and was announced there.
    if (row.status === outcome.status) this.deps.events.emit({ type: "STATUS", backupId: id, status: outcome.status });
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
    const prepareStarted = Date.now();
    const inspection = await engine.inspect(conn).catch((error: Error & { transient?: boolean }) => {
      throw new BackupError("CONNECTION_FAILED", error.message, error.transient === true, { cause: error });
    });
    if (!inspection.databases.includes(backup.database)) {
      throw new BackupError("CONFIGURATION", `database ${JSON.stringify(backup.database)} does not exist on ${server.name}`);
    }
    const profile = server.dumpOptions;
    const encryption = profile?.encryption ?? "NONE";
    // Independent looks at the server and the records, at once: each is a round trip the dump waits for.
    const [position, tableStats, tools, warningsFound, expectedBytes, recipients] = await Promise.all([
      engine.position(conn).catch(() => null),
      this.#tableStats(backup, conn, log),
      engine.tools(),
      // What the dump will leave out (missing privileges, tables outside the snapshot): recorded, not fatal.
      engine.dumpWarnings?.(conn, backup.database, profile).catch(() => null),
      // Only sizes the upload's parts: no reason to wait for the metadata database.
      expectedArtifactBytes(
        engine,
        conn,
        backup.database,
        repo.previousStoredBytes(server.id, backup.database).catch(() => undefined),
      ),
      // Read at each attempt: a key added or retired applies to the next backup at once.
      encryption === "AGE" ? this.#recipients(signal) : null,
    ]);
    const warnings = warningsFound ?? [];
    const parallel = profile?.engine === "PARALLEL";
    // A PARALLEL dump writes a directory here first; removed with everything in it after the attempt.
    const spool = parallel ? await this.#openSpool(backup.id, expectedBytes) : null;
    let dump;
    try {
      dump = parallel
        ? await (engine.buildParallel ?? notParallel)(conn, profile, backup.database, tools, inspection.version, spool!)
        : engine.build(conn, profile, backup.database, tools, inspection.version, { exactPosition: server.pitrEnabled });
    } catch (error) {
      if (spool) await fs.rm(spool, { recursive: true, force: true });
      throw new BackupError("CONFIGURATION", (error as Error).message);
    }
    const compression = profile?.compression ?? "ZSTD";
    const key = artifactKey({ ...backup, backupId: backup.id, format: dump.format, compression, encryption });
    const contentType = contentTypeOf(dump.format, compression, encryption);
    if (warnings.length) log.warn({ warnings }, "the backup will leave objects out");
    const targetIds = backup.artifacts.flatMap((a) => a.storageTargetId ?? []);
    const [, targets] = await Promise.all([
      this.#db(
        "record the dump settings",
        () =>
          repo.prepareRun(backup.id, {
            compression,
            encryption,
            keyIds: recipients?.map((r) => r.id) ?? [],
            tool: dump.description,
            serverVersion: inspection.version,
            key,
            warnings,
          }),
        signal,
      ),
      this.#db("read the storage targets", () => prisma.storageTarget.findMany({ where: { id: { in: targetIds } } }), signal),
    ]);
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
        targets: targets.map((t) => ({ id: t.id, store: stores.get(t.id)!, key, contentType })),
        ...(recipients ? { encryptTo: recipients.map((r) => r.publicRaw) } : {}),
        signal: AbortSignal.any([signal, stall.signal]),
        expectedBytes,
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
      const dumped = Date.now();
      // The dump's own position (its snapshot) beats the one read before it started.
      const exact = result.position ?? position;
      const manifestErrors = await this.#writeManifests(
        backup,
        server,
        { result, key, dump, compression, level: profile?.compressionLevel ?? 3, recipients, inspection, position: exact, tableStats, warnings, started },
        stores,
      );
      await this.#retryTargets({ result, manifestErrors, stores, key, contentType, signal, log });
      const phases = { prepareMs: started - prepareStarted, dumpMs: dumped - started, manifestsMs: Date.now() - dumped };
      return { phases, result, tool: dump.description, serverVersion: inspection.version, position: exact, manifestErrors, tableStats };
    } finally {
      clearInterval(watchdog);
      await dump.cleanup();
      if (spool) await fs.rm(spool, { recursive: true, force: true });
    }
  }

  /**
   * The keys an encrypted backup is written to (the instance key, generated on first use, and
   * every recovery recipient not retired). Throws a BackupError (CONFIGURATION) without a key service.
   */
  async #recipients(signal: AbortSignal): Promise<RecipientKey[]> {
    const keys = this.deps.encryptionKeys;
    if (!keys) throw new BackupError("CONFIGURATION", "the profile asks for encryption, but this runner has no encryption keys");
    return this.#db("read the encryption keys", () => keys.currentRecipients(), signal);
  }

  /**
   * This attempt's own directory in the spool, after checking the spool has room for the database
   * (its estimated size on the server): a PARALLEL dump holds all of it there before the upload.
   * Throws a BackupError (CONFIGURATION, not retried) when it has not.
   */
  async #openSpool(backupId: number, estimatedBytes: number | undefined): Promise<string> {
    const root = this.deps.spoolDir ?? path.join(os.tmpdir(), "sqlguard-spool");
    await fs.mkdir(root, { recursive: true, mode: 0o700 });
    const reserve = this.deps.spoolReserve ?? 1;
    if (estimatedBytes && reserve > 0) {
      const stats = await fs.statfs(root);
      const free = stats.bavail * stats.bsize;
      const needed = Math.ceil(estimatedBytes * reserve);
      if (free < needed)
        throw new BackupError(
          "CONFIGURATION",
          `the spool ${root} has ${mib(free)} free, less than the ${mib(needed)} the database is estimated at: a PARALLEL dump holds the whole database there before the upload; free space there or point SQLGUARD_DATA_DIR at a larger disk`,
        );
    }
    return fs.mkdtemp(path.join(root, `backup-${backupId}-`));
  }

  /** Writes the manifest beside each stored artifact; a target whose manifest fails loses its artifact too. */
  async #writeManifests(
    backup: BackupWithArtifacts,
    server: ServerRow,
    run: {
      result: PipelineResult;
      key: string;
      dump: { description: string; format: DumpFormat };
      compression: "ZSTD" | "GZIP" | "NONE";
      level: number;
      recipients: RecipientKey[] | null;
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
      ...(run.recipients ? { encryption: manifestEncryption(run.recipients) } : {}),
      ...(run.result.members ? { members: run.result.members } : {}),
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

  /**
   * Per-target retry: a target whose upload (or manifest) failed transiently while another target
   * stored the artifact gets it copied from that target, checksum-verified (copyArtifact), up to
   * maxAttempts - 1 more times with the runner's backoff; each attempt is logged. A target that
   * still fails, or failed for good (access denied, a full disk), stays failed: the backup ends
   * PARTIAL and repairBackup (or the sweeper's automatic repair) can copy it later.
   */
  async #retryTargets(run: {
    result: PipelineResult;
    manifestErrors: Map<number, string>;
    stores: Map<number, ArtifactStore>;
    key: string;
    contentType: string;
    signal: AbortSignal;
    log: Logger;
  }): Promise<void> {
    const { result, manifestErrors, stores, log, signal } = run;
    const good = result.targets.find((t) => t.ok && !manifestErrors.has(t.id));
    if (!good) return;
    const { maxAttempts, retryBaseMs } = this.deps.limits;
    await Promise.all(
      result.targets.map(async (t, index) => {
        if (t.ok && !manifestErrors.has(t.id)) return;
        let error: unknown = t.ok ? new Error(manifestErrors.get(t.id)) : t.error;
        // A manifest that failed on a stored artifact had its artifact removed: the copy redoes both.
        const retriable = (e: unknown) => (e as { transient?: boolean }).transient === true || (t.ok && manifestErrors.has(t.id));
        for (let attempt = 2; attempt <= maxAttempts && retriable(error) && !signal.aborted; attempt++) {
          log.warn({ storageTargetId: t.id, attempt, maxAttempts, err: (error as Error).message }, "upload to a storage target failed; retrying it");
          await sleep(backoffMs(retryBaseMs, attempt), signal);
          if (signal.aborted) return;
          try {
            const { bytes } = await copyArtifact(stores.get(good.id)!, stores.get(t.id)!, run.key, result.sha256, { signal, contentType: run.contentType });
            result.targets[index] = { id: t.id, ok: true, bytes };
            manifestErrors.delete(t.id);
            log.info({ storageTargetId: t.id, attempt }, "upload to a storage target succeeded on retry");
            return;
          } catch (caught) {
            error = caught;
          }
        }
        if (!result.targets[index]!.ok) result.targets[index] = { id: t.id, ok: false, error };
        else manifestErrors.set(t.id, (error as Error).message);
      }),
    );
  }

  /** The outcome of a finished attempt: SUCCEEDED if every target holds the artifact and its manifest, PARTIAL if some do. */
  #storedOutcome(done: Attempt, attempt: number, scrub: (s: string) => string): BackupOutcome {
    const artifacts = done.result.targets.map((t) => {
      const manifestError = done.manifestErrors.get(t.id);
      if (t.ok && !manifestError) return { storageTargetId: t.id, ok: true as const, bytes: t.bytes };
      return { storageTargetId: t.id, ok: false as const, error: scrub(manifestError ?? (t.ok ? "not stored" : (t as { error: Error }).error.message)) };
    });
    const okCount = artifacts.filter((a) => a.ok).length;
    const status = okCount === 0 ? "FAILED" : okCount === artifacts.length ? "SUCCEEDED" : "PARTIAL";
    const failures = artifacts.filter((a) => !a.ok).map((a) => `target ${a.storageTargetId}: ${(a as { error: string }).error}`);
    return {
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
      tableStats: status === "FAILED" ? null : done.tableStats,
      artifacts,
    };
  }

  /**
   * The tables and objects a restore drill expects (names only: the drill counts the dump's own
   * rows), captured only for backups whose schedule runs restore drills; a failure to capture
   * never fails the backup.
   */
  async #tableStats(backup: BackupWithArtifacts, conn: ServerConnection, log: Logger): Promise<TableStats | null> {
    if (!backup.scheduleId || !this.deps.engine.tableStats) return null;
    // Like the capture itself, an unreadable schedule only costs the statistics, never the backup.
    const schedule = await this.deps.prisma.schedule
      .findUnique({ where: { id: backup.scheduleId }, select: { drillEnabled: true } })
      .catch((error: unknown) => (log.warn({ err: error }, "could not read the schedule for restore drills"), null));
    if (!schedule?.drillEnabled) return null;
    return this.deps.engine.tableStats(conn, backup.database).catch((error: unknown) => {
      log.warn({ err: error }, "could not capture table statistics for restore drills");
      return null;
    });
  }

  /** The outcome of a backup that failed (or was cancelled) before anything was stored. */
  #failedOutcome(error: BackupError, attempt: number, logTail?: string): BackupOutcome {
    const status = error.reason === "CANCELLED" ? "CANCELLED" : "FAILED";
    return { status, attempt, error: error.message, logTail: logTail?.slice(-4000) ?? null, artifacts: [] };
  }
}

const notParallel = (): never => {
  throw new Error("this dump engine has no PARALLEL mode");
};

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

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
