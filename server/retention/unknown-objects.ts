import type { PrismaClient } from "../db/client.ts";
import { PITR_PREFIX } from "../pitr/archive-keys.ts";
import { MANIFEST_SUFFIX } from "../runner/artifact-key.ts";
import type { ArtifactStore, StoredObject } from "../storage/artifact-store.ts";

/** Objects of one target that no backup record knows: counted, a sample listed, never deleted. */
export type UnknownObjects = { count: number; sample: StoredObject[] };

/** Storage probes (testStorageTarget) write and delete these themselves. */
const PROBE_PREFIX = ".sqlguard-probe/";

/**
 * Lists a target and reports the objects that are neither an artifact key of a backup record on
 * that target (whatever its status) nor such a key's manifest. The keys are read after the
 * listing too, so an artifact whose upload started during the listing is not reported. Throws
 * the store's StorageError when the listing fails.
 */
export async function findUnknownObjects(prisma: PrismaClient, storageTargetId: number, store: ArtifactStore, sampleSize = 100): Promise<UnknownObjects> {
  let known = await knownKeys(prisma, storageTargetId);
  const candidates: StoredObject[] = [];
  for await (const object of store.list("")) {
    // Binlog archives (server/pitr) have records of their own, trimmed by trimBinlogArchives.
    if (!known.has(object.key) && !object.key.startsWith(PROBE_PREFIX) && !object.key.startsWith(PITR_PREFIX)) candidates.push(object);
  }
  if (candidates.length) known = await knownKeys(prisma, storageTargetId);
  const unknown = candidates.filter((o) => !known.has(o.key)).sort((a, b) => a.key.localeCompare(b.key));
  return { count: unknown.length, sample: unknown.slice(0, sampleSize) };
}

async function knownKeys(prisma: PrismaClient, storageTargetId: number): Promise<Set<string>> {
  const rows = await prisma.backupArtifact.findMany({ where: { storageTargetId }, select: { key: true } });
  return new Set(rows.flatMap((r) => [r.key, r.key + MANIFEST_SUFFIX]));
}
