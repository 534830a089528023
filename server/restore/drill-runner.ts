import crypto from "node:crypto";
import type { PrismaClient } from "../db/client.ts";
import type { Backup, BackupArtifact, PitrCheckpoint, RestoreDrill, Server, StorageTarget } from "../db/generated/client.ts";
import { checkpointRows } from "../pitr/checkpoints.ts";
import type { Logger } from "../observability/logger.ts";
import { withArtifactPin } from "../retention/artifact-pins.ts";
import { connectionOf } from "../runner/connection-of.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { markCorrupt, resolveArtifact } from "./backup-source.ts";
import { compareDrill, type DrillComparison } from "./drill-compare.ts";
import { DumpRowCounter } from "./dump-rows.ts";
import { countSpooledRows } from "./spooled-rows.ts";
import { toRestoreError } from "./errors.ts";
import type { RestoreEvents } from "./events.ts";
import { restoreArtifact } from "./restore-artifact.ts";
import type { RestoreTools } from "./restore-tools.ts";
import { captureTableStats, parseTableStats, type CountedStats, type TableStats } from "../runner/table-stats.ts";
import { dropDatabase } from "./target-database.ts";

/** What running a drill needs. */
export type DrillRunnerDeps = {
  prisma: PrismaClient;
  secrets: SecretBox;
  storeFor: (target: StorageTarget) => ArtifactStore;
  events: RestoreEvents;
  logger: Logger;
  tools?: RestoreTools;
  /** Where PARALLEL artifacts are unpacked. */
  spoolDir?: string;
  /** Pins the artifact while the drill reads it. */
  instanceId: string;
};

/** A scratch database name no one else uses: `sqlguard_drill_<backup id>_<random>`. */
export function scratchName(backupId: number): string {
  return `sqlguard_drill_${backupId}_${crypto.randomBytes(4).toString("hex")}`;
}

/**
 * Runs a recorded (RUNNING) drill: restores the backup into its scratch database on the
 * verification server (checksum verified on the way) while counting the dump's own rows per
 * table, compares the result with those counts and with the tables and objects captured at dump
 * time (or the live source's, when none were captured: said so in the details), drops the scratch
 * database, and records PASSED or FAILED with the restore time (RTO). Never throws.
 */
export async function executeDrill(
  deps: DrillRunnerDeps,
  drill: RestoreDrill,
  backup: Backup & { artifacts: BackupArtifact[] },
  server: Server,
  signal: AbortSignal,
): Promise<RestoreDrill> {
  const { prisma } = deps;
  const conn = connectionOf(server, deps.secrets);
  let result: DrillResult;
  let restored = false;
  try {
    const { artifact, source } = await resolveArtifact(prisma, deps.storeFor, backup, null, deps.secrets);
    // The dump's own rows, counted as they stream into the scratch database: the baseline for row counts.
    const counter = new DumpRowCounter(backup.engine === "POSTGRESQL" ? "pg" : "mysql");
    let outcome;
    try {
      // Pinned while read, so retention cannot delete it under the drill.
      outcome = await withArtifactPin(prisma, artifact.id, { kind: "DRILL", id: drill.id }, { instanceId: deps.instanceId }, () =>
        restoreArtifact(
          source,
          { conn, database: drill.scratchDatabase, mode: "create" },
          {
            signal,
            tools: deps.tools,
            spoolDir: deps.spoolDir,
            onRawChunk: (chunk) => counter.write(chunk),
            onUnpacked: (dir, members) => countSpooledRows(counter, backup.engine === "POSTGRESQL" ? "pg" : "mysql", dir, members, deps.tools),
          },
        ),
      );
    } catch (caught) {
      const error = toRestoreError(caught, signal);
      if (error.reason === "CHECKSUM_MISMATCH") await markCorrupt(prisma, artifact.id, error.message.split(";")[0]!, error);
      throw error;
    }
    restored = true;
    const actual = await captureTableStats(conn, drill.scratchDatabase);
    const details = await compareWithBaseline(deps, backup, counter.rows, actual);
    result = {
      status: details.passed ? "PASSED" : "FAILED",
      details,
      error: details.problems.join("; ") || null,
      restoreMs: outcome.restoreMs,
      bytes: outcome.storedBytes,
    };
  } catch (error) {
    result = { status: "FAILED", details: null, error: (error as Error).message, restoreMs: null, bytes: null };
  }
  return recordDrillEnd(deps, drill, backup, conn, result, restored);
}

/** A drill's outcome, as recordDrillEnd records it. */
export type DrillResult = {
  status: "PASSED" | "FAILED";
  details: DrillComparison | null;
  error: string | null;
  restoreMs: number | null;
  bytes: number | null;
};

/**
 * The outcome of a point-in-time drill: the restored database's tables (`actual`) against the row
 * counts of its checkpoint, with `note` saying how the point was reached.
 */
export function checkpointDrillResult(
  checkpoint: PitrCheckpoint,
  actual: CountedStats,
  note: string,
  figures: { restoreMs: number; bytes: number | null },
): DrillResult {
  const compared = compareDrill({ dumpRows: checkpointRows(checkpoint), schema: null, baseline: "CHECKPOINT", actual });
  const details = { ...compared, problems: compared.problems.map((p) => p.replace("the dump holds", "the checkpoint recorded")), notes: [note] };
  return { status: details.passed ? "PASSED" : "FAILED", details, error: details.problems.join("; ") || null, ...figures };
}

/**
 * Drops the drill's scratch database (on `conn`; null when the drill restored nothing into a
 * server), records its outcome and emits DRILL_FINISHED. A drill another instance's sweep settled
 * meanwhile (its lease lapsed: FAILED, interrupted) keeps that outcome; its row is returned as it
 * stands and nothing is announced twice.
 */
export async function recordDrillEnd(
  deps: DrillRunnerDeps,
  drill: RestoreDrill,
  backup: Backup,
  conn: ReturnType<typeof connectionOf> | null,
  result: DrillResult,
  restored: boolean,
): Promise<RestoreDrill> {
  const { prisma } = deps;
  const log = deps.logger.child({ component: "drill", drillId: drill.id, backupId: backup.id });
  // restoreArtifact already dropped a database it created for a restore that failed.
  const dropped =
    conn === null ||
    (await dropDatabase(conn, drill.scratchDatabase).then(
      () => true,
      (error: unknown) => (log.warn({ err: error, scratch: drill.scratchDatabase }, "could not drop the scratch database"), !restored),
    ));
  const finishedAt = new Date();
  const { count } = await prisma.restoreDrill.updateMany({
    where: { id: drill.id, status: "RUNNING" },
    data: {
      status: result.status,
      baseline: result.details?.baseline ?? null,
      details: (result.details ?? undefined) as object | undefined,
      error: result.error,
      restoreMs: result.restoreMs,
      restoredBytes: result.bytes === null ? null : BigInt(result.bytes),
      finishedAt,
      durationMs: finishedAt.getTime() - drill.startedAt.getTime(),
      scratchDropped: dropped,
    },
  });
  const row = await prisma.restoreDrill.findUniqueOrThrow({ where: { id: drill.id } });
  if (count !== 1) {
    log.warn({ status: row.status, outcome: result.status }, "the drill was settled meanwhile (its lease lapsed); its outcome here is not recorded");
    return dropped && !row.scratchDropped ? prisma.restoreDrill.update({ where: { id: drill.id }, data: { scratchDropped: true } }) : row;
  }
  log[result.status === "PASSED" ? "info" : "warn"]({ status: result.status, restoreMs: result.restoreMs, err: result.error }, "restore drill finished");
  deps.events.emit({
    type: "DRILL_FINISHED",
    drillId: row.id,
    backupId: backup.id,
    sourceServerName: backup.serverName,
    // The drill's database: a PostgreSQL point-in-time drill starts from the "(cluster)" base backup.
    database: drill.database,
    status: result.status,
    restoreMs: result.restoreMs,
    error: result.error,
  });
  return row;
}

/**
 * Rows against the dump itself; tables and objects against those captured at dump time if the
 * backup has them, else the live source now (names only: nothing is counted on the source), else
 * nothing.
 */
async function compareWithBaseline(
  deps: DrillRunnerDeps,
  backup: Backup,
  dumpRows: ReadonlyMap<string, number>,
  actual: CountedStats,
): Promise<DrillComparison> {
  const captured = parseTableStats(backup.tableStats);
  if (captured) return compareDrill({ dumpRows, schema: captured, baseline: "CAPTURED", actual });
  const source = backup.serverId === null ? null : await deps.prisma.server.findUnique({ where: { id: backup.serverId } });
  if (!source)
    return compareDrill({ dumpRows, schema: null, baseline: "NONE", why: "none were captured at dump time and the source server was deleted", actual });
  let live: TableStats;
  try {
    live = await captureTableStats(connectionOf(source, deps.secrets), backup.database, { countRows: false });
  } catch (error) {
    const why = `none were captured at dump time and the source could not be read (${(error as Error).message})`;
    return compareDrill({ dumpRows, schema: null, baseline: "NONE", why, actual });
  }
  return compareDrill({ dumpRows, schema: live, baseline: "LIVE_SOURCE", actual });
}
