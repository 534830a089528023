import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import { MANIFEST_SUFFIX } from "../runner/artifact-key.ts";
import { restoredDatabases, selectBackupDatabases } from "../catalog/restored-databases.ts";
import { labelsMatch, type LabelSelector } from "../catalog/server-selector.ts";
import type { BackupsRepository, BackupWithArtifacts } from "../db/backups.repository.ts";
import type { PrismaClient } from "../db/client.ts";
import type { Backup, DumpOptions, Prisma, Server } from "../db/generated/client.ts";
import { AppError, NotFoundError, ValidationError } from "../errors.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import { artifactKey } from "../runner/artifact-key.ts";
import type { BackupRunner } from "../runner/backup-runner.ts";
import { connectionOf } from "../runner/connection-of.ts";
import type { DumpEngine } from "../runner/dump-engine.ts";
import { BackupError } from "../runner/errors.ts";
import type { BackupEvent, BackupEvents } from "../runner/events.ts";
import { eventStream } from "../runner/event-stream.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import type { InterruptedWork } from "../recovery/interrupted-work.ts";
import { deleteBackup } from "./delete-backup.ts";
import type { StorageTarget } from "../db/generated/client.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { contentTypeOf, formatOfKey } from "../runner/artifact-key.ts";
import type { Readable } from "node:stream";

export type BackupsDeps = {
  prisma: PrismaClient;
  repo: BackupsRepository;
  runner: BackupRunner;
  engine: DumpEngine;
  secrets: SecretBox;
  events: BackupEvents;
  instanceId: string;
  storeFor: (target: StorageTarget) => ArtifactStore;
  audit: AuditLog;
  /** Settles a RUNNING backup that no live process runs, when it is cancelled. */
  interrupted: Pick<InterruptedWork, "cancelBackup">;
};

/** The history's order: by creation time, then id. */
export type BackupOrder = "NEWEST_FIRST" | "OLDEST_FIRST";

/** Filters of the backup history; every field optional. */
export type BackupFilter = {
  serverId?: number | null;
  /** The server name as recorded on the backup: a deleted server's backups too. */
  serverName?: string | null;
  database?: string | null;
  scheduleId?: number | null;
  status?: Backup["status"][] | null;
  storageTargetId?: number | null;
  trigger?: Backup["trigger"] | null;
  from?: Date | null;
  to?: Date | null;
  /** Backups of the servers that carry every one of these labels now (e.g. env=prod). */
  serverLabels?: Array<{ key: string; value: string }> | null;
};

/** An artifact opened for download. */
export type ArtifactDownload = { body: Readable; fileName: string; contentType: string; bytes: number | null };

type ServerRow = Server & { dumpOptions: DumpOptions | null };

/** What to back up: one server, some databases, some targets, for a schedule or by hand. */
/** Rows recorded per transaction by `queue`: big enough to spare round trips, small enough for short locks. */
export const QUEUE_BATCH = 250;

export type BackupRequest = {
  server: ServerRow;
  databases: string[];
  storageTargetIds: number[];
  schedule: { id: number; name: string } | null;
  trigger: Backup["trigger"];
  dueAt: Date | null;
};

/**
 * Starting, cancelling and reading backups. "Back up now" and a schedule tick both end in
 * `queue`, which records PENDING backups and hands them to the runner.
 */
export class BackupsService {
  constructor(private readonly deps: BackupsDeps) {}

  /**
   * A manual backup of a server: the databases given, or all that its include/exclude patterns
   * select now; the targets given, or the default ones. Returns the PENDING records at once.
   */
  async runBackup(
    principal: Principal,
    input: { serverId: number; databases?: string[] | null; storageTargetIds?: number[] | null },
  ): Promise<BackupWithArtifacts[]> {
    requireRole(principal, "OPERATOR");
    const server = await this.deps.prisma.server.findUnique({ where: { id: input.serverId }, include: { dumpOptions: true } });
    if (!server) throw new NotFoundError("server", input.serverId);
    const storageTargetIds = await this.resolveTargets(input.storageTargetIds ?? []);
    let databases = input.databases ?? [];
    if (databases.some((d) => d.length === 0 || d.length > 255)) throw new ValidationError("databases", "database names must be 1 to 255 characters");
    if (databases.length === 0) databases = await this.discover(server);
    const queued = await this.queue({ server, databases: [...new Set(databases)], storageTargetIds, schedule: null, trigger: "MANUAL", dueAt: null });
    // Who asked for which backups: names, since ids outlive nothing once a server is deleted.
    await this.deps.audit.record(actorName(principal), "backup.run", "server", server.id, null, {
      server: server.name,
      databases: queued.map((b) => b.database),
      backupIds: queued.map((b) => b.id),
      storageTargetIds,
    });
    return queued;
  }

  /** The databases a run of this server covers now: every non-system one its patterns select. */
  async discover(server: ServerRow): Promise<string[]> {
    let all: string[];
    try {
      all = (await this.deps.engine.inspect(connectionOf(server, this.deps.secrets))).databases;
    } catch (error) {
      throw new AppError("UNAVAILABLE", `cannot list the databases of ${server.name}: ${(error as Error).message}`, { cause: error });
    }
    // Databases SQLGuard created by a restore are left out unless included by their exact name.
    const selected = selectBackupDatabases(all, server, await restoredDatabases(this.deps.prisma, server.id));
    if (selected.length === 0) throw new ValidationError("databases", `no database of ${server.name} matches its include/exclude patterns`);
    return selected;
  }

  /** The given targets (each must exist and be enabled), or the enabled default targets. */
  async resolveTargets(ids: number[]): Promise<number[]> {
    const { prisma } = this.deps;
    if (ids.length === 0) {
      const defaults = await prisma.storageTarget.findMany({ where: { isDefault: true, enabled: true }, select: { id: true } });
      if (defaults.length === 0) throw new ValidationError("storageTargetIds", "none given, and no enabled storage target is marked as default");
      return defaults.map((t) => t.id);
    }
    const found = await prisma.storageTarget.findMany({ where: { id: { in: ids } } });
    for (const id of ids) {
      const target = found.find((t) => t.id === id);
      if (!target) throw new ValidationError("storageTargetIds", `no storage target with id ${id}`);
      if (!target.enabled) throw new ValidationError("storageTargetIds", `storage target ${target.name} is disabled`);
    }
    return [...new Set(ids)];
  }

  /**
   * Records one PENDING backup per database and starts them in the background: in batches of
   * QUEUE_BATCH rows (one transaction each, server/db/backups.repository.ts createPendingMany), the
   * claimers woken once per batch. A database whose row for this due time already exists (another
   * instance recorded the tick) is left out of the result.
   */
  async queue(request: BackupRequest): Promise<BackupWithArtifacts[]> {
    const { server } = request;
    const profile = server.dumpOptions;
    const compression = profile?.compression ?? "ZSTD";
    const format = profile?.engine === "PARALLEL" ? "tar" : server.engine === "POSTGRESQL" && profile?.pgFormat === "CUSTOM" ? "pg-custom" : "sql";
    const created: BackupWithArtifacts[] = [];
    for (let i = 0; i < request.databases.length; i += QUEUE_BATCH) {
      const batch = await this.deps.repo.createPendingMany({
        serverId: server.id,
        serverName: server.name,
        engine: server.engine,
        databases: request.databases.slice(i, i + QUEUE_BATCH),
        scheduleId: request.schedule?.id ?? null,
        scheduleName: request.schedule?.name ?? null,
        trigger: request.trigger,
        dueAt: request.dueAt,
        compression,
        instanceId: this.deps.instanceId,
        storageTargetIds: request.storageTargetIds,
        keyOf: (b) => artifactKey({ ...b, backupId: b.id, format, compression }),
      });
      for (const b of batch) this.deps.events.emit({ type: "CREATED", backupId: b.id });
      if (batch.length) this.deps.runner.enqueue(batch.map((b) => b.id));
      created.push(...batch);
    }
    return created;
  }

  /**
   * Cancels a backup; always ends it. PENDING: CANCELLED at once. RUNNING here: stopped at once.
   * RUNNING in no live process (this instance's but not running in this process, or its lease
   * expired): settled at once (CANCELLED, or SUCCEEDED if its artifacts were already committed).
   * RUNNING on another live instance: that instance stops it at its next heartbeat (and if it is
   * dead after all, its lease expires and the lease sweep settles it as cancelled).
   */
  async cancel(principal: Principal, id: number): Promise<BackupWithArtifacts> {
    requireRole(principal, "OPERATOR");
    const outcome = await this.deps.repo.requestCancel(id);
    if (outcome === "finished" && !(await this.deps.repo.get(id))) throw new NotFoundError("backup", id);
    if (outcome === "requested" && !this.deps.runner.abortLocal(id, new BackupError("CANCELLED", `cancelled by ${principal.username}`))) {
      await this.deps.interrupted.cancelBackup(id, principal.username);
    }
    if (outcome === "cancelled") this.deps.events.emit({ type: "STATUS", backupId: id, status: "CANCELLED" });
    const backup = (await this.deps.repo.get(id))!;
    if (outcome !== "finished") {
      await this.deps.audit.record(actorName(principal), "backup.cancel", "backup", id, null, {
        server: backup.serverName,
        database: backup.database,
        status: backup.status,
      });
    }
    return backup;
  }

  /**
   * A page of the history, newest (or oldest) first by createdAt, then id. The cursor is the last row's
   * `<createdAt ms>.<id>`, so a deep page costs as much as the first (keyset pagination).
   */
  async list(
    filter: BackupFilter,
    page: { first: number; after?: string | null; order?: BackupOrder | null },
  ): Promise<{ nodes: BackupWithArtifacts[]; hasNextPage: boolean }> {
    if (!Number.isInteger(page.first) || page.first < 1 || page.first > 500) throw new ValidationError("first", "must be between 1 and 500");
    const after = page.after ? parseCursor(page.after) : null;
    const dir = page.order === "OLDEST_FIRST" ? "asc" : "desc";
    filter = await this.#withLabelServers(filter);
    const ids = filter.storageTargetId != null ? await this.#idsOnTarget(filter, filter.storageTargetId, page.first + 1, after, dir) : null;
    const rows = await this.deps.prisma.backup.findMany({
      where: ids ? { id: { in: ids } } : { AND: [backupWhere(filter), afterCursor(after, dir)] },
      orderBy: [{ createdAt: dir }, { id: dir }],
      take: page.first + 1,
      include: { artifacts: true },
    });
    return { nodes: rows.slice(0, page.first), hasNextPage: rows.length > page.first };
  }

  /**
   * The ids of the next `take` backups with an artifact on a target. MariaDB plans the EXISTS
   * semi-join by reading every artifact of the target; walking the history in chunks and checking
   * each chunk's artifacts stays fast when the target holds many backups, and the semi-join is the
   * fallback for a target that holds few.
   */
  async #idsOnTarget(filter: BackupFilter, storageTargetId: number, take: number, after: Cursor | null, dir: "asc" | "desc"): Promise<number[]> {
    const { prisma } = this.deps;
    const { storageTargetId: _omit, ...rest } = filter;
    const found: number[] = [];
    let cursor = after;
    for (let round = 0; round < 10 && found.length < take; round++) {
      const chunk = await prisma.backup.findMany({
        where: { AND: [backupWhere(rest), afterCursor(cursor, dir)] },
        orderBy: [{ createdAt: dir }, { id: dir }],
        take: 1000,
        select: { id: true, createdAt: true },
      });
      if (chunk.length === 0) return found;
      const onTarget = new Set(
        (await prisma.backupArtifact.findMany({ where: { storageTargetId, backupId: { in: chunk.map((c) => c.id) } }, select: { backupId: true } })).map(
          (a) => a.backupId,
        ),
      );
      for (const c of chunk) if (onTarget.has(c.id) && found.length < take) found.push(c.id);
      if (chunk.length < 1000) return found;
      cursor = chunk.at(-1)!;
    }
    if (found.length >= take) return found;
    const rest2 = await prisma.backup.findMany({
      where: { AND: [backupWhere(filter), afterCursor(cursor, dir)] },
      orderBy: [{ createdAt: dir }, { id: dir }],
      take: take - found.length,
      select: { id: true },
    });
    return [...found, ...rest2.map((r) => r.id)];
  }

  async count(filter: BackupFilter): Promise<number> {
    return this.deps.prisma.backup.count({ where: backupWhere(await this.#withLabelServers(filter)) });
  }

  /** The filter with `serverLabels` resolved to the ids of the servers that carry them all. */
  async #withLabelServers(filter: BackupFilter): Promise<BackupFilter & { serverIds?: number[] }> {
    if (!filter.serverLabels?.length) return filter;
    const selector: LabelSelector = {};
    for (const [i, { key, value }] of filter.serverLabels.entries()) {
      if (!key.trim()) throw new ValidationError(`serverLabels[${i}].key`, "must not be empty");
      if (key in selector && selector[key] !== value) throw new ValidationError(`serverLabels[${i}].key`, `${key} is given twice with different values`);
      selector[key] = value;
    }
    const servers = await this.deps.prisma.server.findMany({ select: { id: true, labels: true } });
    return { ...filter, serverIds: servers.filter((s) => labelsMatch(s.labels, selector)).map((s) => s.id) };
  }

  /**
   * Opens a stored artifact for download, from the given target or the first one that holds it.
   * Operator role: an artifact holds all the data of a database.
   */
  async openArtifact(principal: Principal, id: number, storageTargetId: number | null, file: "artifact" | "manifest" = "artifact"): Promise<ArtifactDownload> {
    requireRole(principal, "OPERATOR");
    const backup = await this.get(id);
    const stored = backup.artifacts.filter((a) => a.status === "STORED" && a.storageTargetId !== null);
    const artifact = storageTargetId === null ? stored[0] : stored.find((a) => a.storageTargetId === storageTargetId);
    if (!artifact) {
      throw new ValidationError(
        "storageTargetId",
        storageTargetId === null ? `backup ${id} has no stored artifact` : `backup ${id} has no stored artifact on storage target ${storageTargetId}`,
      );
    }
    const target = await this.deps.prisma.storageTarget.findUnique({ where: { id: artifact.storageTargetId! } });
    if (!target) throw new NotFoundError("storage target", artifact.storageTargetId!);
    if (file === "manifest") {
      // The cleartext sidecar beside the artifact: what a restore with stock tools needs to know.
      const key = artifact.key + MANIFEST_SUFFIX;
      const store = this.deps.storeFor(target);
      const head = await store.head(key);
      if (!head) throw new NotFoundError(`manifest of backup ${id} on storage target`, target.name);
      return { body: await store.get(key), fileName: key.split("/").pop()!, contentType: "application/json", bytes: head.bytes };
    }
    const body = await this.deps.storeFor(target).get(artifact.key);
    const fileName = artifact.key.split("/").pop()!;
    const format = formatOfKey(fileName);
    return {
      body,
      fileName,
      contentType: contentTypeOf(format, backup.compression, backup.encryption),
      bytes: artifact.sizeBytes === null ? null : Number(artifact.sizeBytes),
    };
  }

  /**
   * Live backup events (created, status changes, progress a few times a second) for one
   * subscriber, of every backup or of one; ends when `signal` aborts.
   */
  subscribe(principal: Principal, filter: { backupId?: number | null }, signal?: AbortSignal): AsyncIterableIterator<BackupEvent> {
    requireRole(principal, "VIEWER");
    return eventStream(this.deps.events, (event) => filter.backupId == null || event.backupId === filter.backupId, signal);
  }

  /** Admin: deletes a finished backup's artifacts everywhere; see delete-backup.ts. */
  delete(principal: Principal, id: number): Promise<BackupWithArtifacts> {
    return deleteBackup({ prisma: this.deps.prisma, storeFor: this.deps.storeFor, events: this.deps.events, audit: this.deps.audit }, principal, id);
  }

  async get(id: number): Promise<BackupWithArtifacts> {
    const backup = await this.deps.repo.get(id);
    if (!backup) throw new NotFoundError("backup", id);
    return backup;
  }
}

function backupWhere(f: BackupFilter & { serverIds?: number[] }): Prisma.BackupWhereInput {
  return {
    ...(f.serverIds ? { serverId: { in: f.serverId != null ? f.serverIds.filter((id) => id === f.serverId) : f.serverIds } } : {}),
    ...(f.serverId != null && !f.serverIds ? { serverId: f.serverId } : {}),
    ...(f.serverName != null ? { serverName: f.serverName } : {}),
    ...(f.database != null ? { database: f.database } : {}),
    ...(f.scheduleId != null ? { scheduleId: f.scheduleId } : {}),
    ...(f.status?.length ? { status: { in: f.status } } : {}),
    ...(f.trigger != null ? { trigger: f.trigger } : {}),
    ...(f.storageTargetId != null ? { artifacts: { some: { storageTargetId: f.storageTargetId } } } : {}),
    ...(f.from || f.to ? { createdAt: { ...(f.from ? { gte: f.from } : {}), ...(f.to ? { lt: f.to } : {}) } } : {}),
  };
}

/** The keyset cursor of a row: `<createdAt epoch ms>.<id>`. */
export function cursorOf(row: { createdAt: Date; id: number }): string {
  return `${row.createdAt.getTime()}.${row.id}`;
}

type Cursor = { createdAt: Date; id: number };

/** Rows after the cursor in the page order: older ones newest first, newer ones oldest first. */
function afterCursor(cursor: Cursor | null, dir: "asc" | "desc" = "desc"): Prisma.BackupWhereInput {
  if (!cursor) return {};
  const beyond = dir === "desc" ? "lt" : "gt";
  return { OR: [{ createdAt: { [beyond]: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { [beyond]: cursor.id } }] };
}

function parseCursor(cursor: string): Cursor {
  const match = /^(\d{1,15})\.(\d{1,10})$/.exec(cursor);
  if (!match) throw new ValidationError("after", "is not a cursor returned by backups (endCursor)");
  return { createdAt: new Date(Number(match[1])), id: Number(match[2]) };
}
