import type { PrismaClient } from "../db/client.ts";
import type { Server } from "../db/generated/client.ts";
import { binlogSequence } from "./binlog-file.ts";
import { pgPitrStatus } from "./pg/pg-window.ts";

/** Server.pitr in the API: settings, and the recoverable window the archive and the dumps give. */
export type PitrStatus = {
  enabled: boolean;
  rpoSeconds: number;
  storageTargetIds: number[] | null;
  /** Seconds from the newest archived event's commit to its storage (null before the first archive). */
  lagSeconds: number | null;
  recoverableFrom: Date | null;
  recoverableTo: Date | null;
  broken: boolean;
  brokenReason: string | null;
  /** PostgreSQL: the replication slot is at risk (wal_status not `reserved`), before anything is lost. */
  warning?: string | null;
};

/**
 * The window a point-in-time restore of `database` (any database of the server when null) can
 * reach: from the oldest dump with an exact position inside the current unbroken stretch of the
 * archive, to the newest archived event. `broken` while the latest break has no dump after it.
 */
export async function pitrStatus(prisma: PrismaClient, server: Server, database: string | null = null): Promise<PitrStatus> {
  const base = {
    enabled: server.pitrEnabled,
    rpoSeconds: server.pitrRpoSeconds,
    storageTargetIds: Array.isArray(server.pitrStorageTargetIds) ? (server.pitrStorageTargetIds as number[]) : null,
  };
  // PostgreSQL: base backups and WAL segments (server/pitr/pg).
  if (server.engine === "POSTGRESQL") return pgPitrStatus(prisma, server, base);
  const [archives, stream, dumps] = await Promise.all([
    prisma.pitrArchive.findMany({ where: { serverId: server.id }, select: { file: true, breakReason: true, lastEventAt: true, firstEventAt: true } }),
    prisma.pitrStream.findUnique({ where: { serverId: server.id } }),
    prisma.backup.findMany({
      where: { serverId: server.id, status: { in: ["SUCCEEDED", "PARTIAL"] }, ...(database ? { database } : {}), position: { not: undefined } },
      select: { position: true, startedAt: true, finishedAt: true },
      orderBy: { finishedAt: "asc" },
    }),
  ]);
  archives.sort((a, b) => binlogSequence(a.file)! - binlogSequence(b.file)!);
  // The current stretch starts at the last file that begins with a break.
  const breakIndex = archives.findLastIndex((a, i) => i > 0 && a.breakReason !== null);
  const stretch = breakIndex >= 0 ? archives.slice(breakIndex) : archives;
  const streamBroken = stream?.brokenReason && (stream.brokenFromFile === null || !archives.some((a) => a.file === stream.brokenFromFile));
  const files = new Set(stretch.map((a) => a.file));
  const usable = dumps.filter((d) => {
    const file = (d.position as { binlogFile?: string } | null)?.binlogFile;
    return file !== undefined && files.has(file);
  });
  const to = stretch.reduce<Date | null>((latest, a) => (a.lastEventAt && (!latest || a.lastEventAt > latest) ? a.lastEventAt : latest), null);
  const from = usable[0]?.finishedAt ?? null;
  const reason = streamBroken ? stream!.brokenReason : breakIndex >= 0 ? archives[breakIndex]!.breakReason : null;
  const broken = Boolean(streamBroken) || (breakIndex >= 0 && usable.length === 0);
  return {
    ...base,
    // How long the newest archived event waited to be stored (commit → stored), as last measured.
    lagSeconds:
      stream?.lastEventAt && stream.lastArchivedAt ? Math.max(0, Math.round((stream.lastArchivedAt.getTime() - stream.lastEventAt.getTime()) / 1000)) : null,
    recoverableFrom: from && to && to >= from ? from : null,
    recoverableTo: from && to && to >= from ? to : null,
    broken,
    brokenReason: broken ? reason : null,
  };
}
