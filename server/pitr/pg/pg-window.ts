import type { PrismaClient } from "../../db/client.ts";
import type { Server } from "../../db/generated/client.ts";
import type { PitrStatus } from "../pitr-window.ts";
import { CLUSTER_DATABASE, type BaseBackupPosition } from "./base-backup.ts";
import { compareSegments, parseSegment, type WalSegment } from "./wal.ts";
import { walGap } from "./wal-archiver.ts";

/**
 * Server.pitr for a PostgreSQL server: from the oldest base backup whose WAL is unbroken up to
 * the newest archived segment, to the newest archived write. `broken` (with the reason) when the
 * newest base backup cannot reach the archive's end: a missing segment, a timeline switch
 * without history, a lost slot, a missing archive object.
 */
export async function pgPitrStatus(
  prisma: PrismaClient,
  server: Server,
  base: Pick<PitrStatus, "enabled" | "rpoSeconds" | "storageTargetIds">,
): Promise<PitrStatus> {
  const [rows, stream, backups] = await Promise.all([
    prisma.pitrArchive.findMany({ where: { serverId: server.id } }),
    prisma.pitrStream.findUnique({ where: { serverId: server.id } }),
    prisma.backup.findMany({
      where: { serverId: server.id, database: CLUSTER_DATABASE, status: "SUCCEEDED" },
      select: { position: true, finishedAt: true },
      orderBy: { finishedAt: "asc" },
    }),
  ]);
  const files = new Set(rows.map((r) => r.file));
  const segments = rows
    .map((r) => ({ r, s: parseSegment(r.file) }))
    .filter((x): x is { r: (typeof rows)[number]; s: WalSegment } => x.s !== null)
    .sort((a, b) => compareSegments(a.s, b.s));
  // The current unbroken stretch: after the last gap or recorded break.
  let from = 0;
  let reason: string | null = null;
  for (let i = 0; i < segments.length; i++) {
    const gap = (i > 0 ? walGap(segments[i - 1]!.s, segments[i]!.s, files) : null) ?? segments[i]!.r.breakReason;
    if (gap) {
      from = i;
      reason = gap;
    }
  }
  const stretch = segments.slice(from);
  // A missing object breaks at its own segment: the stretch starts after it.
  const startIndex = reason && stretch[0]?.r.breakReason?.includes("missing from storage") ? 1 : 0;
  const usable = new Set(stretch.slice(startIndex).map((x) => x.s.name));
  const bases = backups.filter((b) => {
    const p = b.position as BaseBackupPosition | null;
    return p?.kind === "pg-base" && usable.has(p.startSegment);
  });
  const to = stretch.reduce<Date | null>((t, x) => (x.r.lastEventAt && (!t || x.r.lastEventAt > t) ? x.r.lastEventAt : t), null);
  const fromAt = bases[0]?.finishedAt ?? null;
  const streamReason = stream?.brokenReason && !segments.some((x) => x.s.name === stream.brokenFromFile) ? stream.brokenReason : null;
  const broken = Boolean(streamReason) || (reason !== null && bases.length === 0);
  return {
    ...base,
    lagSeconds:
      stream?.lastEventAt && stream.lastArchivedAt ? Math.max(0, Math.round((stream.lastArchivedAt.getTime() - stream.lastEventAt.getTime()) / 1000)) : null,
    recoverableFrom: fromAt && to && to >= fromAt ? fromAt : null,
    recoverableTo: fromAt && to && to >= fromAt ? to : null,
    broken,
    brokenReason: broken ? (streamReason ?? reason) : null,
    warning: stream?.warning ?? null,
  };
}
