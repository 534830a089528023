import type { PrismaClient } from "../db/client.ts";
import type { Backup, Restore, Server, StorageTarget } from "../db/generated/client.ts";
import {
  planReplay,
  archivesOf,
  describeStop,
  parseBinlogPosition,
  PitrRefusedError,
  replayBinlogs,
  type DumpPosition,
  type ReplayStop,
} from "../pitr/replay.ts";
import { pgDumpAtTime } from "../pitr/pg/restore-job-pg.ts";
import type { ServerConnection } from "../process/server-connection.ts";
import { MetadataUnavailableError, RecordWriter } from "../db/record-writer.ts";
import type { Logger } from "../observability/logger.ts";
import { pinArtifact, PinRefusedError, type PinHandle } from "../retention/artifact-pins.ts";
import { connectionOf } from "../runner/connection-of.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { markCorrupt, resolveArtifact } from "./backup-source.ts";
import { RestoreError, toRestoreError } from "./errors.ts";
import type { RestoreEvents } from "./events.ts";
import { restoreArtifact } from "./restore-artifact.ts";
import type { RestoreTools } from "./restore-tools.ts";
import { targetColumns, type TargetReport } from "./target-state.ts";
import { claimRestores } from "../queue/claim.ts";
import { archiveDecryption } from "../pitr/archive-crypto.ts";

type RestoreEnd = "SUCCEEDED" | "FAILED" | "CANCELLED";
type RestoreEndData = Partial<
  Pick<Restore, "rawBytes" | "progressBytes" | "sha256" | "error" | "logTail" | "targetState" | "targetDetail" | "scratchDatabase">
>;

/** What running restores in the background needs. */
export type RestoreJobDeps = {
  prisma: PrismaClient;
  secrets: SecretBox;
  storeFor: (target: StorageTarget) => ArtifactStore;
  /** Where PARALLEL artifacts are unpacked before loading. */
  spoolDir?: string;
  events: RestoreEvents;
  logger: Logger;
  instanceId: string;
  /** How often a running restore saves its progress and looks for a cancel request. */
  heartbeatMs: number;
  /** Replaceable in tests; the programs on this machine otherwise. */
  tools?: RestoreTools;
  /** How long the artifact's pin lasts unrenewed (default PIN_TTL_MS). */
  pinTtlMs?: number;
  /** False on an `api` instance (SQLGUARD_ROLE=api): it queues restores, never claims or runs them. Default true. */
  claims?: boolean;
  /** Queued restores this instance runs at once (default 2). */
  maxConcurrent?: number;
  /** Cluster-wide cap on RUNNING backups + restores (server/queue/claim.ts). */
  clusterMax?: number;
};

/** An account to restore as instead of the server's backup user; held in memory only, never stored or logged. */
export type RestoreCredentials = { username: string; password: string };

/**
 * Runs recorded restores in the background. A queued restore (PENDING, no instance) is claimed
 * from the work queue (server/queue/claim.ts: SKIP LOCKED, the target server's maxConcurrent) by
 * whichever instance that runs jobs has a free slot, on every `enqueue`, slot freed and poll; a
 * restore with `credentials` is started here by `start` (PENDING → RUNNING, conditional), since
 * only this process holds its password. Then progress and cancel checks at each heartbeat, then SUCCEEDED / FAILED /
 * CANCELLED with timings, bytes and the reason. The artifact is pinned from before its first read
 * to after its last, so retention cannot delete it under the restore. What the target database is
 * left as is saved before each risky step and at the end (targetState / targetDetail).
 * A checksum mismatch also marks the artifact CORRUPT. Records go through a RecordWriter: an outage of the metadata database delays them, and a restore
 * that ends while it lasts is recorded once it is over. Interrupted restores (this process died, or
 * lost one) are settled by recovery/interrupted-work.ts.
 */
export class RestoreJobs {
  readonly #active = new Map<number, AbortController>();
  readonly #held = new Set<number>();
  /** The passwords of restores that run as another user, until they end: never written anywhere. */
  readonly #credentials = new Map<number, RestoreCredentials>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #records: RecordWriter;
  readonly #log: Logger;
  #claiming: Promise<void> | null = null;
  #claimAgain = false;
  #stopPoll: (() => void) | null = null;
  #stopping = false;

  constructor(private readonly deps: RestoreJobDeps) {
    this.#log = deps.logger.child({ component: "restore" });
    this.#records = new RecordWriter({ logger: deps.logger });
  }

  /** Whether this instance runs restores (false on an `api` instance). */
  get claims(): boolean {
    return this.deps.claims !== false;
  }

  /**
   * A restore was queued (here or elsewhere), or a slot freed: claims as many queued restores as
   * this instance has free slots for and runs them in the background; returns at once.
   */
  enqueue(): void {
    if (!this.claims || this.#stopping) return;
    if (this.#claiming) {
      this.#claimAgain = true;
      return;
    }
    const pass = this.#claimPasses().finally(() => {
      this.#claiming = null;
      if (this.#claimAgain && !this.#stopping) this.enqueue();
    });
    this.#claiming = pass;
    this.#tasks.add(pass);
    void pass.finally(() => this.#tasks.delete(pass));
  }

  /** Claims from the queue every `pollMs` too (restores queued by other instances). */
  startClaiming(pollMs: number): void {
    if (!this.claims || this.#stopPoll) return;
    const timer = setInterval(() => this.enqueue(), pollMs);
    timer.unref();
    this.#stopPoll = () => clearInterval(timer);
    this.enqueue();
  }

  async #claimPasses(): Promise<void> {
    do {
      this.#claimAgain = false;
      const free = (this.deps.maxConcurrent ?? 2) - this.#held.size;
      if (free <= 0 || this.#stopping) return;
      let claimed;
      try {
        claimed = await claimRestores(this.deps.prisma, {
          instanceId: this.deps.instanceId,
          slots: free,
          clusterMax: this.deps.clusterMax,
          onClaim: (c) => this.#launch(c.id, true),
        });
      } catch (error) {
        this.#log.warn({ err: error }, "could not claim restores from the queue; the next pass retries");
        return;
      }
      if (claimed.length > 0 && claimed.length === free) this.#claimAgain = true;
    } while (this.#claimAgain && !this.#stopping);
  }

  /** Starts a PENDING restore in the background here; returns at once. `credentials`: restore as that account (restore.restoreUser). */
  start(id: number, credentials?: RestoreCredentials): void {
    if (credentials) this.#credentials.set(id, credentials);
    this.#launch(id, false);
  }

  /** Runs a restore here; `claimed`: the queue already moved it to RUNNING for this instance. */
  #launch(id: number, claimed: boolean): void {
    if (this.#held.has(id)) return;
    this.#held.add(id);
    const task = this.#run(id, claimed)
      .catch((error: unknown) => {
        if (error instanceof MetadataUnavailableError)
          this.#log.warn({ err: error, restoreId: id }, "restore left to the recovery: the metadata database is unreachable");
        else this.#log.error({ err: error, restoreId: id }, "restore task crashed");
      })
      .finally(() => {
        this.#held.delete(id);
        this.#credentials.delete(id);
        // A slot freed: the next queued restore.
        this.enqueue();
      });
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  /** True while this process runs (or is about to run) the restore. */
  holds(id: number): boolean {
    return this.#held.has(id);
  }

  /** Stops a restore running here; false when it does not run on this instance. */
  abortLocal(id: number, reason: RestoreError): boolean {
    this.#active.get(id)?.abort(reason);
    return this.#active.has(id);
  }

  /** Waits until every restore started here has ended (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#tasks.size) await Promise.allSettled([...this.#tasks]);
  }

  /** Shutdown: stops what runs (recorded FAILED as interrupted; new databases dropped) and waits. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#stopPoll?.();
    this.#stopPoll = null;
    for (const c of this.#active.values()) c.abort(new RestoreError("INTERRUPTED", "interrupted: SQLGuard was shut down"));
    this.#records.stop();
    await this.idle();
  }

  async #run(id: number, queued: boolean): Promise<void> {
    const { prisma, events, instanceId } = this.deps;
    const now = new Date();
    const claimed =
      queued ||
      (await this.#records.write("claim the restore", async () => {
        const { count } = await prisma.restore.updateMany({
          where: { id, status: "PENDING" },
          data: { status: "RUNNING", startedAt: now, heartbeatAt: now, instanceId, progressBytes: 0 },
        });
        // A repeat after a dropped connection finds its own claim.
        return count === 1 || (await prisma.restore.count({ where: { id, status: "RUNNING", instanceId, startedAt: now } })) === 1;
      }));
    if (!claimed) return;
    const restore = await this.#records.write("read the restore", () => prisma.restore.findUniqueOrThrow({ where: { id } }));
    events.emit({ type: "RESTORE_STATUS", restoreId: id, status: "RUNNING", serverName: restore.serverName, database: restore.database });
    const log = this.#log.child({ restoreId: id, server: restore.serverName, database: restore.database });
    const controller = new AbortController();
    this.#active.set(id, controller);
    let progress = 0;
    let beating = false;
    const heartbeat = setInterval(() => {
      if (beating) return;
      beating = true;
      // Renews only a row this instance still runs: one settled elsewhere is never marked alive again.
      void prisma.restore
        .updateMany({ where: { id, status: "RUNNING", instanceId }, data: { heartbeatAt: new Date(), progressBytes: BigInt(progress) } })
        .then(async ({ count }) => {
          const row = await prisma.restore.findUnique({ where: { id }, select: { cancelRequestedAt: true } });
          if (count === 0) controller.abort(new RestoreError("INTERRUPTED", "interrupted: another instance settled this restore while it ran"));
          else if (row?.cancelRequestedAt) controller.abort(new RestoreError("CANCELLED", "cancelled by request"));
        })
        .catch((error: unknown) => log.warn({ err: error }, "restore heartbeat failed"))
        .finally(() => (beating = false));
    }, this.deps.heartbeatMs);
    let artifactId: number | null = null;
    let ended: { status: RestoreEnd; data: RestoreEndData };
    let pin: PinHandle | null = null;
    // Released once the artifact has been read for the last time, before the result is recorded.
    const release = (held: PinHandle | null) =>
      held?.release().catch((error: unknown) => log.warn({ err: error }, "could not release the artifact's pin; it expires on its own"));
    try {
      const { backup, server, conn } = await this.#load(restore, this.#credentials.get(id));
      const resolved = await resolveArtifact(prisma, this.deps.storeFor, backup, restore.storageTargetId, this.deps.secrets);
      artifactId = resolved.artifact.id;
      pin = await pinArtifact(prisma, artifactId, { kind: "RESTORE", id }, { instanceId, ttlMs: this.deps.pinTtlMs }).catch((error: unknown) => {
        throw error instanceof PinRefusedError ? new RestoreError("STORAGE_FAILED", `the artifact cannot be read: ${error.message}`) : error;
      });
      log.info(
        { backupId: backup.id, overwrite: restore.overwrite, restoreUser: restore.restoreUser, rewriteDefiners: restore.rewriteDefiners },
        "restore started",
      );
      // PostgreSQL to a point in time: the cluster replayed to it in a temporary instance, the database dumped from there.
      const atTime =
        restore.pointInTime && server.engine === "POSTGRESQL"
          ? await pgDumpAtTime({ prisma, storeFor: this.deps.storeFor, secrets: this.deps.secrets }, restore, backup, server, controller.signal, log)
          : null;
      const outcome = await restoreArtifact(
        atTime?.source ?? resolved.source,
        { conn, database: restore.database, mode: restore.overwrite ? "overwrite" : "create" },
        {
          signal: controller.signal,
          tools: this.deps.tools,
          spoolDir: this.deps.spoolDir,
          rewriteDefiners: restore.rewriteDefiners,
          onProgress: (p) => (progress = p.storedBytes),
          onDatabaseCreated: async () =>
            void (await this.#records.write("note the created database", () => prisma.restore.updateMany({ where: { id }, data: { createdDatabase: true } }), {
              signal: controller.signal,
            })),
          onTargetState: async (report) =>
            void (await this.#records.write("note the target's state", () => prisma.restore.updateMany({ where: { id }, data: targetColumns(report) }), {
              signal: controller.signal,
            })),
        },
      ).finally(() => Promise.all([release(pin), atTime?.discard()]));
      if (restoreStop(restore) && !atTime) await this.#replay(restore, backup, server, conn, resolved.target, controller.signal, log);
      log.info({ server: server.name, restoreMs: outcome.restoreMs }, "restore finished");
      ended = {
        status: "SUCCEEDED",
        data: {
          rawBytes: BigInt(outcome.rawBytes),
          progressBytes: BigInt(outcome.storedBytes),
          sha256: outcome.sha256,
          logTail: outcome.stderrTail.slice(-4000) || null,
          ...targetColumns(outcome.target),
        },
      };
    } catch (caught) {
      await release(pin);
      const error = toRestoreError(caught, controller.signal);
      if (error.reason === "CHECKSUM_MISMATCH" && artifactId !== null) {
        const corruptId = artifactId;
        await this.#records
          .write("mark the artifact corrupt", () => markCorrupt(prisma, corruptId, error.message.split(";")[0]!, error))
          .catch((e: unknown) => log.warn({ err: e }, "could not mark the artifact corrupt"));
      }
      // A target the restore has changed is a failure to look at, even when a cancel asked for it.
      const target: TargetReport = error.target ?? { state: "UNTOUCHED", detail: `${JSON.stringify(restore.database)} was not changed` };
      const status = error.reason === "CANCELLED" && target.state === "UNTOUCHED" ? "CANCELLED" : "FAILED";
      const message = error.target ? error.message : `${error.message}; ${target.detail}`;
      log.warn({ reason: error.reason, err: message, targetState: target.state }, "restore failed");
      ended = { status, data: { error: message, logTail: error.stderrTail.slice(-4000) || null, ...targetColumns(target) } };
    } finally {
      this.#active.delete(id);
    }
    // The outcome is final: recorded once the metadata database takes it; the heartbeat keeps the lease meanwhile.
    try {
      await this.#finish(restore, ended.status, ended.data);
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * A point-in-time restore's second step: the archived binlog replayed over the restored dump,
   * from the dump's exact position to the restore's time, GTID or position, in one mariadb-binlog | mariadb session.
   * The archive is read from the backup's own storage target (PITR targets are usually the same).
   */
  async #replay(restore: Restore, backup: Backup, server: Server, conn: ServerConnection, target: StorageTarget, signal: AbortSignal, log: Logger) {
    const { prisma } = this.deps;
    if (backup.serverId === null) throw new RestoreError("CONFIGURATION", "the backup's server was deleted, and its binlog archive with it");
    let plan;
    try {
      const { archives, streamBrokenReason } = await archivesOf(prisma, backup.serverId);
      plan = planReplay(archives, backup.position as DumpPosition, restoreStop(restore)!, { force: restore.pointInTimeForce, streamBrokenReason });
    } catch (error) {
      throw error instanceof PitrRefusedError
        ? new RestoreError("CONFIGURATION", `point-in-time replay refused: ${error.message}`, {
            target: { state: "INCOMPLETE", detail: `${JSON.stringify(restore.database)} holds the dump only, without the binlog replay` },
          })
        : error;
    }
    const targets = await prisma.storageTarget.findMany({ where: { id: { in: [...new Set(plan.files.flatMap((f) => f.storageTargetIds as number[]))] } } });
    const store = this.deps.storeFor(targets.find((t) => t.id === target.id) ?? targets[0] ?? target);
    log.info({ files: plan.files.length, from: `${plan.startFile}:${plan.startPosition}`, to: describeStop(plan.stop) }, "replaying the binlog");
    await replayBinlogs(
      plan,
      store,
      { conn, database: restore.database, sourceDatabase: restore.sourceDatabase, sameServer: server.id === backup.serverId },
      { signal, decryption: await archiveDecryption(prisma, this.deps.secrets) },
    ).catch((error: Error) => {
      throw new RestoreError("CLIENT_FAILED", `point-in-time replay failed: ${error.message}`, {
        target: { state: "INCOMPLETE", detail: `${JSON.stringify(restore.database)} holds the dump and part of the binlog replay` },
      });
    });
  }

  async #load(restore: Restore, credentials: RestoreCredentials | undefined) {
    const { prisma, secrets } = this.deps;
    const backup = restore.backupId === null ? null : await prisma.backup.findUnique({ where: { id: restore.backupId }, include: { artifacts: true } });
    if (!backup) throw new RestoreError("CONFIGURATION", "the backup record was deleted before the restore started");
    const server = restore.serverId === null ? null : await prisma.server.findUnique({ where: { id: restore.serverId } });
    if (!server) throw new RestoreError("CONFIGURATION", "the server was deleted before the restore started");
    const conn = connectionOf(server, secrets);
    if (restore.restoreUser === null) return { backup, server, conn };
    if (!credentials || credentials.username !== restore.restoreUser)
      throw new RestoreError(
        "CONFIGURATION",
        `the password for restoring as ${restore.restoreUser} was held only by the process that accepted the restore, which no longer runs it: start the restore again`,
      );
    return { backup, server, conn: { ...conn, username: credentials.username, password: credentials.password } };
  }

  /** Records the end, retrying through an outage of the metadata database; a row settled elsewhere keeps that verdict. */
  async #finish(restore: Restore, status: RestoreEnd, data: RestoreEndData): Promise<void> {
    const finishedAt = new Date();
    const startedAt = restore.startedAt ?? finishedAt;
    const { count } = await this.#records.write(
      "record the restore's outcome",
      () =>
        this.deps.prisma.restore.updateMany({
          where: { id: restore.id, status: "RUNNING" },
          data: { ...data, status, finishedAt, durationMs: finishedAt.getTime() - startedAt.getTime() },
        }),
      { fields: { restoreId: restore.id } },
    );
    if (count !== 1) return;
    this.deps.events.emit({ type: "RESTORE_STATUS", restoreId: restore.id, status, serverName: restore.serverName, database: restore.database });
  }
}

/** The replay target recorded on a restore: a time, a GTID or a binlog position; null for a dump alone. */
export function restoreStop(restore: Pick<Restore, "pointInTime" | "stopAtGtid" | "stopAtPosition">): ReplayStop | null {
  if (restore.pointInTime) return { at: restore.pointInTime };
  if (restore.stopAtGtid) return { gtid: restore.stopAtGtid };
  if (restore.stopAtPosition) return parseBinlogPosition(restore.stopAtPosition);
  return null;
}
