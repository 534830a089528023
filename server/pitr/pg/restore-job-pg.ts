import type { SecretBox } from "../../secrets/secret-box.ts";
import { archiveDecryption } from "../archive-crypto.ts";
import type { PrismaClient } from "../../db/client.ts";
import type { Backup, Restore, Server, StorageTarget } from "../../db/generated/client.ts";
import type { Logger } from "../../observability/logger.ts";
import { RestoreError } from "../../restore/errors.ts";
import type { ArtifactSource } from "../../restore/restore-artifact.ts";
import type { ArtifactStore } from "../../storage/artifact-store.ts";
import { pitrRestoreRoot } from "./orphan-instances.ts";
import { dumpAtTime } from "./restore-database.ts";
import { PgPitrRefusedError, planPgRestore } from "./restore-to-time.ts";

/**
 * The first step of restoreBackup({ pointInTime }) on a PostgreSQL server: the newest base backup
 * before the time, its WAL replayed to it in a temporary instance on a free port, and
 * `restore.sourceDatabase` dumped from that instance into a file whose SHA-256 is taken as it is
 * written. The instance is stopped and its data directory removed once the dump is complete; the
 * caller restores the dump like any artifact and calls `discard` (which removes the file) in the end.
 */
export async function pgDumpAtTime(
  deps: { prisma: PrismaClient; storeFor(target: StorageTarget): ArtifactStore; secrets: SecretBox },
  restore: Restore,
  backup: Backup,
  server: Server,
  signal: AbortSignal,
  log: Logger,
): Promise<{ source: ArtifactSource; discard(): Promise<void> }> {
  if (backup.serverId === null) throw new RestoreError("CONFIGURATION", "the backup's server was deleted, and its WAL archive with it");
  const storeFor = async (id: number) => deps.storeFor(await deps.prisma.storageTarget.findUniqueOrThrow({ where: { id } }));
  log.info({ at: restore.pointInTime, database: restore.sourceDatabase }, "restoring the cluster to the point in time in a temporary instance");
  try {
    const plan = await planPgRestore(deps.prisma, backup.serverId, restore.pointInTime!, { force: restore.pointInTimeForce });
    const done = await dumpAtTime(storeFor, plan, {
      database: restore.sourceDatabase,
      user: server.username,
      workRoot: pitrRestoreRoot(),
      label: `restore-${restore.id}`,
      signal,
      decryption: await archiveDecryption(deps.prisma, deps.secrets),
    });
    log.info({ baseBackupId: done.plan.backupId, walFiles: done.plan.wal.length, dumpBytes: done.rawBytes }, "the database at the point in time is dumped");
    return done;
  } catch (error) {
    if (signal.aborted) throw signal.reason ?? error;
    const message =
      error instanceof PgPitrRefusedError ? `point-in-time restore refused: ${error.message}` : `point-in-time recovery failed: ${(error as Error).message}`;
    throw new RestoreError("CONFIGURATION", message.slice(0, 3000), {
      target: { state: "UNTOUCHED", detail: `${JSON.stringify(restore.database)} was not changed` },
    });
  }
}
