import type { PrismaClient } from "../db/client.ts";
import { quoteIdent } from "../db/connection.ts";
import type { PitrCheckpoint, Server } from "../db/generated/client.ts";
import { withMysql } from "../runner/dumpers/server-session.ts";
import type { ServerConnection } from "../runner/dumpers/types.ts";
import { binlogSequence } from "./binlog-file.ts";
import type { DumpPosition } from "./replay.ts";

/**
 * Records row counts per base table of each database of `server` that has a dump with an exact
 * binlog position, all in ONE consistent snapshot (START TRANSACTION WITH CONSISTENT SNAPSHOT),
 * with the binlog position of that snapshot: MariaDB's binlog_snapshot_file / _position give the
 * exact position the snapshot sees, so a replay to it must show the same counts. MariaDB only
 * (MySQL has no snapshot position). Checkpoints older than the oldest archived binlog are
 * deleted: no drill can reach them. Throws when the server cannot be read.
 */
export async function takeCheckpoints(prisma: PrismaClient, server: Server, conn: ServerConnection): Promise<PitrCheckpoint[]> {
  if (server.engine !== "MARIADB") return [];
  const dumps = await prisma.backup.findMany({
    where: { serverId: server.id, status: { in: ["SUCCEEDED", "PARTIAL"] } },
    distinct: ["database"],
    orderBy: { id: "desc" },
    select: { database: true, position: true },
  });
  const databases = dumps.filter((d) => (d.position as DumpPosition | null)?.binlogFile).map((d) => d.database);
  if (!databases.length) return [];
  const snapshot = await withMysql(conn, async (c) => {
    await c.query("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    await c.query("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
    try {
      const status = (await c.query("SHOW STATUS LIKE 'binlog_snapshot_%'")) as Array<{ Variable_name: string; Value: string }>;
      const file = status.find((s) => s.Variable_name === "Binlog_snapshot_file")?.Value;
      const position = Number(status.find((s) => s.Variable_name === "Binlog_snapshot_position")?.Value);
      if (!file || !Number.isFinite(position)) throw new Error("the server reports no binlog snapshot position (is its binlog on?)");
      const [{ t }] = (await c.query("SELECT UNIX_TIMESTAMP(NOW(3)) AS t")) as [{ t: number | string }];
      const counts = new Map<string, Record<string, number>>();
      for (const database of databases) {
        const tables = (await c.query(
          "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')",
          [database],
        )) as Array<{ name: string }>;
        const rows: Record<string, number> = {};
        for (const { name } of tables) {
          const [n] = (await c.query(`SELECT COUNT(*) AS n FROM ${quoteIdent(database)}.${quoteIdent(name)}`)) as Array<{ n: number }>;
          rows[name] = Number(n?.n ?? 0);
        }
        if (tables.length) counts.set(database, rows);
      }
      return { file, position, takenAt: new Date(Math.round(Number(t) * 1000)), counts };
    } finally {
      await c.query("COMMIT").catch(() => {});
    }
  });
  const created: PitrCheckpoint[] = [];
  for (const [database, tableRows] of snapshot.counts) {
    created.push(
      await prisma.pitrCheckpoint.create({
        data: { serverId: server.id, database, binlogFile: snapshot.file, binlogPosition: BigInt(snapshot.position), takenAt: snapshot.takenAt, tableRows },
      }),
    );
  }
  await pruneCheckpoints(prisma, server.id);
  return created;
}

/** Deletes the checkpoints of a server in binlog files no longer archived (before the oldest archive). */
async function pruneCheckpoints(prisma: PrismaClient, serverId: number): Promise<void> {
  const files = await prisma.pitrArchive.findMany({ where: { serverId }, select: { file: true } });
  if (!files.length) return;
  const oldest = Math.min(...files.map((f) => binlogSequence(f.file)!));
  const checkpoints = await prisma.pitrCheckpoint.findMany({ where: { serverId }, select: { id: true, binlogFile: true } });
  const stale = checkpoints.filter((c) => binlogSequence(c.binlogFile)! < oldest).map((c) => c.id);
  if (stale.length) await prisma.pitrCheckpoint.deleteMany({ where: { id: { in: stale } } });
}

/** Whether a server's newest checkpoint is older than `everyMs` (or it has none). */
export async function checkpointDue(prisma: PrismaClient, serverId: number, everyMs: number, now = new Date()): Promise<boolean> {
  const last = await prisma.pitrCheckpoint.findFirst({ where: { serverId }, orderBy: { takenAt: "desc" }, select: { createdAt: true } });
  return !last || now.getTime() - last.createdAt.getTime() >= everyMs;
}

/** The tables' row counts of a checkpoint. */
export function checkpointRows(checkpoint: Pick<PitrCheckpoint, "tableRows">): Map<string, number> {
  return new Map(Object.entries(checkpoint.tableRows as Record<string, number>));
}
