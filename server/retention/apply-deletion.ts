import type { PrismaClient } from "../db/client.ts";
import type { StorageTarget } from "../db/generated/client.ts";
import { MANIFEST_SUFFIX } from "../runner/artifact-key.ts";
import type { BackupEvents } from "../runner/events.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { claimForDeletion, releaseClaim } from "./artifact-pins.ts";
import type { PlannedItem } from "./sweep-plan.ts";

/** Counters a sweep keeps while it applies deletions. */
export type SweepCounts = { artifactsDeleted: number; backupsDeleted: number; recordsRemoved: number };

/** What applying one deletion needs: the enabled targets by id, and the time to stamp. */
export type ApplyDeps = {
  prisma: PrismaClient;
  storeFor: (target: StorageTarget) => ArtifactStore;
  events: BackupEvents;
  targets: Map<number, StorageTarget>;
  now: Date;
};

/**
 * Applies one DELETE decision. Storage first, records after: the object and its manifest are
 * deleted (a missing object is fine), then the artifact becomes DELETED, then the backup becomes
 * DELETED if no copy is left (ARTIFACT, LEFTOVER) or its row is removed (RECORD: a failed run,
 * once every leftover is gone). Every record change is conditional on the state it was planned
 * from. The artifact is claimed first: one a restore, verification or drill has pinned is left
 * alone (ArtifactPinnedError). Throws the store's error, leaving that record as it was (and
 * unclaimed), so the next sweep retries.
 */
export async function applyDeletion(deps: ApplyDeps, storageTargetId: number, item: PlannedItem, counts: SweepCounts): Promise<void> {
  if (item.kind === "RECORD") return removeRecord(deps, item.backupId, counts);
  const artifact = item.artifact;
  if (!artifact) return;
  await removeClaimed(deps, artifact.id, () => removeObjects(deps, storageTargetId, artifact.key, item.kind === "LEFTOVER"));
  const { count } = await deps.prisma.backupArtifact.updateMany({
    where: { id: artifact.id, status: artifact.status as "STORED" | "FAILED" | "PENDING" },
    data: { status: "DELETED", deletedAt: deps.now },
  });
  counts.artifactsDeleted += count;
  await finalizeBackup(deps, item.backupId, counts);
}

/** A FAILED / CANCELLED / SKIPPED run: its leftovers on every target, then its row. */
async function removeRecord(deps: ApplyDeps, backupId: number, counts: SweepCounts): Promise<void> {
  const artifacts = await deps.prisma.backupArtifact.findMany({ where: { backupId, status: { not: "DELETED" } } });
  for (const a of artifacts) {
    // A deleted target took its objects with it; nothing is left to clean there.
    const targetId = a.storageTargetId;
    if (targetId !== null) await removeClaimed(deps, a.id, () => removeObjects(deps, targetId, a.key, true));
    counts.artifactsDeleted += (
      await deps.prisma.backupArtifact.updateMany({ where: { id: a.id, status: a.status }, data: { status: "DELETED", deletedAt: deps.now } })
    ).count;
  }
  const { count } = await deps.prisma.backup.deleteMany({ where: { id: backupId, status: { in: ["FAILED", "CANCELLED", "SKIPPED"] } } });
  counts.recordsRemoved += count;
}

/** Marks a SUCCEEDED / PARTIAL backup DELETED once none of its artifacts is STORED or PENDING. */
async function finalizeBackup(deps: ApplyDeps, backupId: number, counts: SweepCounts): Promise<void> {
  const left = await deps.prisma.backupArtifact.count({ where: { backupId, status: { in: ["STORED", "PENDING"] } } });
  if (left > 0) return;
  const { count } = await deps.prisma.backup.updateMany({ where: { id: backupId, status: { in: ["SUCCEEDED", "PARTIAL"] } }, data: { status: "DELETED" } });
  counts.backupsDeleted += count;
  if (count) deps.events.emit({ type: "STATUS", backupId, status: "DELETED" });
}

/** Claims the artifact (refused while pinned), then removes its objects; a failure gives the claim back. */
async function removeClaimed(deps: ApplyDeps, artifactId: number, remove: () => Promise<void>): Promise<void> {
  if (!(await claimForDeletion(deps.prisma, artifactId))) return;
  try {
    await remove();
  } catch (error) {
    await releaseClaim(deps.prisma, artifactId).catch(() => {});
    throw error;
  }
}

/** Deletes an artifact then its manifest (and, for leftovers, an interrupted upload's partial). */
async function removeObjects(deps: ApplyDeps, storageTargetId: number, key: string, withPartial: boolean): Promise<void> {
  const target = deps.targets.get(storageTargetId);
  if (!target) throw new Error(`storageTargetId: storage target ${storageTargetId} is disabled; its objects stay until it is enabled again`);
  const store = deps.storeFor(target);
  if (withPartial) await store.discard(key);
  await store.delete(key);
  await store.delete(key + MANIFEST_SUFFIX);
}
