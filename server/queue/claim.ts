import { Prisma, type PrismaClient } from "../db/client.ts";

/** A backup the claim moved PENDING → RUNNING for this instance, and how long it had waited in the queue. */
export type ClaimedBackup = { id: number; serverId: number | null; waitSeconds: number };

export type ClaimOptions = {
  instanceId: string;
  /** Free slots of this instance: at most this many backups are claimed. */
  slots: number;
  /** Cluster-wide cap on RUNNING backups (every instance together); none when omitted. */
  clusterMax?: number;
};

/** The row the cluster-wide cap locks, so that claims count every instance's RUNNING backups one at a time. */
const CLUSTER_LOCK = "queue-claims";

type Candidate = { serverId: bigint | number; manual: bigint | number | boolean };

/**
 * Claims up to `slots` PENDING backups for this instance, each in a short transaction of its own
 * server: `SELECT … FOR UPDATE` on the Server row serializes the claims of one server across every
 * instance, the server's RUNNING rows are counted under that lock (its `maxConcurrent` holds
 * cluster-wide), and the PENDING row is taken with `FOR UPDATE SKIP LOCKED`, so instances claiming
 * at once never take the same row; a server another instance is claiming for at that moment is
 * skipped (its lock taken with SKIP LOCKED too) and tried again in the next round. Order: servers with a manual run waiting first, then
 * the server whose last claim is oldest (round-robin: a busy server does not starve the others),
 * one backup per server per round; within a server, manual runs before scheduled ones, then oldest.
 * A PENDING backup whose server was deleted is claimed too, so that its run records the failure.
 */
export async function claimBackups(prisma: PrismaClient, options: ClaimOptions): Promise<ClaimedBackup[]> {
  const claimed: ClaimedBackup[] = [];
  if (options.slots <= 0) return claimed;
  claimed.push(...(await claimOrphans(prisma, options.instanceId, options.slots)));
  const blocked = new Set<number>();
  while (claimed.length < options.slots) {
    const candidates = await prisma.$queryRaw<Candidate[]>`
      SELECT b.serverId AS serverId, MAX(b.\`trigger\` = 'MANUAL') AS manual
      FROM Backup b JOIN Server s ON s.id = b.serverId
      WHERE b.status = 'PENDING'
      GROUP BY b.serverId, s.queueClaimedAt
      ORDER BY manual DESC, s.queueClaimedAt IS NOT NULL, s.queueClaimedAt ASC, b.serverId ASC
      LIMIT 200`;
    const servers = candidates.map((c) => Number(c.serverId)).filter((id) => !blocked.has(id));
    if (servers.length === 0) break;
    let progress = false;
    for (const serverId of servers) {
      if (claimed.length >= options.slots) break;
      const one = await claimForServer(prisma, serverId, options);
      if (one === "full") {
        blocked.add(serverId);
        continue;
      }
      if (one === "busy") continue;
      if (one) {
        claimed.push(one);
        progress = true;
      } else blocked.add(serverId);
    }
    if (!progress) break;
  }
  return claimed;
}

/**
 * One claim for one server: null when it has nothing PENDING left (or another instance took it),
 * "full" at its limit, "busy" while another instance claims for it (tried again next round).
 */
async function claimForServer(prisma: PrismaClient, serverId: number, options: ClaimOptions): Promise<ClaimedBackup | "full" | "busy" | null> {
  try {
    return await prisma.$transaction(async (tx) => {
      // Another instance claiming for this server right now holds the lock: serve the next server meanwhile.
      const server = await tx.$queryRaw<Array<{ maxConcurrent: number }>>`SELECT maxConcurrent FROM Server WHERE id = ${serverId} FOR UPDATE SKIP LOCKED`;
      if (server.length === 0) return "busy";
      if (options.clusterMax !== undefined) {
        await tx.$executeRaw`INSERT IGNORE INTO Lease (name, holder, expiresAt) VALUES (${CLUSTER_LOCK}, '', UTC_TIMESTAMP(3))`;
        await tx.$queryRaw`SELECT name FROM Lease WHERE name = ${CLUSTER_LOCK} FOR UPDATE`;
        if ((await runningInCluster(tx)) >= options.clusterMax) return "full";
      }
      if ((await runningOnServer(tx, serverId)) >= server[0]!.maxConcurrent) return "full";
      const rows = await tx.$queryRaw<Array<{ id: number; waitUs: bigint | number | null }>>`
        SELECT id, TIMESTAMPDIFF(MICROSECOND, createdAt, UTC_TIMESTAMP(3)) AS waitUs FROM Backup
        WHERE serverId = ${serverId} AND status = 'PENDING'
        ORDER BY \`trigger\` = 'MANUAL' DESC, id ASC
        LIMIT 1 FOR UPDATE SKIP LOCKED`;
      const row = rows[0];
      if (!row) return null;
      await take(tx, [row.id], options.instanceId);
      await tx.$executeRaw`UPDATE Server SET queueClaimedAt = UTC_TIMESTAMP(3) WHERE id = ${serverId}`;
      return { id: Number(row.id), serverId, waitSeconds: Math.max(0, Number(row.waitUs ?? 0) / 1e6) };
    });
  } catch (error) {
    // Two claims that still collide (a deadlock, a lock wait timeout) lose nothing: the row stays PENDING for the next pass.
    if (error instanceof Prisma.PrismaClientKnownRequestError && ["P2034", "P2028"].includes(error.code)) return null;
    if (/deadlock|lock wait timeout/i.test((error as Error)?.message ?? "")) return null;
    throw error;
  }
}

/** PENDING backups whose server was deleted (serverId NULL): claimed so that their run records why they cannot run. */
async function claimOrphans(prisma: PrismaClient, instanceId: string, slots: number): Promise<ClaimedBackup[]> {
  return prisma.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<Array<{ id: number }>>`
      SELECT id FROM Backup WHERE status = 'PENDING' AND serverId IS NULL ORDER BY id LIMIT ${slots} FOR UPDATE SKIP LOCKED`;
    if (rows.length === 0) return [];
    await take(
      tx,
      rows.map((r) => Number(r.id)),
      instanceId,
    );
    return rows.map((r) => ({ id: Number(r.id), serverId: null, waitSeconds: 0 }));
  });
}

async function take(tx: Prisma.TransactionClient, ids: number[], instanceId: string): Promise<void> {
  await tx.$executeRaw`
    UPDATE Backup SET status = 'RUNNING', startedAt = UTC_TIMESTAMP(3), heartbeatAt = UTC_TIMESTAMP(3), instanceId = ${instanceId}, progressBytes = 0
    WHERE id IN (${Prisma.join(ids)}) AND status = 'PENDING'`;
}

/** RUNNING backups and restores of every instance: what the cluster-wide cap counts. */
async function runningInCluster(tx: Prisma.TransactionClient): Promise<number> {
  const [all] = await tx.$queryRaw<Array<{ n: bigint | number }>>`
    SELECT (SELECT COUNT(*) FROM Backup WHERE status = 'RUNNING') + (SELECT COUNT(*) FROM Restore WHERE status = 'RUNNING') AS n`;
  return Number(all!.n);
}

/**
 * What loads one server, counted against its `maxConcurrent`: RUNNING backups of it and RUNNING
 * restores into it (a restore writes the whole database: it loads the server as much as a dump).
 */
async function runningOnServer(tx: Prisma.TransactionClient, serverId: number): Promise<number> {
  const [running] = await tx.$queryRaw<Array<{ n: bigint | number }>>`
    SELECT (SELECT COUNT(*) FROM Backup WHERE serverId = ${serverId} AND status = 'RUNNING')
         + (SELECT COUNT(*) FROM Restore WHERE serverId = ${serverId} AND status = 'RUNNING') AS n`;
  return Number(running!.n);
}

/** A restore the claim moved PENDING → RUNNING for this instance. */
export type ClaimedRestore = { id: number; serverId: number | null; waitSeconds: number };

/**
 * Claims up to `slots` queued restores (PENDING with no instance: a restore with `credentials` is
 * never queued, its accepting instance runs it) with the backups' discipline: one short
 * transaction per target server under `SELECT … FOR UPDATE SKIP LOCKED` on its `Server` row (the
 * same lock backup claims take, so backups and restores of one server are counted one claim at a
 * time), RUNNING backups + restores counted against `maxConcurrent` and the cluster cap, the row
 * taken with `FOR UPDATE SKIP LOCKED`; oldest first. A restore whose server was deleted is claimed
 * too, so that its run records why it cannot run.
 */
export async function claimRestores(prisma: PrismaClient, options: ClaimOptions & { onClaim?: (claimed: ClaimedRestore) => void }): Promise<ClaimedRestore[]> {
  const claimed: ClaimedRestore[] = [];
  // Each claim is handed over at once, so that the instance's lease sweep sees it running.
  const handOver = (one: ClaimedRestore) => {
    claimed.push(one);
    options.onClaim?.(one);
  };
  if (options.slots <= 0) return claimed;
  const orphans = await prisma.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<Array<{ id: number }>>`
      SELECT id FROM Restore WHERE status = 'PENDING' AND instanceId IS NULL AND serverId IS NULL ORDER BY id LIMIT ${options.slots} FOR UPDATE SKIP LOCKED`;
    for (const r of rows) await takeRestore(tx, Number(r.id), options.instanceId);
    return rows.map((r) => ({ id: Number(r.id), serverId: null, waitSeconds: 0 }));
  });
  orphans.forEach(handOver);
  const blocked = new Set<number>();
  while (claimed.length < options.slots) {
    const candidates = await prisma.$queryRaw<Array<{ serverId: bigint | number }>>`
      SELECT serverId FROM Restore WHERE status = 'PENDING' AND instanceId IS NULL AND serverId IS NOT NULL
      GROUP BY serverId ORDER BY MIN(id) LIMIT 200`;
    const servers = candidates.map((c) => Number(c.serverId)).filter((id) => !blocked.has(id));
    if (servers.length === 0) break;
    let progress = false;
    for (const serverId of servers) {
      if (claimed.length >= options.slots) break;
      const one = await claimRestoreForServer(prisma, serverId, options);
      if (one === "busy") continue;
      if (one === "full" || one === null) blocked.add(serverId);
      else {
        handOver(one);
        progress = true;
      }
    }
    if (!progress) break;
  }
  return claimed;
}

async function claimRestoreForServer(prisma: PrismaClient, serverId: number, options: ClaimOptions): Promise<ClaimedRestore | "full" | "busy" | null> {
  try {
    return await prisma.$transaction(async (tx) => {
      const server = await tx.$queryRaw<Array<{ maxConcurrent: number }>>`SELECT maxConcurrent FROM Server WHERE id = ${serverId} FOR UPDATE SKIP LOCKED`;
      if (server.length === 0) return "busy";
      if (options.clusterMax !== undefined) {
        await tx.$executeRaw`INSERT IGNORE INTO Lease (name, holder, expiresAt) VALUES (${CLUSTER_LOCK}, '', UTC_TIMESTAMP(3))`;
        await tx.$queryRaw`SELECT name FROM Lease WHERE name = ${CLUSTER_LOCK} FOR UPDATE`;
        if ((await runningInCluster(tx)) >= options.clusterMax) return "full";
      }
      if ((await runningOnServer(tx, serverId)) >= server[0]!.maxConcurrent) return "full";
      const rows = await tx.$queryRaw<Array<{ id: number; waitUs: bigint | number | null }>>`
        SELECT id, TIMESTAMPDIFF(MICROSECOND, createdAt, UTC_TIMESTAMP(3)) AS waitUs FROM Restore
        WHERE serverId = ${serverId} AND status = 'PENDING' AND instanceId IS NULL
        ORDER BY id ASC LIMIT 1 FOR UPDATE SKIP LOCKED`;
      const row = rows[0];
      if (!row) return null;
      await takeRestore(tx, Number(row.id), options.instanceId);
      return { id: Number(row.id), serverId, waitSeconds: Math.max(0, Number(row.waitUs ?? 0) / 1e6) };
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && ["P2034", "P2028"].includes(error.code)) return null;
    if (/deadlock|lock wait timeout/i.test((error as Error)?.message ?? "")) return null;
    throw error;
  }
}

async function takeRestore(tx: Prisma.TransactionClient, id: number, instanceId: string): Promise<void> {
  await tx.$executeRaw`
    UPDATE Restore SET status = 'RUNNING', startedAt = UTC_TIMESTAMP(3), heartbeatAt = UTC_TIMESTAMP(3), instanceId = ${instanceId}, progressBytes = 0
    WHERE id = ${id} AND status = 'PENDING'`;
}

/**
 * Claims one queued restore drill (PENDING, recorded by an `api` instance) for this instance, under
 * the same `FOR UPDATE SKIP LOCKED` lock on its verification server's row: it waits while that
 * server's RUNNING backups, restores and drills reach `maxConcurrent` (a drill restores into the
 * server). Backups and restores do not count drills (drills are rare and short; a dead instance's
 * drill holds its slot only until its lease expires and a sweep settles it). Null when none.
 */
export async function claimDrill(prisma: PrismaClient, instanceId: string): Promise<number | null> {
  const candidates = await prisma.$queryRaw<Array<{ id: number; serverId: number | null }>>`
    SELECT id, serverId FROM RestoreDrill WHERE status = 'PENDING' AND instanceId IS NULL ORDER BY id LIMIT 50`;
  for (const c of candidates) {
    try {
      const won = await prisma.$transaction(async (tx) => {
        if (c.serverId !== null) {
          const server = await tx.$queryRaw<Array<{ maxConcurrent: number }>>`SELECT maxConcurrent FROM Server WHERE id = ${c.serverId} FOR UPDATE SKIP LOCKED`;
          if (server.length === 0) return false;
          const [drills] = await tx.$queryRaw<
            Array<{ n: bigint | number }>
          >`SELECT COUNT(*) AS n FROM RestoreDrill WHERE serverId = ${c.serverId} AND status = 'RUNNING'`;
          if ((await runningOnServer(tx, Number(c.serverId))) + Number(drills!.n) >= server[0]!.maxConcurrent) return false;
        }
        const rows = await tx.$queryRaw<Array<{ id: number }>>`
          SELECT id FROM RestoreDrill WHERE id = ${c.id} AND status = 'PENDING' AND instanceId IS NULL FOR UPDATE SKIP LOCKED`;
        if (rows.length === 0) return false;
        await tx.$executeRaw`UPDATE RestoreDrill SET status = 'RUNNING', startedAt = UTC_TIMESTAMP(3), heartbeatAt = UTC_TIMESTAMP(3), instanceId = ${instanceId} WHERE id = ${c.id}`;
        return true;
      });
      if (won) return Number(c.id);
    } catch (error) {
      if (/deadlock|lock wait timeout/i.test((error as Error)?.message ?? "")) continue;
      throw error;
    }
  }
  return null;
}
