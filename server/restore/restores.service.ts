import type { AuditLog } from "../audit/audit-log.ts";
import { actorName, requireRole, roleAtLeast, type Principal } from "../auth/roles.ts";
import type { PrismaClient } from "../db/client.ts";
import type { Backup, BackupArtifact, Prisma, Restore, StorageTarget } from "../db/generated/client.ts";
import {
  archivesOf,
  describeStop,
  parseBinlogPosition,
  parseGtid,
  planReplay,
  PitrRefusedError,
  positionBefore,
  type DumpPosition,
  type ReplayStop,
} from "../pitr/replay.ts";
import { AppError, ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import type { InterruptedWork } from "../recovery/interrupted-work.ts";
import { connectionOf } from "../runner/connection-of.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { formatOfKey, resolveArtifact } from "./backup-source.ts";
import { RestoreError, scrubSecret } from "./errors.ts";
import { databaseNameProblem, defaultRestoreName } from "./restore-command.ts";
import type { RestoreCredentials, RestoreJobs } from "./restore-job.ts";
import { preflightRestore, type RestorePreflight } from "./restore-preflight.ts";
import type { ServerConnection } from "../runner/dumpers/types.ts";
import { databaseExists } from "./target-database.ts";
import { pgBaseBackupFor } from "../pitr/pg/restore-to-time.ts";

/** What the restore API needs. */
export type RestoresDeps = {
  prisma: PrismaClient;
  secrets: SecretBox;
  storeFor: (target: StorageTarget) => ArtifactStore;
  audit: AuditLog;
  jobs: RestoreJobs;
  instanceId: string;
  /** Settles a RUNNING restore that no live process runs, when it is cancelled. */
  interrupted: Pick<InterruptedWork, "cancelRestore">;
};

/** restoreBackup's input: only backupId is required. */
export type RestoreInput = {
  backupId: number;
  storageTargetId?: number | null;
  serverId?: number | null;
  database?: string | null;
  overwrite?: boolean | null;
  /** Rewrite every DEFINER to the restoring user (MySQL/MariaDB), drop OWNER TO (PostgreSQL). */
  rewriteDefiners?: boolean | null;
  /** Restore as this account instead of the server's backup user; the password is never stored. */
  credentials?: RestoreCredentials | null;
  /** Restore to this instant: the newest dump before it, then the archived binlog replayed up to it. */
  pointInTime?: Date | null;
  /** Restore up to and including this MariaDB GTID ("domain-server-seq"); excludes pointInTime and stopAtPosition. */
  stopAtGtid?: string | null;
  /** Restore up to this binlog position ("mysql-bin.000007:1234"); excludes pointInTime and stopAtGtid. */
  stopAtPosition?: string | null;
  /** Replay past a broken archive chain. */
  force?: boolean | null;
};

/** restorePreflight's input: what restoreBackup would be given. */
export type PreflightInput = Pick<RestoreInput, "backupId" | "storageTargetId" | "serverId" | "database" | "credentials">;

/** How long a pre-flight may read the artifact and ask the server. */
const PREFLIGHT_TIMEOUT_MS = 10 * 60_000;

/** Filters of the restore history; every field optional. */
export type RestoreFilter = { backupId?: number | null; serverId?: number | null; status?: Restore["status"][] | null };

const ENGINE_FAMILY = { MYSQL: "mysql", MARIADB: "mysql", POSTGRESQL: "pg" } as const;

/**
 * Restores as recorded operations: validated and recorded PENDING (and audited) at once, then
 * claimed from the work queue and run in the background by RestoreJobs on an instance that runs
 * jobs (a restore with `credentials` runs on the accepting instance, refused on an `api` one). Operators restore into new databases; restoring over an
 * existing one needs overwrite: true and the admin role.
 */
export class RestoresService {
  constructor(private readonly deps: RestoresDeps) {}

  /**
   * Records a restore of a backup into `database` (default `<db>_restored_<UTC time>`) on
   * `serverId` (default: the backup's server) from `storageTargetId` (default: the first stored
   * copy). Throws ValidationError naming the field, FORBIDDEN for an overwrite below admin,
   * CONFLICT when a restore into that database is already under way, UNAVAILABLE when the server
   * cannot be reached.
   */
  async restoreBackup(principal: Principal, input: RestoreInput): Promise<Restore> {
    requireRole(principal, "OPERATOR");
    const { prisma } = this.deps;
    if (input.overwrite && !roleAtLeast(principal.role, "ADMIN")) throw new AppError("FORBIDDEN", "restoring over an existing database needs the admin role");
    // The password of `credentials` lives only in this process's memory: it cannot be handed to a worker.
    if (input.credentials && !this.deps.jobs.claims)
      throw new ValidationError(
        "credentials",
        "this instance (SQLGUARD_ROLE=api) runs no restores, and the password of credentials is held only in the memory of the instance that accepts the restore: send a restore with credentials to an instance with SQLGUARD_ROLE=all, or restore as the server's backup user",
      );
    const { backup, artifact, target, server, database, exists, sourceDatabase } = await this.#resolve(input);
    if (exists && !input.overwrite) {
      throw new ValidationError(
        "database",
        `${JSON.stringify(database)} already exists on ${server.name}: restoring over it needs overwrite: true (admin role)`,
      );
    }
    // (A PostgreSQL restore to a time reads a plain dump taken from the restored cluster, not this base backup's tar.)
    if (input.rewriteDefiners && formatOfKey(artifact.key) === "tar" && !(input.pointInTime && backup.engine === "POSTGRESQL"))
      throw new ValidationError("rewriteDefiners", "the definers of a PARALLEL artifact cannot be rewritten: restore it as a user with SET USER / SUPER");
    const busy = await prisma.restore.findFirst({ where: { serverId: server.id, database, status: { in: ["PENDING", "RUNNING"] } }, select: { id: true } });
    if (busy) throw new ConflictError("database", `restore ${busy.id} into ${JSON.stringify(database)} on ${server.name} is still under way`);

    const restore = await prisma.$transaction(async (tx) => {
      const row = await tx.restore.create({
        data: {
          backupId: backup.id,
          storageTargetId: target.id,
          artifactKey: artifact.key,
          serverId: server.id,
          serverName: server.name,
          engine: server.engine,
          sourceDatabase,
          database,
          overwrite: exists,
          restoreUser: input.credentials?.username ?? null,
          rewriteDefiners: input.rewriteDefiners ?? false,
          pointInTime: input.pointInTime ?? null,
          stopAtGtid: input.stopAtGtid?.trim() || null,
          stopAtPosition: input.stopAtPosition?.trim() || null,
          pointInTimeForce: input.force ?? false,
          requestedBy: actorName(principal),
          totalBytes: artifact.sizeBytes,
          // Queued (no instance) unless its password binds it to this process.
          instanceId: input.credentials ? this.deps.instanceId : null,
        },
      });
      await this.deps.audit.record(actorName(principal), "restore.start", "restore", row.id, null, row, tx);
      return row;
    });
    if (input.credentials) this.deps.jobs.start(restore.id, input.credentials);
    else this.deps.jobs.enqueue();
    return restore;
  }

  /**
   * Checks, before a restore, what restoring this backup as the restoring account (the server's
   * backup user, or `credentials`) would run into: the dump's DEFINERs / owners against the
   * account's privileges (SHOW GRANTS; PostgreSQL: role membership). Reads a plain SQL artifact
   * once. Throws ValidationError naming the field (credentials when the account cannot sign in).
   */
  async preflight(principal: Principal, input: PreflightInput): Promise<RestorePreflight> {
    requireRole(principal, "OPERATOR");
    const { backup, server, database, conn, exists, source } = await this.#resolve(input);
    const signal = AbortSignal.timeout(PREFLIGHT_TIMEOUT_MS);
    return preflightRestore(source, conn, { sourceDatabase: backup.database, database, exists }, signal).catch((error: Error) => {
      throw signInFailure(error, server.name, conn, input.credentials != null);
    });
  }

  /** The backup, its artifact, the server and database to restore into, and the restoring account's connection. */
  async #resolve(input: PreflightInput & Pick<RestoreInput, "pointInTime" | "stopAtGtid" | "stopAtPosition" | "force">) {
    const { prisma } = this.deps;
    const replay = replayStopOf(input);
    const named = await prisma.backup.findUnique({ where: { id: input.backupId }, include: { artifacts: true } });
    if (!named) throw new NotFoundError("backup", input.backupId);
    // A point in time (or GTID, or position) picks its own dump: the newest before it, of the same server and database.
    const backup = replay ? await pointInTimeDump(prisma, named, replay.stop, replay.field, input.force ?? false) : named;
    const { artifact, target, source } = await resolveArtifact(prisma, this.deps.storeFor, backup, input.storageTargetId);
    const serverId = input.serverId ?? backup.serverId;
    if (serverId === null) throw new ValidationError("serverId", `the server of backup ${backup.id} was deleted: name the server to restore into`);
    const server = await prisma.server.findUnique({ where: { id: serverId } });
    if (!server) throw new ValidationError("serverId", `no server with id ${serverId}`);
    if (ENGINE_FAMILY[server.engine] !== ENGINE_FAMILY[backup.engine]) {
      throw new ValidationError("serverId", `a ${backup.engine} backup cannot be restored into ${server.name}, a ${server.engine} server`);
    }
    const database = input.database ?? defaultRestoreName(server.engine, named.database, new Date());
    const problem = databaseNameProblem(server.engine, database);
    if (problem) throw new ValidationError("database", problem);
    const conn = withCredentials(connectionOf(server, this.deps.secrets), input.credentials);
    const exists = await databaseExists(conn, database).catch((error: Error) => {
      throw signInFailure(error, server.name, conn, input.credentials != null);
    });
    return { backup, artifact, target, source, server, database, conn, exists, sourceDatabase: named.database };
  }

  /**
   * Cancels a restore; always ends it. PENDING: at once; RUNNING here: stopped at once; RUNNING in
   * no live process (this instance's but not running here, or its lease expired): settled at once;
   * RUNNING on another live instance: stopped there at its next heartbeat.
   */
  async cancel(principal: Principal, id: number): Promise<Restore> {
    requireRole(principal, "OPERATOR");
    const { prisma } = this.deps;
    const before = await this.get(id);
    const now = new Date();
    const pending = await prisma.restore.updateMany({
      where: { id, status: "PENDING" },
      data: {
        status: "CANCELLED",
        cancelRequestedAt: now,
        finishedAt: now,
        error: "cancelled before it started",
        targetState: "UNTOUCHED",
        targetDetail: `${JSON.stringify(before.database)} was not changed`,
      },
    });
    const running = pending.count ? { count: 0 } : await prisma.restore.updateMany({ where: { id, status: "RUNNING" }, data: { cancelRequestedAt: now } });
    if (running.count && !this.deps.jobs.abortLocal(id, new RestoreError("CANCELLED", `cancelled by ${principal.username}`))) {
      await this.deps.interrupted.cancelRestore(id, principal.username);
    }
    if (pending.count || running.count) await this.deps.audit.record(actorName(principal), "restore.cancel", "restore", id, before, await this.get(id));
    return this.get(id);
  }

  async get(id: number): Promise<Restore> {
    const restore = await this.deps.prisma.restore.findUnique({ where: { id } });
    if (!restore) throw new NotFoundError("restore", id);
    return restore;
  }

  /** A page of the restore history, newest first; `after` is the last id of the previous page. */
  async list(filter: RestoreFilter, page: { first: number; after?: number | null }): Promise<{ nodes: Restore[]; hasNextPage: boolean }> {
    if (!Number.isInteger(page.first) || page.first < 1 || page.first > 500) throw new ValidationError("first", "must be between 1 and 500");
    const where: Prisma.RestoreWhereInput = { ...restoreWhere(filter), ...(page.after ? { id: { lt: page.after } } : {}) };
    const rows = await this.deps.prisma.restore.findMany({ where, orderBy: { id: "desc" }, take: page.first + 1 });
    return { nodes: rows.slice(0, page.first), hasNextPage: rows.length > page.first };
  }

  /** Restores the filter matches (the connection's totalCount). */
  count(filter: RestoreFilter): Promise<number> {
    return this.deps.prisma.restore.count({ where: restoreWhere(filter) });
  }
}

function restoreWhere(filter: RestoreFilter): Prisma.RestoreWhereInput {
  return {
    ...(filter.backupId != null ? { backupId: filter.backupId } : {}),
    ...(filter.serverId != null ? { serverId: filter.serverId } : {}),
    ...(filter.status?.length ? { status: { in: filter.status } } : {}),
  };
}

/** Backup users and roles are at most 80 (MariaDB), 32 (MySQL), 63 bytes (PostgreSQL): 150 leaves room. */
const MAX_USERNAME = 150;
const MAX_PASSWORD = 1024;

/** The connection as `credentials` instead of the server's backup user; ValidationError naming the field. */
function withCredentials(conn: ServerConnection, credentials: RestoreCredentials | null | undefined): ServerConnection {
  if (!credentials) return conn;
  const { username, password } = credentials;
  if (!username.trim()) throw new ValidationError("credentials.username", "must not be empty");
  if (username.length > MAX_USERNAME || username.includes("\0"))
    throw new ValidationError("credentials.username", `must be at most ${MAX_USERNAME} characters, without NUL`);
  if (password.length > MAX_PASSWORD || password.includes("\0"))
    throw new ValidationError("credentials.password", `must be at most ${MAX_PASSWORD} characters, without NUL`);
  return { ...conn, username, password: password || null };
}

/** A refused sign-in as the restoring account names the credentials; anything else is the server being unreachable. Never holds the password. */
function signInFailure(error: Error, serverName: string, conn: ServerConnection, ownCredentials: boolean): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof RestoreError) return new AppError("UNAVAILABLE", scrubSecret(error.message, conn.password), { cause: error });
  const message = scrubSecret(error.message, conn.password);
  if (ownCredentials && /access denied|password authentication failed|authentication failed|role .* does not exist/i.test(message))
    return new ValidationError("credentials", `${conn.username} cannot sign in to ${serverName}: ${message}`);
  return new AppError("UNAVAILABLE", `cannot reach ${serverName}: ${message}`, { cause: error });
}

/**
 * The replay target of a restore input, with the field it came from; null for a dump alone.
 * Throws ValidationError when more than one is given or one is malformed.
 */
export function replayStopOf(input: Pick<RestoreInput, "pointInTime" | "stopAtGtid" | "stopAtPosition">): { stop: ReplayStop; field: string } | null {
  const given = (["pointInTime", "stopAtGtid", "stopAtPosition"] as const).filter((f) => input[f] != null && input[f] !== "");
  if (given.length > 1) throw new ValidationError(given[1]!, `${given.join(" and ")} exclude each other: restore to one target`);
  if (input.pointInTime) return { stop: { at: input.pointInTime }, field: "pointInTime" };
  if (input.stopAtGtid) {
    if (!parseGtid(input.stopAtGtid))
      throw new ValidationError("stopAtGtid", `${JSON.stringify(input.stopAtGtid)} is not a MariaDB GTID: domain-server-seq, e.g. 0-1-42`);
    return { stop: { gtid: input.stopAtGtid.trim() }, field: "stopAtGtid" };
  }
  if (input.stopAtPosition) {
    const position = parseBinlogPosition(input.stopAtPosition);
    if (!position)
      throw new ValidationError("stopAtPosition", `${JSON.stringify(input.stopAtPosition)} is not a binlog position: file:offset, e.g. mysql-bin.000007:1234`);
    return { stop: position, field: "stopAtPosition" };
  }
  return null;
}

/** Whether a dump with this position is before (or at) the replay target. */
function dumpBefore(position: DumpPosition, stop: ReplayStop, finishedAt: Date | null): boolean {
  if ("at" in stop) return finishedAt !== null && finishedAt <= stop.at;
  if ("file" in stop) return !positionBefore(stop, { file: position.binlogFile!, position: position.binlogPosition! });
  const gtid = parseGtid(stop.gtid)!;
  const dumped = (position.gtidSet ?? "")
    .split(",")
    .map((g) => parseGtid(g))
    .find((g) => g?.domain === gtid.domain);
  // A dump without this domain in its GTID state is before every transaction of it.
  return !dumped || dumped.seq <= gtid.seq;
}

/**
 * The dump a restore to `stop` starts from: the newest SUCCEEDED/PARTIAL backup of `named`'s
 * server and database with an exact binlog position before it (finished before the time; its
 * recorded position or GTID state before the position or GTID), checked against the archive
 * (planReplay). Throws ValidationError on `field` saying why it cannot be done.
 */
async function pointInTimeDump(prisma: PrismaClient, named: Backup & { artifacts: BackupArtifact[] }, stop: ReplayStop, field: string, force: boolean) {
  if (named.serverId === null) throw new ValidationError(field, "the backup's server was deleted, and its binlog archive with it");
  if ("at" in stop && stop.at.getTime() > Date.now()) throw new ValidationError(field, `${stop.at.toISOString()} is in the future`);
  // PostgreSQL: a base backup replayed to the time (server/pitr/pg); GTIDs and binlog positions are MariaDB / MySQL's.
  if (named.engine === "POSTGRESQL") {
    if (!("at" in stop)) throw new ValidationError(field, "a PostgreSQL server restores to a point in time (pointInTime) only");
    return pgBaseBackupFor(prisma, named, stop.at, force);
  }
  if ("gtid" in stop && named.engine !== "MARIADB")
    throw new ValidationError(field, "restoring to a GTID needs MariaDB GTIDs (domain-server-seq): use stopAtPosition");
  const candidates = await prisma.backup.findMany({
    where: {
      serverId: named.serverId,
      database: named.database,
      status: { in: ["SUCCEEDED", "PARTIAL"] },
      ...("at" in stop ? { finishedAt: { lte: stop.at } } : {}),
    },
    include: { artifacts: true },
    orderBy: { finishedAt: "desc" },
  });
  const dump = candidates.find((b) => {
    const position = b.position as DumpPosition | null;
    return position?.binlogFile !== undefined && position.binlogPosition !== undefined && dumpBefore(position, stop, b.finishedAt);
  });
  if (!dump) throw new ValidationError(field, `no dump of ${named.database} with an exact binlog position before ${describeStop(stop)}`);
  try {
    const { archives, streamBrokenReason } = await archivesOf(prisma, named.serverId);
    planReplay(archives, dump.position as DumpPosition, stop, { force, streamBrokenReason });
  } catch (error) {
    if (error instanceof PitrRefusedError) throw new ValidationError(field, `${error.message}`);
    throw error;
  }
  return dump;
}
