import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import type { PrismaClient } from "../db/client.ts";
import type { BackupWithArtifacts } from "../db/backups.repository.ts";
import type { StorageTarget } from "../db/generated/client.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { applyDeletion, type SweepCounts } from "../retention/apply-deletion.ts";
import { ArtifactPinnedError, describePins, livePins } from "../retention/artifact-pins.ts";
import type { BackupEvents } from "../runner/events.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";

export type DeleteBackupDeps = { prisma: PrismaClient; storeFor: (target: StorageTarget) => ArtifactStore; events: BackupEvents; audit: AuditLog };

const KEEPERS = new Set(["SUCCEEDED", "PARTIAL"]);

/**
 * deleteBackup (admin): removes a finished backup's artifacts and manifests from every target it
 * is on, as a retention sweep would (storage first, then the records), and marks the backup
 * DELETED; the record stays in the history. A running backup must be cancelled first, and one a
 * restore, drill or verification is reading (pinned) is refused with CONFLICT until they are done.
 * A storage failure leaves the records of that copy as they were and fails the call with its reason.
 */
export async function deleteBackup(deps: DeleteBackupDeps, principal: Principal, id: number): Promise<BackupWithArtifacts> {
  requireRole(principal, "ADMIN");
  const { prisma } = deps;
  const backup = await prisma.backup.findUnique({ where: { id }, include: { artifacts: true } });
  if (!backup) throw new NotFoundError("backup", id);
  if (backup.status === "PENDING" || backup.status === "RUNNING")
    throw new ConflictError("id", `backup ${id} is ${backup.status.toLowerCase()}: cancel it first`);
  const pins = await livePins(
    prisma,
    backup.artifacts.map((a) => a.id),
  );
  if (pins.length) throw pinnedConflict(id, pins);
  const targets = new Map((await prisma.storageTarget.findMany()).map((t) => [t.id, t]));
  const counts: SweepCounts = { artifactsDeleted: 0, backupsDeleted: 0, recordsRemoved: 0 };
  const keeper = KEEPERS.has(backup.status);
  for (const artifact of backup.artifacts) {
    if (artifact.status === "DELETED" || artifact.storageTargetId === null) continue;
    // A pin taken since the check above still wins: the claim inside applyDeletion refuses.
    await applyDeletion(
      { prisma, storeFor: deps.storeFor, events: deps.events, targets, now: new Date() },
      artifact.storageTargetId,
      {
        backupId: id,
        status: backup.status,
        effectiveStatus: backup.status,
        createdAt: backup.createdAt,
        startedAt: backup.startedAt,
        action: "DELETE",
        reasons: [`deleted by ${actorName(principal)}`],
        kind: keeper && artifact.status === "STORED" ? "ARTIFACT" : "LEFTOVER",
        artifact: { id: artifact.id, key: artifact.key, status: artifact.status },
      },
      counts,
    ).catch((error: unknown) => {
      throw error instanceof ArtifactPinnedError ? pinnedConflict(id, error.pins) : error;
    });
  }
  // A failed or cancelled run has no copy to lose its status over: it is marked here.
  const { count } = await prisma.backup.updateMany({ where: { id, status: { notIn: ["DELETED", "PENDING", "RUNNING"] } }, data: { status: "DELETED" } });
  if (count) deps.events.emit({ type: "STATUS", backupId: id, status: "DELETED" });
  await deps.audit.record(
    actorName(principal),
    "backup.delete",
    "Backup",
    id,
    { status: backup.status, database: backup.database, server: backup.serverName },
    { status: "DELETED", artifactsDeleted: counts.artifactsDeleted },
  );
  return prisma.backup.findUniqueOrThrow({ where: { id }, include: { artifacts: true } });
}

function pinnedConflict(id: number, pins: Parameters<typeof describePins>[0]): ConflictError {
  return new ConflictError("id", `backup ${id} is being read by ${describePins(pins)}: delete it once that has finished`);
}
