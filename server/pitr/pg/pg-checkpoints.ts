import type { PrismaClient } from "../../db/client.ts";
import type { PitrCheckpoint, Server } from "../../db/generated/client.ts";
import { withPg } from "../../runner/dumpers/server-session.ts";
import type { ServerConnection } from "../../runner/dumpers/types.ts";
import { pgTableCounts } from "../../runner/table-stats.ts";
import { CLUSTER_DATABASE } from "./base-backup.ts";

/** `X/Y` (pg_lsn) as one number. */
export function lsnValue(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new Error(`${JSON.stringify(lsn)} is not a PostgreSQL LSN`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** How long a checkpoint waits for its temporary slot (the transactions running at that moment to end). */
const SLOT_TIMEOUT_MS = 60_000;

class SlotTimeout extends Error {}

/** Thrown when the server cannot give a snapshot with its exact WAL position (wal_level below logical). */
export class PgCheckpointUnavailableError extends Error {}

/**
 * Records row counts per table of each PostgreSQL database of `server` that has a `pg_dump` backup,
 * each at an exact WAL position: a temporary logical replication slot created with EXPORT_SNAPSHOT
 * gives a snapshot and the LSN it is consistent with (every transaction committed before that LSN
 * is visible in it, none after), and the counts are taken in a transaction importing that
 * snapshot. A restore to that LSN (`recovery_target_lsn`, not inclusive) must show the same counts;
 * a physical position read beside an ordinary snapshot would not (a transaction that wrote its
 * commit record but is still flushing it is replayed, yet invisible to the snapshot). Needs
 * `wal_level = logical` and a free replication slot; the slot goes with the connection. Checkpoints
 * older than the oldest base backup are deleted: no drill can reach them.
 */
export async function takePgCheckpoints(
  prisma: PrismaClient,
  server: Server,
  conn: ServerConnection,
  options: { slotTimeoutMs?: number } = {},
): Promise<PitrCheckpoint[]> {
  if (server.engine !== "POSTGRESQL") return [];
  const dumps = await prisma.backup.findMany({
    where: { serverId: server.id, status: { in: ["SUCCEEDED", "PARTIAL"] }, database: { not: CLUSTER_DATABASE } },
    distinct: ["database"],
    select: { database: true },
  });
  const created: PitrCheckpoint[] = [];
  for (const { database } of dumps) {
    const taken = await snapshotCounts(conn, database, server.id, options.slotTimeoutMs ?? SLOT_TIMEOUT_MS);
    if (!taken) continue;
    created.push(
      await prisma.pitrCheckpoint.create({
        data: { serverId: server.id, database, binlogFile: taken.lsn, binlogPosition: lsnValue(taken.lsn), takenAt: taken.takenAt, tableRows: taken.counts },
      }),
    );
  }
  const oldest = await prisma.backup.findFirst({
    where: { serverId: server.id, database: CLUSTER_DATABASE, status: "SUCCEEDED" },
    orderBy: { finishedAt: "asc" },
    select: { finishedAt: true },
  });
  if (oldest?.finishedAt) await prisma.pitrCheckpoint.deleteMany({ where: { serverId: server.id, takenAt: { lt: oldest.finishedAt } } });
  return created;
}

/** One database's counts in the snapshot of a temporary logical slot, with its LSN; null when the database is gone. */
async function snapshotCounts(
  conn: ServerConnection,
  database: string,
  serverId: number,
  slotTimeoutMs: number,
): Promise<{ lsn: string; takenAt: Date; counts: Record<string, number> } | null> {
  const { default: driver } = await import("pg");
  const replication = new driver.Client({
    host: conn.host,
    port: conn.port,
    user: conn.username,
    password: conn.password ?? undefined,
    database,
    ssl: conn.tls ? { rejectUnauthorized: false } : false,
    connectionTimeoutMillis: 15_000,
    replication: "database",
    application_name: "sqlguard-checkpoint",
  } as ConstructorParameters<typeof driver.Client>[0]);
  replication.on("error", () => {});
  try {
    await replication.connect();
  } catch (error) {
    if (/database .* does not exist/.test((error as Error).message)) return null;
    throw error;
  }
  try {
    const slot = `sqlguard_ckpt_${serverId}_${process.pid}_${Date.now().toString(36)}`;
    let created: { consistent_point: string; snapshot_name: string };
    try {
      // Waits for every transaction running now to end: a long one must not hold the PITR reconcile.
      // Past the timeout its walsender is terminated (the temporary slot goes with it) and this checkpoint is skipped.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SlotTimeout()), slotTimeoutMs);
      });
      try {
        created = (await Promise.race([replication.query(`CREATE_REPLICATION_SLOT ${slot} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT`), timeout]))
          .rows[0] as typeof created;
      } finally {
        clearTimeout(timer);
      }
    } catch (error) {
      if (error instanceof SlotTimeout) {
        const pid = (replication as unknown as { processID: number | null }).processID;
        if (pid) await withPg(conn, database, (c) => c.query("SELECT pg_terminate_backend($1)", [pid])).catch(() => {});
        throw new Error(
          `the row-count checkpoint of ${database} gave up after ${slotTimeoutMs / 1000} s: a transaction running on the server holds back its temporary replication slot (a slot waits for every transaction open when it is created)`,
        );
      }
      const message = (error as Error).message;
      if (/wal_level/.test(message)) throw new PgCheckpointUnavailableError(`row-count checkpoints need wal_level = logical on the server (${message})`);
      throw error;
    }
    // The exported snapshot lives while the replication connection stays idle: imported before anything else runs on it.
    return await withPg(conn, database, async (c) => {
      await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      try {
        await c.query(`SET TRANSACTION SNAPSHOT '${created.snapshot_name.replace(/'/g, "")}'`);
        const [{ t }] = (await c.query<{ t: Date }>("SELECT now() AS t")).rows as [{ t: Date }];
        return { lsn: created.consistent_point, takenAt: t, counts: await pgTableCounts(c) };
      } finally {
        await c.query("COMMIT").catch(() => {});
      }
    });
  } finally {
    await replication.end().catch(() => {});
  }
}
