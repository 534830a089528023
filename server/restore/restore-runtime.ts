import type { AuditLog } from "../audit/audit-log.ts";
import type { PrismaClient } from "../db/client.ts";
import type { StorageTarget } from "../db/generated/client.ts";
import type { Logger } from "../observability/logger.ts";
import type { InterruptedWork } from "../recovery/interrupted-work.ts";
import type { BackupEvents } from "../runner/events.ts";
import type { Clock } from "../scheduler/clock.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { DrillsService } from "./drills.service.ts";
import { RestoreEvents } from "./events.ts";
import { RestoreJobs } from "./restore-job.ts";
import type { RestoreTools } from "./restore-tools.ts";
import { RestoresService } from "./restores.service.ts";
import { VerificationService } from "./verification.service.ts";

/** The shared pieces the restore side is built on (from createRuntime). */
export type RestoreRuntimeDeps = {
  prisma: PrismaClient;
  secrets: SecretBox;
  storeFor: (target: StorageTarget) => ArtifactStore;
  audit: AuditLog;
  /** Drills follow successful backups through these events. */
  backupEvents: BackupEvents;
  logger: Logger;
  clock: Clock;
  instanceId: string;
  heartbeatMs: number;
  /** How often each stored artifact is re-read (SQLGUARD_VERIFY_INTERVAL_SECONDS); 0 = never. */
  verifyIntervalMs: number;
  /** Replaceable in tests; the client programs on this machine otherwise. */
  tools?: RestoreTools;
  /** Where PARALLEL artifacts are unpacked before loading. */
  spoolDir?: string;
  /** Settles interrupted restores (at start, in the lease sweep, on cancel). */
  interrupted: InterruptedWork;
  /** The work queue: `claims` false on an `api` instance; restores run at once per instance; the cluster cap. */
  queue?: { claims?: boolean; maxConcurrent?: number; clusterMax?: number };
  /** The restore events, when the caller shares them (InterruptedWork announces settled restores). */
  events?: RestoreEvents;
};

/** Restores, verification and drills, wired; nothing runs in the background until `start`. */
export type RestoreRuntime = {
  restores: RestoresService;
  verification: VerificationService;
  drills: DrillsService;
  jobs: RestoreJobs;
  /** Restore, VERIFIED and DRILL_FINISHED events, for metrics and webhooks. */
  events: RestoreEvents;
  /** At start: settles restores a previous process left running and drops the databases they created; returns how many. */
  recover(): Promise<number>;
  /** Starts the periodic verification and the drill-cron check. */
  start(): void;
  /** Stops them and whatever restore or drill runs here. */
  stop(): Promise<void>;
};

/** Builds the restore side of SQLGuard over the shared Prisma client, stores and backup events. */
export function createRestoreRuntime(deps: RestoreRuntimeDeps): RestoreRuntime {
  const events = deps.events ?? new RestoreEvents();
  const { prisma, secrets, storeFor, logger, audit, clock, instanceId, tools, spoolDir } = deps;
  const jobs = new RestoreJobs({ prisma, secrets, storeFor, events, logger, instanceId, heartbeatMs: deps.heartbeatMs, tools, spoolDir, ...deps.queue });
  const restores = new RestoresService({ prisma, secrets, storeFor, audit, jobs, instanceId, interrupted: deps.interrupted });
  const verification = new VerificationService({
    prisma,
    storeFor,
    audit,
    events,
    logger,
    clock,
    intervalMs: deps.verifyIntervalMs,
    instanceId,
    claims: deps.queue?.claims,
  });
  const drills = new DrillsService({ prisma, secrets, storeFor, events, logger, tools, audit, clock, instanceId, spoolDir, claims: deps.queue?.claims });
  deps.backupEvents.on((event) => drills.onBackupEvent(event));
  return {
    restores,
    verification,
    drills,
    jobs,
    events,
    recover: async () => (await deps.interrupted.recoverRestores()).length,
    start() {
      // The periodic re-reads are work: an `api` instance leaves them to the instances that run jobs.
      if (deps.queue?.claims !== false) verification.start();
      drills.start();
    },
    async stop() {
      await verification.stop();
      await drills.stop();
      await jobs.stop();
    },
  };
}
