import { archiveDecryption } from "../pitr/archive-crypto.ts";
import type { PrismaClient } from "../db/client.ts";
import type { Backup, PitrCheckpoint, RestoreDrill } from "../db/generated/client.ts";
import { pitrRestoreRoot } from "../pitr/pg/orphan-instances.ts";
import { lsnValue } from "../pitr/pg/pg-checkpoints.ts";
import { startAtTime } from "../pitr/pg/restore-database.ts";
import { PgPitrRefusedError, planPgRestore } from "../pitr/pg/restore-to-time.ts";
import { withArtifactPin } from "../retention/artifact-pins.ts";
import { captureTableStats } from "../runner/table-stats.ts";
import { checkpointDrillResult, recordDrillEnd, type DrillResult, type DrillRunnerDeps } from "./drill-runner.ts";

/**
 * The point a point-in-time drill of PostgreSQL database `database` on source server `serverId`
 * restores to: a random row-count checkpoint (or `checkpointId`) that a base backup and the
 * archived WAL reach without a break, with that base backup (the `(cluster)` backup). Null when
 * there is none.
 */
export async function pickPgPitrPoint(
  prisma: PrismaClient,
  serverId: number,
  database: string,
  options: { checkpointId?: number | null; random?: () => number } = {},
): Promise<{ checkpoint: PitrCheckpoint; dump: Backup } | null> {
  const checkpoints = await prisma.pitrCheckpoint.findMany({
    where: { serverId, database, ...(options.checkpointId ? { id: options.checkpointId } : {}) },
    orderBy: { takenAt: "desc" },
    take: 200,
  });
  const random = options.random ?? Math.random;
  // Tried in random order: the first one a restore can reach is the drill's.
  const order = checkpoints.map((c) => ({ c, k: random() })).sort((a, b) => a.k - b.k);
  for (const { c } of order) {
    const plan = await planPgRestore(prisma, serverId, c.takenAt).catch(() => null);
    if (!plan) continue;
    const dump = await prisma.backup.findUnique({ where: { id: plan.backupId } });
    if (dump) return { checkpoint: c, dump };
  }
  return null;
}

/**
 * Runs a recorded point-in-time drill of a PostgreSQL database: the base backup before the
 * checkpoint restored into a temporary instance (a free loopback port, a private socket), the
 * archived WAL replayed to the checkpoint's LSN (`recovery_target_lsn`), the row count of every
 * table of the database compared with the checkpoint's (one exported snapshot of the source at
 * exactly that LSN), the instance stopped and removed, the outcome recorded with the
 * restore-plus-replay time (RTO). Nothing is written to the drill server. Never throws.
 */
export async function executePgPitrDrill(
  deps: DrillRunnerDeps,
  drill: RestoreDrill,
  backup: Backup,
  checkpoint: PitrCheckpoint | null,
  signal: AbortSignal,
): Promise<RestoreDrill> {
  const { prisma } = deps;
  let result: DrillResult;
  try {
    if (!checkpoint) throw new Error("the drill's row-count checkpoint was deleted (no base backup reaches it any more)");
    if (backup.serverId === null) throw new Error("the backup's server was deleted, and its WAL archive with it");
    const source = await prisma.server.findUnique({ where: { id: backup.serverId } });
    if (!source) throw new Error("the backup's server was deleted, and its WAL archive with it");
    const lsn = checkpoint.binlogFile;
    lsnValue(lsn);
    let plan;
    try {
      plan = { ...(await planPgRestore(prisma, backup.serverId, checkpoint.takenAt)), targetLsn: lsn };
    } catch (error) {
      throw error instanceof PgPitrRefusedError ? new Error(`point-in-time drill refused: ${error.message}`) : error;
    }
    const base = await prisma.backupArtifact.findFirstOrThrow({ where: { backupId: plan.backupId, storageTargetId: plan.baseTargetId } });
    const storeFor = async (id: number) => deps.storeFor(await prisma.storageTarget.findUniqueOrThrow({ where: { id } }));
    const decryption = await archiveDecryption(prisma, deps.secrets);
    const started = Date.now();
    result = await withArtifactPin(prisma, base.id, { kind: "DRILL", id: drill.id }, { instanceId: deps.instanceId }, async () => {
      const instance = await startAtTime(plan, storeFor, pitrRestoreRoot(), `drill-${drill.id}`, { user: source.username, signal, decryption });
      try {
        const restoreMs = Date.now() - started;
        const actual = await captureTableStats(
          { engine: "POSTGRESQL", host: instance.socketDir, port: instance.port, username: source.username, password: null, tls: false },
          checkpoint.database,
        );
        return checkpointDrillResult(
          checkpoint,
          actual,
          `row counts compared with checkpoint ${checkpoint.id}: one exported snapshot of the source at LSN ${lsn} (${checkpoint.takenAt.toISOString()}), restored from base backup ${plan.backupId} plus ${plan.wal.length} WAL file(s) replayed in a temporary instance`,
          { restoreMs, bytes: null },
        );
      } finally {
        await instance.discard();
      }
    });
  } catch (error) {
    result = { status: "FAILED", details: null, error: (error as Error).message, restoreMs: null, bytes: null };
  }
  // Nothing was restored into the drill server: there is no scratch database to drop there.
  return recordDrillEnd(deps, drill, backup, null, result, false);
}
