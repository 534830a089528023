import type { PrismaClient } from "../db/client.ts";
import type { StorageTarget } from "../db/generated/client.ts";
import { binlogSequence } from "../pitr/binlog-file.ts";
import { PITR_MANIFEST_SUFFIX } from "../pitr/archive-keys.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { walToTrim } from "../pitr/pg/wal-trim.ts";

/**
 * The binlog archives of a server that no kept dump needs: those before the binlog file of its
 * oldest kept (SUCCEEDED / PARTIAL) dump with an exact position. Nothing when no kept dump has a
 * position (no replay can start anywhere, but the archive may still be wanted for a dump to come).
 */
export function binlogsToTrim<T extends { file: string }>(archives: T[], keptDumpFiles: string[]): T[] {
  const starts = keptDumpFiles.map((f) => binlogSequence(f)).filter((n): n is number => n !== null);
  if (!starts.length) return [];
  const oldest = Math.min(...starts);
  return archives.filter((a) => (binlogSequence(a.file) ?? Number.POSITIVE_INFINITY) < oldest);
}

/**
 * Deletes, on every target and then in the records, the binlog archives of `serverId` that no
 * kept dump needs (binlogsToTrim). Returns the files removed; a target that fails keeps its row
 * for the next sweep.
 */
export async function trimBinlogArchives(
  prisma: PrismaClient,
  serverId: number,
  storeFor: (t: StorageTarget) => ArtifactStore,
  dryRun = false,
): Promise<string[]> {
  const [archives, dumps] = await Promise.all([
    prisma.pitrArchive.findMany({ where: { serverId } }),
    prisma.backup.findMany({ where: { serverId, status: { in: ["SUCCEEDED", "PARTIAL"] } }, select: { position: true } }),
  ]);
  const files = dumps.flatMap((d) => (d.position as { binlogFile?: string } | null)?.binlogFile ?? []);
  // PostgreSQL: WAL before the start segment of the oldest kept base backup (server/pitr/pg/wal-trim.ts).
  const pgStarts = dumps.flatMap((d) => (d.position as { kind?: string; startSegment?: string } | null)?.startSegment ?? []);
  const trim = pgStarts.length ? walToTrim(archives, pgStarts) : binlogsToTrim(archives, files);
  if (dryRun || !trim.length) return trim.map((a) => a.file);
  const targets = new Map((await prisma.storageTarget.findMany()).map((t) => [t.id, t]));
  const removed: string[] = [];
  for (const archive of trim) {
    try {
      for (const id of archive.storageTargetIds as number[]) {
        const target = targets.get(id);
        if (!target) continue;
        const store = storeFor(target);
        await store.delete(archive.key);
        await store.delete(archive.key + PITR_MANIFEST_SUFFIX);
      }
      await prisma.pitrArchive.delete({ where: { id: archive.id } });
      removed.push(archive.file);
    } catch {
      // Left for the next sweep.
    }
  }
  return removed;
}
