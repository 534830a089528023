import type { PrismaClient } from "../db/client.ts";
import type { Backup, BackupArtifact, PitrCheckpoint, RestoreDrill, Server } from "../db/generated/client.ts";
import { archivesOf, PitrRefusedError, planReplay, positionBefore, replayBinlogs, type DumpPosition } from "../pitr/replay.ts";
import { withArtifactPin } from "../retention/artifact-pins.ts";
import { connectionOf } from "../runner/connection-of.ts";
import { captureTableStats } from "../runner/table-stats.ts";
import { binlogSequence } from "../pitr/binlog-file.ts";
import { resolveArtifact } from "./backup-source.ts";
import { checkpointDrillResult, recordDrillEnd, type DrillResult, type DrillRunnerDeps } from "./drill-runner.ts";
import { pickPgPitrPoint } from "./pg-pitr-drill.ts";
import { restoreArtifact } from "./restore-artifact.ts";
import { archiveDecryption } from "../pitr/archive-crypto.ts";

/** A checkpoint's binlog position. */
const at = (c: Pick<PitrCheckpoint, "binlogFile" | "binlogPosition">) => ({ file: c.binlogFile, position: Number(c.binlogPosition) });

/**
 * The point a point-in-time drill of `database` on source server `serverId` restores to: a random
 * row-count checkpoint (or `checkpointId`) after the oldest dump with an exact position and within
 * the archived binlog, with the newest dump before it. Null when there is none. The chain between
 * them is not checked here: a break fails the drill, saying where. PostgreSQL: pickPgPitrPoint.
 */
export async function pickPitrPoint(
  prisma: PrismaClient,
  serverId: number,
  database: string,
  options: { checkpointId?: number | null; random?: () => number } = {},
): Promise<{ checkpoint: PitrCheckpoint; dump: Backup } | null> {
  const source = await prisma.server.findUnique({ where: { id: serverId }, select: { engine: true } });
  if (source?.engine === "POSTGRESQL") return pickPgPitrPoint(prisma, serverId, database, options);
  const [checkpoints, dumps, archives] = await Promise.all([
    prisma.pitrCheckpoint.findMany({ where: { serverId, database, ...(options.checkpointId ? { id: options.checkpointId } : {}) } }),
    prisma.backup.findMany({ where: { serverId, database, status: { in: ["SUCCEEDED", "PARTIAL"] } }, orderBy: { finishedAt: "desc" } }),
    prisma.pitrArchive.findMany({ where: { serverId }, select: { file: true, endPosition: true } }),
  ]);
  const positioned = dumps.filter((d) => (d.position as DumpPosition | null)?.binlogFile !== undefined);
  const dumpOf = (c: PitrCheckpoint) =>
    positioned.find((d) => {
      const p = d.position as DumpPosition;
      return !positionBefore(at(c), { file: p.binlogFile!, position: p.binlogPosition! });
    });
  const newest = Math.max(...archives.map((a) => binlogSequence(a.file)!));
  const archived = (c: PitrCheckpoint) => {
    const seq = binlogSequence(c.binlogFile)!;
    const file = archives.find((a) => a.file === c.binlogFile);
    return seq < newest || (file !== undefined && Number(file.endPosition) >= Number(c.binlogPosition));
  };
  const candidates = checkpoints.filter((c) => archived(c) && dumpOf(c));
  if (!candidates.length) return null;
  const checkpoint = candidates[Math.floor((options.random ?? Math.random)() * candidates.length)]!;
  return { checkpoint, dump: dumpOf(checkpoint)! };
}

/**
 * Runs a recorded point-in-time drill: the dump restored into the scratch database, the archived
 * binlog replayed from the dump's exact position to the checkpoint's, the row count of every table
 * compared with the checkpoint's (one consistent snapshot of the source at that position), the
 * scratch database dropped, the outcome recorded with the restore-plus-replay time (RTO). A chain
 * broken between the dump and the checkpoint fails the drill with the planner's reason. Never throws.
 */
export async function executePitrDrill(
  deps: DrillRunnerDeps,
  drill: RestoreDrill,
  backup: Backup & { artifacts: BackupArtifact[] },
  server: Server,
  checkpoint: PitrCheckpoint | null,
  signal: AbortSignal,
): Promise<RestoreDrill> {
  const { prisma } = deps;
  const conn = connectionOf(server, deps.secrets);
  let result: DrillResult;
  let restored = false;
  try {
    if (!checkpoint) throw new Error("the drill's row-count checkpoint was deleted (its binlog is no longer archived)");
    if (backup.serverId === null) throw new Error("the backup's server was deleted, and its binlog archive with it");
    const { archives, streamBrokenReason } = await archivesOf(prisma, backup.serverId);
    let plan;
    try {
      plan = planReplay(archives, backup.position as DumpPosition, at(checkpoint), { streamBrokenReason });
    } catch (error) {
      throw error instanceof PitrRefusedError ? new Error(`point-in-time drill refused: ${error.message}`) : error;
    }
    const started = Date.now();
    const { artifact, source, target } = await resolveArtifact(prisma, deps.storeFor, backup, null, deps.secrets);
    const outcome = await withArtifactPin(prisma, artifact.id, { kind: "DRILL", id: drill.id }, { instanceId: deps.instanceId }, () =>
      restoreArtifact(source, { conn, database: drill.scratchDatabase, mode: "create" }, { signal, tools: deps.tools, spoolDir: deps.spoolDir }),
    );
    restored = true;
    const ids = [...new Set(plan.files.flatMap((f) => f.storageTargetIds as number[]))];
    const targets = await prisma.storageTarget.findMany({ where: { id: { in: ids } } });
    const store = deps.storeFor(targets.find((t) => t.id === target.id) ?? targets[0] ?? target);
    await replayBinlogs(
      plan,
      store,
      { conn, database: drill.scratchDatabase, sourceDatabase: backup.database, sameServer: server.id === backup.serverId },
      { signal, decryption: await archiveDecryption(prisma, deps.secrets) },
    ).catch((error: Error) => {
      throw new Error(`the binlog replay failed: ${error.message}`);
    });
    const restoreMs = Date.now() - started;
    result = checkpointDrillResult(
      checkpoint,
      await captureTableStats(conn, drill.scratchDatabase),
      `row counts compared with checkpoint ${checkpoint.id}: one consistent snapshot of the source at ${checkpoint.binlogFile}:${checkpoint.binlogPosition} (${checkpoint.takenAt.toISOString()}), restored from backup ${backup.id} plus ${plan.files.length} binlog file(s) replayed`,
      { restoreMs, bytes: outcome.storedBytes },
    );
  } catch (error) {
    result = { status: "FAILED", details: null, error: (error as Error).message, restoreMs: null, bytes: null };
  }
  return recordDrillEnd(deps, drill, backup, conn, result, restored);
}
