import type { PrismaClient } from "../db/client.ts";
import type { Backup, BackupArtifact, StorageTarget } from "../db/generated/client.ts";
import { ValidationError } from "../errors.ts";
import { decryptionForArtifact, isEncryptedKey, plainKeyOf } from "../encryption/artifact-decryption.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { ChecksumMismatchError } from "./errors.ts";
import type { ArtifactSource } from "./restore-artifact.ts";

/** Artifact statuses a restore may read: a CORRUPT mark may be stale, and the restore verifies anyway. */
const READABLE = new Set<BackupArtifact["status"]>(["STORED", "CORRUPT"]);

/** The artifact chosen for a restore, its target, and how to read it. */
export type ResolvedArtifact = { artifact: BackupArtifact; target: StorageTarget; source: ArtifactSource };

import { formatOfKey } from "../runner/artifact-key.ts";

export { formatOfKey };

/**
 * The artifact of a successful backup to restore from: the one on `storageTargetId`, or the first
 * STORED one. Throws ValidationError naming `backupId` or `storageTargetId` when there is none.
 * An encrypted artifact (`.age`, Backup.encryption AGE) is opened with the identities this
 * instance holds (`secrets` opens them); its SHA-256 is the copy's own once a rewrap gave it a new header.
 */
export async function resolveArtifact(
  prisma: PrismaClient,
  storeFor: (target: StorageTarget) => ArtifactStore,
  backup: Backup & { artifacts: BackupArtifact[] },
  storageTargetId: number | null | undefined,
  secrets?: SecretBox,
): Promise<ResolvedArtifact> {
  if (!["SUCCEEDED", "PARTIAL"].includes(backup.status) || !backup.sha256) {
    throw new ValidationError("backupId", `backup ${backup.id} is ${backup.status}: only a successful backup can be restored`);
  }
  const candidates = backup.artifacts.filter((a) => a.storageTargetId !== null && READABLE.has(a.status));
  const artifact =
    storageTargetId == null ? (candidates.find((a) => a.status === "STORED") ?? candidates[0]) : candidates.find((a) => a.storageTargetId === storageTargetId);
  if (!artifact) {
    throw new ValidationError(
      storageTargetId == null ? "backupId" : "storageTargetId",
      storageTargetId == null
        ? `backup ${backup.id} has no stored artifact left`
        : `backup ${backup.id} has no stored artifact on storage target ${storageTargetId}`,
    );
  }
  const target = await prisma.storageTarget.findUnique({ where: { id: artifact.storageTargetId! } });
  if (!target) throw new ValidationError("storageTargetId", `storage target ${artifact.storageTargetId} no longer exists`);
  const store = storeFor(target);
  const encrypted = backup.encryption === "AGE" || isEncryptedKey(artifact.key);
  const source: ArtifactSource = {
    open: (signal) => store.get(artifact.key, { signal }),
    sha256: artifact.sha256 ?? backup.sha256,
    compression: backup.compression,
    format: formatOfKey(plainKeyOf(artifact.key)),
    decryption: !encrypted
      ? null
      : secrets
        ? await decryptionForArtifact(prisma, secrets, artifact)
        : { identities: [], noIdentity: () => "this reader holds no identity to open encrypted artifacts" },
  };
  return { artifact, target, source };
}

/**
 * Marks an artifact CORRUPT after a restore or drill read it back with another SHA-256, unless
 * that SHA-256 is the one the copy has now or is being rewrapped to (a rewrap replaced the object
 * while it was read: the restore failed, but the copy is intact). `error`: the restore's failure.
 */
export async function markCorrupt(prisma: PrismaClient, artifactId: number, detail: string, error?: unknown): Promise<void> {
  const actual = mismatchOf(error)?.actual;
  if (actual) {
    const row = await prisma.backupArtifact.findUnique({ where: { id: artifactId }, select: { sha256: true, rewrapSha256: true } });
    if (row && (row.sha256 === actual || row.rewrapSha256 === actual)) return;
  }
  await prisma.backupArtifact.updateMany({
    where: { id: artifactId, status: { in: ["STORED", "CORRUPT"] } },
    data: { status: "CORRUPT", verifyResult: "CORRUPT", verifiedAt: new Date(), verifyDetail: detail, error: detail },
  });
}

/** The checksum mismatch behind a restore's failure, through its causes. */
function mismatchOf(error: unknown): ChecksumMismatchError | null {
  for (let e = error, depth = 0; e && depth < 5; e = (e as Error).cause, depth++) if (e instanceof ChecksumMismatchError) return e;
  return null;
}
