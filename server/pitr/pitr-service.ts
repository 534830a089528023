import { PgServerPitr } from "./pg/receiver.ts";
import type { PrismaClient } from "../db/client.ts";
import type { Server, StorageTarget } from "../db/generated/client.ts";
import type { Logger } from "../observability/logger.ts";
import type { SqlguardMetrics } from "../observability/metrics.ts";
import type { ServerConnection } from "../process/server-connection.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { ServerPitr } from "./pitr-supervisor.ts";
import type { ArchiveRecipients } from "./archive-crypto.ts";
import { pitrStatus } from "./pitr-window.ts";
import { verifyArchives } from "./verify-archives.ts";
import { checkpointDue, takeCheckpoints } from "./checkpoints.ts";
import { takePgCheckpoints } from "./pg/pg-checkpoints.ts";

const RECONCILE_MS = 15_000;
const VERIFY_EVERY = 40; // reconcile passes: every 10 minutes

export type PitrServiceDeps = {
  prisma: PrismaClient;
  logger: Logger;
  instanceId: string;
  spoolRoot: string;
  connectionOf(server: Server): ServerConnection;
  storeFor(target: StorageTarget): ArtifactStore;
  metrics?: SqlguardMetrics;
  /** A chain found broken (once per new reason): the PITR_CHAIN_BROKEN notification. */
  onBroken?(server: string, reason: string): void;
  /** How often row-count checkpoints are taken on the servers this instance archives (0 = never). */
  checkpointMs?: number;
  /** The keys this server's archives are encrypted to (its dump profile encrypts), or null: read per shipment. */
  archiveRecipients?: ArchiveRecipients;
};

/**
 * Runs binlog archiving for every server with point-in-time recovery on: reconciles every 15 s
 * (starts a ServerPitr where this instance gets the lease, stops those turned off or changed),
 * checks the archive objects every 10 minutes, takes row-count checkpoints (checkpoints.ts), refreshes the window metrics and announces new
 * chain breaks.
 */
export class PitrService {
  readonly #running = new Map<number, { pitr: ServerPitr | PgServerPitr; version: number }>();
  readonly #announced = new Map<number, string>();
  #timer: NodeJS.Timeout | null = null;
  #passes = 0;
  #busy: Promise<void> | null = null;

  constructor(private readonly deps: PitrServiceDeps) {}

  start(): void {
    this.#timer ??= setInterval(() => void this.reconcile(), RECONCILE_MS);
    void this.reconcile();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#busy;
    await Promise.all([...this.#running.values()].map((r) => r.pitr.stop()));
    this.#running.clear();
  }

  /** One pass; never throws. */
  reconcile(): Promise<void> {
    this.#busy ??= this.#reconcile()
      .catch((error: unknown) => this.deps.logger.warn({ err: error }, "point-in-time recovery reconcile failed"))
      .finally(() => (this.#busy = null));
    return this.#busy;
  }

  async #reconcile(): Promise<void> {
    const { prisma, logger } = this.deps;
    const servers = await prisma.server.findMany({ where: { pitrEnabled: true, enabled: true, engine: { in: ["MARIADB", "MYSQL", "POSTGRESQL"] } } });
    for (const [id, r] of this.#running) {
      const now = servers.find((s) => s.id === id);
      if (!now || now.updatedAt.getTime() !== r.version) {
        await r.pitr.stop();
        this.#running.delete(id);
      }
    }
    for (const server of servers) {
      if (this.#running.has(server.id)) continue;
      // PostgreSQL: a replication slot and pg_receivewal (server/pitr/pg) under the same lease.
      const pitr = server.engine === "POSTGRESQL" ? new PgServerPitr(this.deps, server) : new ServerPitr(this.deps, server);
      const started = await pitr
        .start()
        .catch((error: unknown) => (logger.error({ err: error, serverId: server.id }, "binlog archiving could not start"), false));
      if (started) this.#running.set(server.id, { pitr, version: server.updatedAt.getTime() });
    }
    if (this.#passes++ % VERIFY_EVERY === 0) {
      for (const server of servers) await verifyArchives(prisma, server.id, this.deps.storeFor).catch(() => []);
    }
    // Row counts at an exact position, for point-in-time drills: only where this instance holds the lease.
    if (this.deps.checkpointMs) {
      for (const server of servers.filter((s) => ["MARIADB", "POSTGRESQL"].includes(s.engine) && this.#running.has(s.id))) {
        if (!(await checkpointDue(prisma, server.id, this.deps.checkpointMs))) continue;
        const take = server.engine === "POSTGRESQL" ? takePgCheckpoints : takeCheckpoints;
        await take(prisma, server, this.deps.connectionOf(server)).catch((error: unknown) =>
          logger.warn({ err: error, serverId: server.id }, "could not take a row-count checkpoint"),
        );
      }
    }
    const statuses = await Promise.all(servers.map(async (s) => ({ server: s, status: await pitrStatus(prisma, s) })));
    this.deps.metrics?.setPitr(
      statuses.map(({ server, status }) => ({
        server: server.name,
        from: status.recoverableFrom,
        to: status.recoverableTo,
        lagSeconds: status.lagSeconds,
        broken: status.broken,
      })),
    );
    for (const { server, status } of statuses) {
      if (status.broken && status.brokenReason && this.#announced.get(server.id) !== status.brokenReason) {
        this.#announced.set(server.id, status.brokenReason);
        this.deps.onBroken?.(server.name, status.brokenReason);
      }
    }
  }
}
