import fs from "node:fs/promises";
import path from "node:path";
import type { PrismaClient } from "../db/client.ts";
import type { Server, StorageTarget } from "../db/generated/client.ts";
import type { Logger } from "../observability/logger.ts";
import { firstMysqlProgram } from "../process/programs.ts";
import type { ServerConnection } from "../process/server-connection.ts";
import { withMysql } from "../runner/dumpers/server-session.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { PitrArchiver } from "./archiver.ts";
import type { ArchiveRecipients } from "./archive-crypto.ts";
import { binlogSequence } from "./binlog-file.ts";
import { BinlogStreamer, binlogStreamCommand, streamServerIdFor, type BinlogTool } from "./streamer.ts";

const LEASE_MS = 60_000;
const TICK_MS = 1000;

export type SupervisorDeps = {
  prisma: PrismaClient;
  logger: Logger;
  instanceId: string;
  /** `<dataDir>/pitr`: one spool directory per server below it. */
  spoolRoot: string;
  connectionOf(server: Server): ServerConnection;
  storeFor(target: StorageTarget): ArtifactStore;
  tickMs?: number;
  /** The keys this server's archives are encrypted to (its dump profile encrypts), or null: read per shipment. */
  archiveRecipients?: ArchiveRecipients;
};

/** What the source says about itself and its binlogs when the streamer (re)starts. */
type SourceState = { identity: string; serverId: number; files: string[] };

/**
 * One server's archiving, owned by this instance through the PitrStream lease row: the
 * supervised streamer and an archiver pass every second. A purged binlog (the file the chain
 * needs next is no longer on the source) marks the chain broken before streaming resumes from
 * the oldest file the source still has.
 */
export class ServerPitr {
  readonly #d: SupervisorDeps;
  readonly #server: Server;
  readonly #spool: string;
  #identity: string | null = null;
  #streamer: BinlogStreamer | null = null;
  #archiver: PitrArchiver | null = null;
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<unknown> | null = null;

  constructor(deps: SupervisorDeps, server: Server) {
    this.#d = deps;
    this.#server = server;
    this.#spool = path.join(deps.spoolRoot, String(server.id));
  }

  get spoolDir(): string {
    return this.#spool;
  }

  /** Takes the lease (false when another live instance holds it), then starts streaming and archiving. */
  async start(): Promise<boolean> {
    if (!(await this.#renewLease())) return false;
    await fs.mkdir(this.#spool, { recursive: true, mode: 0o700 });
    const targets = await this.#targets();
    const found = await firstMysqlProgram(["mariadb-binlog", "mysqlbinlog"], process.env.PATH ?? "");
    if (!found) throw new Error("neither mariadb-binlog nor mysqlbinlog is installed on this machine");
    // Its --version line does not say MariaDB ("Ver 3.5 for debian-linux-gnu"): the name does.
    const tool: BinlogTool = { path: found.path, flavor: /mariadb/i.test(found.path) || /mariadb/i.test(found.version) ? "mariadb" : found.flavor };
    const log = this.#d.logger.child({ component: "pitr", serverId: this.#server.id });
    this.#archiver = new PitrArchiver({
      prisma: this.#d.prisma,
      logger: log,
      serverId: this.#server.id,
      serverName: this.#server.name,
      spoolDir: this.#spool,
      targets: targets.map((t) => ({ id: t.id, store: this.#d.storeFor(t) })),
      rpoSeconds: this.#server.pitrRpoSeconds,
      sourceIdentity: () => this.#identity,
      recipients: () => this.#d.archiveRecipients?.(this.#server) ?? Promise.resolve(null),
    });
    this.#streamer = new BinlogStreamer({ logger: log, startCommand: () => this.#startCommand(tool) });
    this.#streamer.start();
    this.#timer = setInterval(() => {
      this.#ticking ??= this.tick().finally(() => (this.#ticking = null));
    }, this.#d.tickMs ?? TICK_MS);
    return true;
  }

  /** One archiver pass (and a lease renewal); exposed for tests and shutdown. */
  async tick(): Promise<string[]> {
    if (!(await this.#renewLease().catch(() => true))) {
      await this.stop();
      return [];
    }
    return (await this.#archiver?.tick().catch((error: unknown) => (this.#d.logger.warn({ err: error }, "binlog archiving pass failed"), []))) ?? [];
  }

  /** Stops the streamer, ships what the spool holds once more and gives the lease up. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#streamer?.stop();
    await this.#ticking;
    await this.#d.prisma.pitrStream.updateMany({
      where: { serverId: this.#server.id, leaseOwner: this.#d.instanceId },
      data: { leaseOwner: null, leaseUntil: null },
    });
  }

  get restarts(): number {
    return this.#streamer?.restarts ?? 0;
  }

  async #renewLease(): Promise<boolean> {
    const { prisma, instanceId } = this.#d;
    const serverId = this.#server.id;
    const until = new Date(Date.now() + LEASE_MS);
    await prisma.pitrStream.upsert({ where: { serverId }, create: { serverId }, update: {} });
    const taken = await prisma.pitrStream.updateMany({
      where: { serverId, OR: [{ leaseOwner: null }, { leaseOwner: instanceId }, { leaseUntil: { lt: new Date() } }] },
      data: { leaseOwner: instanceId, leaseUntil: until },
    });
    return taken.count === 1;
  }

  async #targets(): Promise<StorageTarget[]> {
    const ids = Array.isArray(this.#server.pitrStorageTargetIds) ? (this.#server.pitrStorageTargetIds as number[]) : null;
    const targets = await this.#d.prisma.storageTarget.findMany({ where: ids ? { id: { in: ids } } : { isDefault: true, enabled: true } });
    if (!targets.length) throw new Error(`server ${this.#server.name} has point-in-time recovery on but no storage target for it (and no default target)`);
    return targets;
  }

  /** Reads the source's identity and binlog list, decides where to resume, marks a purge. */
  async #startCommand(tool: BinlogTool) {
    const conn = this.#d.connectionOf(this.#server);
    const source = await readSource(conn);
    this.#identity = source.identity;
    const { prisma } = this.#d;
    const serverId = this.#server.id;
    const stream = await prisma.pitrStream.findUnique({ where: { serverId } });
    if (stream?.sourceIdentity && stream.sourceIdentity !== source.identity) {
      // Another server answers at this address (a failover, a rebuilt host): its binlog is not
      // this chain's continuation, and its file names would clash with the archived ones.
      const reason = `the source changed: ${source.identity} now, ${stream.sourceIdentity} before (another server answers at this address); archiving is paused until point-in-time recovery is turned off and on again for this server`;
      if (stream.brokenReason !== reason) {
        await prisma.pitrStream.update({ where: { serverId }, data: { brokenAt: new Date(), brokenFromFile: null, brokenReason: reason } });
        this.#d.logger.error({ serverId, reason }, "the binlog archive chain is broken");
      }
      return null;
    }
    const archived = (await prisma.pitrArchive.findMany({ where: { serverId, partial: false }, select: { file: true } }))
      .map((a) => a.file)
      .sort((a, b) => binlogSequence(a)! - binlogSequence(b)!);
    const spooled = (await fs.readdir(this.#spool).catch(() => [] as string[]))
      .filter((n) => binlogSequence(n) !== null)
      .sort((a, b) => binlogSequence(a)! - binlogSequence(b)!);
    const last = archived.at(-1);
    // Resume at the first file not archived yet (a spooled one is fetched again from its start).
    const wanted = spooled[0] ?? (last ? nextFile(last) : source.files[0]);
    if (!wanted || !source.files.length) return null;
    if (!source.files.includes(wanted)) {
      const oldest = source.files[0]!;
      const wantedSeq = binlogSequence(wanted)!;
      if (binlogSequence(oldest)! > wantedSeq) {
        // Purged before it was archived: everything from `wanted` to the oldest remaining file is lost.
        const reason = `binlog ${wanted} was purged on the source before it was archived (the source's oldest binlog is ${oldest})`;
        await prisma.pitrStream.update({ where: { serverId }, data: { brokenAt: new Date(), brokenFromFile: oldest, brokenReason: reason } });
        this.#d.logger.error({ serverId, reason }, "the binlog archive chain is broken");
        return binlogStreamCommand(conn, tool, this.#spool, oldest, streamServerIdFor(serverId));
      }
      // The next file does not exist yet: the last archived one was the newest (a source restart): wait.
      return binlogStreamCommand(conn, tool, this.#spool, source.files.at(-1)!, streamServerIdFor(serverId));
    }
    return binlogStreamCommand(conn, tool, this.#spool, wanted, streamServerIdFor(serverId));
  }
}

/** The binlog after `file`: same base name, sequence + 1, same width. */
export function nextFile(file: string): string {
  const m = /^(.*\.)(\d+)$/.exec(file)!;
  return `${m[1]}${String(Number(m[2]) + 1).padStart(m[2]!.length, "0")}`;
}

/** @@server_id and identity (MySQL: server_uuid; MariaDB: "mariadb:<server_id>") and SHOW BINARY LOGS. */
export async function readSource(conn: ServerConnection): Promise<SourceState> {
  return withMysql(conn, async (c) => {
    const [row] = (await c.query("SELECT @@server_id AS id, @@version AS version")) as Array<{ id: number; version: string }>;
    const uuid = /mariadb/i.test(row!.version) ? null : ((await c.query("SELECT @@server_uuid AS u")) as Array<{ u: string }>)[0]?.u;
    const logs = (await c.query("SHOW BINARY LOGS")) as Array<{ Log_name: string }>;
    return { identity: uuid ?? `mariadb:${row!.id}`, serverId: Number(row!.id), files: logs.map((l) => l.Log_name) };
  });
}
