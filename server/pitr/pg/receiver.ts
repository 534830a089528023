import type { ArchiveRecipients } from "../archive-crypto.ts";
import fs from "node:fs/promises";
import path from "node:path";
import type { PrismaClient } from "../../db/client.ts";
import type { Server, StorageTarget } from "../../db/generated/client.ts";
import type { Logger } from "../../observability/logger.ts";
import { pgClientEnv } from "../../process/client-args.ts";
import type { ServerConnection } from "../../process/server-connection.ts";
import type { ArtifactStore } from "../../storage/artifact-store.ts";
import { BinlogStreamer } from "../streamer.ts";
import { WalArchiver } from "./wal-archiver.ts";
import { CLUSTER_DATABASE, takeBaseBackup } from "./base-backup.ts";

const LEASE_MS = 60_000;
const TICK_MS = 1000;
/** How often the slot's wal_status is read, and whether a base backup is due. */
const SLOT_CHECK_MS = 30_000;
/** A failed base backup is tried again after this long (or at the next scheduled backup). */
const BASE_RETRY_MS = 15 * 60_000;

export type PgPitrDeps = {
  prisma: PrismaClient;
  logger: Logger;
  instanceId: string;
  spoolRoot: string;
  connectionOf(server: Server): ServerConnection;
  storeFor(target: StorageTarget): ArtifactStore;
  tickMs?: number;
  /** pg_receivewal (default: from PATH). */
  receivewal?: string;
  /** The keys this server's archives are encrypted to (its dump profile encrypts), or null: read per shipment. */
  archiveRecipients?: ArchiveRecipients;
};

/** What each wal_status other than `reserved` means for the archive (Server.pitr.warning). */
const SLOT_RISK: Record<string, string> = {
  extended: "the receiver lags; the primary keeps WAL beyond max_wal_size for it",
  unreserved: "the receiver lags so far that the next checkpoint removes WAL it has not archived (max_slot_wal_keep_size reached)",
  lost: "WAL was removed before it was archived: the chain is broken",
  missing: "the slot is gone: the chain is broken",
};

/** The physical replication slot of one SQLGuard server: `sqlguard_<id>`. */
export function slotNameFor(serverId: number): string {
  return `sqlguard_${serverId}`;
}

/**
 * `pg_receivewal --slot --synchronous -Z lz4` into the spool: flushes (and reports flushed) every
 * write, so the slot never lets the primary drop WAL that is not in the spool. Connection in the
 * libpq environment; the password only in PGPASSWORD, never in argv.
 */
export function receivewalCommand(conn: ServerConnection, spoolDir: string, slot: string, tool = "pg_receivewal") {
  return {
    command: tool,
    args: ["--slot", slot, "--synchronous", "-Z", "lz4", "--no-loop", "-D", spoolDir],
    env: pgClientEnv(conn, "postgres", "sqlguard-pitr"),
  };
}

/** Runs a query on the server as the backup user (the replication and slot queries). */
export async function pgQuery<T>(conn: ServerConnection, sql: string, params: unknown[] = []): Promise<T[]> {
  const { default: driver } = await import("pg");
  const client = new driver.Client({
    host: conn.host,
    port: conn.port,
    user: conn.username,
    password: conn.password ?? undefined,
    database: "postgres",
    ssl: conn.tls ? { rejectUnauthorized: false } : undefined,
    connectionTimeoutMillis: 15_000,
  });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * One PostgreSQL server's WAL archiving, owned by this instance through the same PitrStream lease
 * as the binlog streamer: the physical slot (created when missing), pg_receivewal supervised with
 * backoff (the same loop as the binlog streamer), the WAL archiver every second, and the slot's
 * wal_status checked (a warning once it leaves `reserved`).
 */
export class PgServerPitr {
  readonly #d: PgPitrDeps;
  readonly #server: Server;
  readonly #spool: string;
  #systemId: string | null = null;
  #streamer: BinlogStreamer | null = null;
  #archiver: WalArchiver | null = null;
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<unknown> | null = null;
  #lastSlotCheck = 0;
  #base: Promise<unknown> | null = null;
  #baseAbort = new AbortController();
  slotStatus: string | null = null;

  constructor(deps: PgPitrDeps, server: Server) {
    this.#d = deps;
    this.#server = server;
    this.#spool = path.join(deps.spoolRoot, String(server.id));
  }

  get spoolDir(): string {
    return this.#spool;
  }

  get restarts(): number {
    return this.#streamer?.restarts ?? 0;
  }

  async start(): Promise<boolean> {
    if (!(await this.#renewLease())) return false;
    await fs.mkdir(this.#spool, { recursive: true, mode: 0o700 });
    const ids = Array.isArray(this.#server.pitrStorageTargetIds) ? (this.#server.pitrStorageTargetIds as number[]) : null;
    const targets = await this.#d.prisma.storageTarget.findMany({ where: ids ? { id: { in: ids } } : { isDefault: true, enabled: true } });
    if (!targets.length) throw new Error(`server ${this.#server.name} has point-in-time recovery on but no storage target for it (and no default target)`);
    const conn = this.#d.connectionOf(this.#server);
    const [info] = await pgQuery<{ id: string; seg: string }>(
      conn,
      "SELECT system_identifier::text AS id, current_setting('wal_segment_size') AS seg FROM pg_control_system()",
    );
    this.#systemId = info!.id;
    const segmentBytes = parseSize(info!.seg);
    const slot = slotNameFor(this.#server.id);
    await this.#ensureSlot(conn, slot);
    const log = this.#d.logger.child({ component: "pitr-pg", serverId: this.#server.id });
    this.#archiver = new WalArchiver({
      prisma: this.#d.prisma,
      logger: log,
      serverId: this.#server.id,
      serverName: this.#server.name,
      spoolDir: this.#spool,
      targets: targets.map((t) => ({ id: t.id, store: this.#d.storeFor(t) })),
      rpoSeconds: this.#server.pitrRpoSeconds,
      segmentBytes,
      systemIdentifier: () => this.#systemId,
      recipients: () => this.#d.archiveRecipients?.(this.#server) ?? Promise.resolve(null),
    });
    this.#streamer = new BinlogStreamer({
      logger: log,
      startCommand: async () => receivewalCommand(this.#d.connectionOf(this.#server), this.#spool, slot, this.#d.receivewal),
    });
    this.#streamer.start();
    this.#timer = setInterval(() => {
      this.#ticking ??= this.tick().finally(() => (this.#ticking = null));
    }, this.#d.tickMs ?? TICK_MS);
    return true;
  }

  async tick(): Promise<string[]> {
    if (!(await this.#renewLease().catch(() => true))) {
      await this.stop();
      return [];
    }
    if (Date.now() - this.#lastSlotCheck > SLOT_CHECK_MS) {
      this.#lastSlotCheck = Date.now();
      await this.checkSlot().catch((error: unknown) =>
        this.#d.logger.warn({ err: error, serverId: this.#server.id }, "the replication slot could not be read"),
      );
      if ((await this.baseBackupDue().catch(() => null)) && !this.#base) void this.baseBackup();
    }
    return (await this.#archiver?.tick().catch((error: unknown) => (this.#d.logger.warn({ err: error }, "WAL archiving pass failed"), []))) ?? [];
  }

  /**
   * Reads the slot's wal_status; anything but `reserved` is logged as a warning (`extended`: WAL
   * beyond max_wal_size is kept for it; `unreserved`: the next checkpoint removes WAL it needs;
   * `lost`: gone, the chain is broken). Returns the status.
   */
  async checkSlot(): Promise<string | null> {
    const slot = slotNameFor(this.#server.id);
    const [row] = await pgQuery<{ wal_status: string | null }>(
      this.#d.connectionOf(this.#server),
      "SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1",
      [slot],
    );
    this.slotStatus = row?.wal_status ?? null;
    const warning =
      this.slotStatus === "reserved"
        ? null
        : `replication slot ${slot} has wal_status ${this.slotStatus ?? "(missing)"}, not reserved: ${SLOT_RISK[this.slotStatus ?? "missing"] ?? "WAL it needs may be removed"}`;
    const stream = await this.#d.prisma.pitrStream.findUnique({ where: { serverId: this.#server.id }, select: { warning: true } });
    if ((stream?.warning ?? null) !== warning) await this.#d.prisma.pitrStream.updateMany({ where: { serverId: this.#server.id }, data: { warning } });
    if (this.slotStatus !== "reserved") {
      this.#d.logger.warn(
        { serverId: this.#server.id, slot, walStatus: this.slotStatus },
        `replication slot ${slot} has wal_status ${this.slotStatus ?? "(missing)"}, not reserved: the WAL receiver lags, the primary keeps (or drops) WAL for it; see max_slot_wal_keep_size`,
      );
      if (this.slotStatus === "lost" || this.slotStatus === null) {
        const reason = `replication slot ${slot} ${this.slotStatus === null ? "is missing" : "lost WAL the archive did not have yet"} (wal_status ${this.slotStatus ?? "none"})`;
        await this.#d.prisma.pitrStream.updateMany({ where: { serverId: this.#server.id }, data: { brokenAt: new Date(), brokenReason: reason } });
      }
    }
    return this.slotStatus;
  }

  /**
   * Why a base backup is due now, or null: the server has none yet (PITR was just turned on), or a
   * scheduled backup of it started after its newest base backup started (base backups follow the
   * server's schedules: the logical dumps cannot start a WAL replay). A failed attempt waits
   * BASE_RETRY_MS unless a newer scheduled backup asks again.
   */
  async baseBackupDue(): Promise<string | null> {
    const { prisma } = this.#d;
    const serverId = this.#server.id;
    const [lastBase, lastGood, lastScheduled] = await Promise.all([
      prisma.backup.findFirst({ where: { serverId, database: CLUSTER_DATABASE }, orderBy: { createdAt: "desc" } }),
      prisma.backup.findFirst({ where: { serverId, database: CLUSTER_DATABASE, status: "SUCCEEDED" }, orderBy: { createdAt: "desc" } }),
      prisma.backup.findFirst({ where: { serverId, trigger: "SCHEDULED", NOT: { database: CLUSTER_DATABASE } }, orderBy: { createdAt: "desc" } }),
    ]);
    if (lastBase?.status === "RUNNING" || lastBase?.status === "PENDING") return null;
    const scheduledSince = lastScheduled && (!lastBase || lastScheduled.createdAt > lastBase.createdAt);
    if (lastBase?.status === "FAILED" && !scheduledSince && Date.now() - lastBase.createdAt.getTime() < BASE_RETRY_MS) return null;
    if (!lastGood) return "the server has no base backup yet";
    if (scheduledSince) return `scheduled backup ${lastScheduled.id} started after the newest base backup`;
    return null;
  }

  /** Takes a base backup now onto the PITR targets (one at a time); never throws. */
  baseBackup(): Promise<unknown> {
    const { prisma, storeFor, connectionOf, archiveRecipients } = this.#d;
    this.#base ??= takeBaseBackup({ prisma, storeFor, connectionOf, archiveRecipients }, this.#server, {
      trigger: "SCHEDULED",
      instanceId: this.#d.instanceId,
      signal: this.#baseAbort.signal,
    })
      .then((r) => this.#d.logger.info({ serverId: this.#server.id, backupId: r.backupId, startLsn: r.position.startLsn }, "base backup taken"))
      .catch((error: unknown) => this.#d.logger.error({ err: error, serverId: this.#server.id }, "the base backup failed"))
      .finally(() => (this.#base = null));
    return this.#base;
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#baseAbort.abort();
    await this.#base;
    await this.#streamer?.stop();
    await this.#ticking;
    await this.#archiver?.tick().catch(() => []);
    await this.#d.prisma.pitrStream.updateMany({
      where: { serverId: this.#server.id, leaseOwner: this.#d.instanceId },
      data: { leaseOwner: null, leaseUntil: null },
    });
  }

  async #ensureSlot(conn: ServerConnection, slot: string): Promise<void> {
    const existing = await pgQuery(conn, "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [slot]);
    // immediately_reserve = true: WAL is kept from now on, before pg_receivewal first connects.
    if (!existing.length) await pgQuery(conn, "SELECT pg_create_physical_replication_slot($1, true)", [slot]);
  }

  async #renewLease(): Promise<boolean> {
    const { prisma, instanceId } = this.#d;
    const serverId = this.#server.id;
    await prisma.pitrStream.upsert({ where: { serverId }, create: { serverId }, update: {} });
    const taken = await prisma.pitrStream.updateMany({
      where: { serverId, OR: [{ leaseOwner: null }, { leaseOwner: instanceId }, { leaseUntil: { lt: new Date() } }] },
      data: { leaseOwner: instanceId, leaseUntil: new Date(Date.now() + LEASE_MS) },
    });
    return taken.count === 1;
  }
}

/** `16MB` / `16777216` → bytes. */
export function parseSize(value: string): number {
  const m = /^(\d+)\s*(kB|MB|GB)?$/.exec(value.trim());
  if (!m) throw new Error(`unexpected size ${value}`);
  return Number(m[1]) * ({ kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m[2] as "kB"] ?? 1);
}
