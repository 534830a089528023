import type { PrismaClient } from "../db/client.ts";
import type { Restore, StorageTarget } from "../db/generated/client.ts";
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
import { dropDatabase } from "./target-database.ts";
import type { TargetReport } from "./target-state.ts";

/** What running restores in the background needs. */
export type RestoreJobDeps = {
  prisma: PrismaClient;
  secrets: SecretBox;
  storeFor: (target: StorageTarget) => ArtifactStore;
  events: RestoreEvents;
  logger: Logger;
  instanceId: string;
  /** How often a running restore saves its progress and looks for a cancel request. */
  heartbeatMs: number;
  /** Replaceable in tests; the programs on this machine otherwise. */
  tools?: RestoreTools;
  /** How long the artifact's pin lasts unrenewed (default PIN_TTL_MS). */
  pinTtlMs?: number;
};

/**
 * Runs recorded restores in the background on this instance: PENDING → RUNNING (conditional, so
 * one instance wins), progress and cancel checks at each heartbeat, then SUCCEEDED / FAILED /
 * CANCELLED with timings, bytes and the reason. The artifact is pinned from before its first read
 * to after its last, so retention cannot delete it under the restore. What the target database is
 * left as is saved before each risky step and at the end (targetState / targetDetail).
 * A checksum mismatch also marks the artifact CORRUPT.
 */
export class RestoreJobs {
  readonly #active = new Map<number, AbortController>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #log: Logger;

  constructor(private readonly deps: RestoreJobDeps) {
    this.#log = deps.logger.child({ component: "restore" });
  }

  /** Starts a PENDING restore in the background; returns at once. */
  start(id: number): void {
    const task = this.#run(id).catch((error: unknown) => this.#log.error({ err: error, restoreId: id }, "restore task crashed"));
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
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
    for (const c of this.#active.values()) c.abort(new RestoreError("INTERRUPTED", "interrupted: SQLGuard was shut down"));
    await this.idle();
  }

  async #run(id: number): Promise<void> {
    const { prisma, events } = this.deps;
    const now = new Date();
    const claimed = await prisma.restore.updateMany({
      where: { id, status: "PENDING" },
      data: { status: "RUNNING", startedAt: now, heartbeatAt: now, instanceId: this.deps.instanceId, progressBytes: 0 },
    });
    if (claimed.count !== 1) return;
    const restore = await prisma.restore.findUniqueOrThrow({ where: { id } });
    events.emit({ type: "RESTORE_STATUS", restoreId: id, status: "RUNNING", serverName: restore.serverName, database: restore.database });
    const log = this.#log.child({ restoreId: id, server: restore.serverName, database: restore.database });
    const controller = new AbortController();
    this.#active.set(id, controller);
    let progress = 0;
    const heartbeat = setInterval(() => {
      void prisma.restore
        .update({ where: { id }, data: { heartbeatAt: new Date(), progressBytes: BigInt(progress) }, select: { cancelRequestedAt: true } })
        .then((r) => r.cancelRequestedAt && controller.abort(new RestoreError("CANCELLED", "cancelled by request")))
        .catch((error: unknown) => log.warn({ err: error }, "restore heartbeat failed"));
    }, this.deps.heartbeatMs);
    let artifactId: number | null = null;
    let pin: PinHandle | null = null;
    // Released once the artifact has been read for the last time, before the result is recorded.
    const release = (held: PinHandle | null) =>
      held?.release().catch((error: unknown) => log.warn({ err: error }, "could not release the artifact's pin; it expires on its own"));
    try {
      const { backup, server, conn } = await this.#load(restore);
      const resolved = await resolveArtifact(prisma, this.deps.storeFor, backup, restore.storageTargetId);
      artifactId = resolved.artifact.id;
      pin = await pinArtifact(prisma, artifactId, { kind: "RESTORE", id }, { instanceId: this.deps.instanceId, ttlMs: this.deps.pinTtlMs }).catch(
        (error: unknown) => {
          throw error instanceof PinRefusedError ? new RestoreError("STORAGE_FAILED", `the artifact cannot be read: ${error.message}`) : error;
        },
      );
      log.info({ backupId: backup.id, overwrite: restore.overwrite }, "restore started");
      const outcome = await restoreArtifact(
        resolved.source,
        { conn, database: restore.database, mode: restore.overwrite ? "overwrite" : "create" },
        {
          signal: controller.signal,
          tools: this.deps.tools,
          onProgress: (p) => (progress = p.storedBytes),
          onDatabaseCreated: async () => void (await prisma.restore.update({ where: { id }, data: { createdDatabase: true } })),
          onTargetState: async (report) => void (await prisma.restore.update({ where: { id }, data: targetColumns(report) })),
        },
      ).finally(() => release(pin));
      await this.#finish(restore, "SUCCEEDED", {
        rawBytes: BigInt(outcome.rawBytes),
        progressBytes: BigInt(outcome.storedBytes),
        sha256: outcome.sha256,
        logTail: outcome.stderrTail.slice(-4000) || null,
        ...targetColumns(outcome.target),
      });
      log.info({ server: server.name, restoreMs: outcome.restoreMs }, "restore finished");
    } catch (caught) {
      await release(pin);
      const error = toRestoreError(caught, controller.signal);
      if (error.reason === "CHECKSUM_MISMATCH" && artifactId !== null) await markCorrupt(prisma, artifactId, error.message.split(";")[0]!);
      // A target the restore has changed is a failure to look at, even when a cancel asked for it.
      const target: TargetReport = error.target ?? { state: "UNTOUCHED", detail: `${JSON.stringify(restore.database)} was not changed` };
      const status = error.reason === "CANCELLED" && target.state === "UNTOUCHED" ? "CANCELLED" : "FAILED";
      const message = error.target ? error.message : `${error.message}; ${target.detail}`;
      log.warn({ reason: error.reason, err: message, targetState: target.state }, "restore failed");
      await this.#finish(restore, status, { error: message, logTail: error.stderrTail.slice(-4000) || null, ...targetColumns(target) });
    } finally {
      clearInterval(heartbeat);
      this.#active.delete(id);
    }
  }

  async #load(restore: Restore) {
    const { prisma, secrets } = this.deps;
    const backup = restore.backupId === null ? null : await prisma.backup.findUnique({ where: { id: restore.backupId }, include: { artifacts: true } });
    if (!backup) throw new RestoreError("CONFIGURATION", "the backup record was deleted before the restore started");
    const server = restore.serverId === null ? null : await prisma.server.findUnique({ where: { id: restore.serverId } });
    if (!server) throw new RestoreError("CONFIGURATION", "the server was deleted before the restore started");
    return { backup, server, conn: connectionOf(server, secrets) };
  }

  async #finish(
    restore: Restore,
    status: "SUCCEEDED" | "FAILED" | "CANCELLED",
    data: Partial<Pick<Restore, "rawBytes" | "progressBytes" | "sha256" | "error" | "logTail" | "targetState" | "targetDetail" | "scratchDatabase">>,
  ): Promise<void> {
    const finishedAt = new Date();
    const startedAt = restore.startedAt ?? finishedAt;
    await this.deps.prisma.restore.update({
      where: { id: restore.id },
      data: { ...data, status, finishedAt, durationMs: finishedAt.getTime() - startedAt.getTime() },
    });
    this.deps.events.emit({ type: "RESTORE_STATUS", restoreId: restore.id, status, serverName: restore.serverName, database: restore.database });
  }

  /**
   * At start: fails the restores this instance left PENDING or RUNNING and those whose instance
   * stopped renewing them, and drops the databases they had created (best effort). Returns how many.
   */
  async recover(leaseMs: number): Promise<number> {
    const { prisma, secrets } = this.deps;
    const stale = new Date(Date.now() - leaseMs);
    const rows = await prisma.restore.findMany({
      where: {
        OR: [
          { instanceId: this.deps.instanceId, status: { in: ["PENDING", "RUNNING"] } },
          { status: "RUNNING", heartbeatAt: { lt: stale } },
        ],
      },
      include: { server: true },
    });
    for (const r of rows) {
      const error = "interrupted: SQLGuard stopped while this restore was running";
      const { count } = await prisma.restore.updateMany({ where: { id: r.id, status: r.status }, data: { status: "FAILED", error, finishedAt: new Date() } });
      if (count !== 1 || !r.server) continue;
      await this.#settleTarget(r, connectionOf(r.server, secrets));
    }
    return rows.length;
  }

  /**
   * An interrupted restore's target: a database it created is dropped, the scratch copy of an
   * overwrite that never reached the swap too; a swap under way is left for a person (its
   * targetDetail, saved before the swap, says what to look for). Records what the target is left as.
   */
  async #settleTarget(r: Restore, conn: ReturnType<typeof connectionOf>): Promise<void> {
    const drop = r.createdDatabase ? r.database : r.targetState === "UNTOUCHED" && r.scratchDatabase ? r.scratchDatabase : null;
    if (drop === null) return;
    const dropped = await dropDatabase(conn, drop).then(
      () => true,
      (e: unknown) => (this.#log.warn({ err: e, restoreId: r.id, database: drop }, "could not drop the database of an interrupted restore"), false),
    );
    const what = r.createdDatabase ? `the new database ${JSON.stringify(drop)}` : `the scratch database ${JSON.stringify(drop)}`;
    const report: TargetReport = dropped
      ? { state: "UNTOUCHED", detail: `${r.createdDatabase ? "" : `${JSON.stringify(r.database)} was not changed; `}${what} was dropped` }
      : { state: r.createdDatabase ? "INCOMPLETE" : "UNTOUCHED", detail: `${what} holds part of the backup and could not be dropped: remove it by hand` };
    await this.deps.prisma.restore.update({ where: { id: r.id }, data: targetColumns(report) });
  }
}

/** The record's columns for a target report (the scratch name only once there is one). */
function targetColumns(report: TargetReport): Pick<Restore, "targetState" | "targetDetail"> & { scratchDatabase?: string | null } {
  return {
    targetState: report.state,
    targetDetail: report.detail,
    ...(report.scratchDatabase !== undefined ? { scratchDatabase: report.scratchDatabase } : {}),
  };
}
