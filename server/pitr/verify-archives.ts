import type { PrismaClient } from "../db/client.ts";
import type { StorageTarget } from "../db/generated/client.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { isHistoryFile, parseSegment } from "./pg/wal.ts";

/**
 * Checks that every archived (closed) binlog file or WAL segment of a server is still on each storage target
 * recorded for it; a missing object breaks the chain at that file (no replay can cross it) and
 * on the stream. Returns the reasons found. Never deletes anything.
 */
export async function verifyArchives(prisma: PrismaClient, serverId: number, storeFor: (t: StorageTarget) => ArtifactStore): Promise<string[]> {
  const archives = await prisma.pitrArchive.findMany({ where: { serverId, partial: false } });
  const targetIds = [...new Set(archives.flatMap((a) => a.storageTargetIds as number[]))];
  const targets = new Map((await prisma.storageTarget.findMany({ where: { id: { in: targetIds } } })).map((t) => [t.id, t]));
  const reasons: string[] = [];
  for (const archive of archives) {
    const missing: string[] = [];
    for (const id of archive.storageTargetIds as number[]) {
      const target = targets.get(id);
      if (!target || !(await storeFor(target).head(archive.key))) missing.push(target?.name ?? `#${id}`);
    }
    if (!missing.length) continue;
    const present = (archive.storageTargetIds as number[]).filter((id) => !missing.includes(targets.get(id)?.name ?? `#${id}`));
    if (present.length) {
      // Still on another target: the chain holds; the copy list shrinks to what is there.
      await prisma.pitrArchive.update({ where: { id: archive.id }, data: { storageTargetIds: present } });
      continue;
    }
    const what = parseSegment(archive.file) || isHistoryFile(archive.file) ? "WAL file" : "binlog";
    const reason = `the archive of ${what} ${archive.file} (${archive.key}) is missing from storage (${missing.join(", ")})`;
    reasons.push(reason);
    if (archive.breakReason === reason) continue;
    await prisma.pitrArchive.update({ where: { id: archive.id }, data: { breakReason: reason } });
    await prisma.pitrStream.updateMany({ where: { serverId }, data: { brokenAt: new Date(), brokenFromFile: archive.file, brokenReason: reason } });
  }
  return reasons;
}
