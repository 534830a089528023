import { requireRole, type Principal } from "../auth/roles.ts";
import { selectDatabases } from "../catalog/glob.ts";
import type { BackupsRepository, BackupWithArtifacts } from "../db/backups.repository.ts";
import type { PrismaClient } from "../db/client.ts";
import type { Backup, DumpOptions, Server } from "../db/generated/client.ts";
import { AppError, NotFoundError, ValidationError } from "../errors.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import { artifactKey } from "../runner/artifact-key.ts";
import type { BackupRunner } from "../runner/backup-runner.ts";
import { connectionOf } from "../runner/connection-of.ts";
import type { DumpEngine } from "../runner/dump-engine.ts";
import { BackupError } from "../runner/errors.ts";
import type { BackupEvents } from "../runner/events.ts";

export type BackupsDeps = {
  prisma: PrismaClient;
  repo: BackupsRepository;
  runner: BackupRunner;
  engine: DumpEngine;
  secrets: SecretBox;
  events: BackupEvents;
  instanceId: string;
};

type ServerRow = Server & { dumpOptions: DumpOptions | null };

/** What to back up: one server, some databases, some targets, for a schedule or by hand. */
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
  async runBackup(principal: Principal, input: { serverId: number; databases?: string[] | null; storageTargetIds?: number[] | null }): Promise<BackupWithArtifacts[]> {
    requireRole(principal, "OPERATOR");
    const server = await this.deps.prisma.server.findUnique({ where: { id: input.serverId }, include: { dumpOptions: true } });
    if (!server) throw new NotFoundError("server", input.serverId);
    const storageTargetIds = await this.resolveTargets(input.storageTargetIds ?? []);
    let databases = input.databases ?? [];
    if (databases.some((d) => d.length === 0 || d.length > 255)) throw new ValidationError("databases", "database names must be 1 to 255 characters");
    if (databases.length === 0) databases = await this.discover(server);
    return this.queue({ server, databases: [...new Set(databases)], storageTargetIds, schedule: null, trigger: "MANUAL", dueAt: null });
  }

  /** The databases a run of this server covers now: every non-system one its patterns select. */
  async discover(server: ServerRow): Promise<string[]> {
    let all: string[];
    try {
      all = (await this.deps.engine.inspect(connectionOf(server, this.deps.secrets))).databases;
    } catch (error) {
      throw new AppError("UNAVAILABLE", `cannot list the databases of ${server.name}: ${(error as Error).message}`, { cause: error });
    }
    const selected = selectDatabases(all, server.includeDatabases as string[], server.excludeDatabases as string[]);
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

  /** Records one PENDING backup per database and starts them in the background. */
  async queue(request: BackupRequest): Promise<BackupWithArtifacts[]> {
    const { server } = request;
    const profile = server.dumpOptions;
    const compression = profile?.compression ?? "ZSTD";
    const format = server.engine === "POSTGRESQL" && profile?.pgFormat === "CUSTOM" ? "pg-custom" : "sql";
    const created: BackupWithArtifacts[] = [];
    for (const database of request.databases) {
      created.push(
        await this.deps.repo.create({
          serverId: server.id,
          serverName: server.name,
          engine: server.engine,
          database,
          scheduleId: request.schedule?.id ?? null,
          scheduleName: request.schedule?.name ?? null,
          trigger: request.trigger,
          dueAt: request.dueAt,
          compression,
          instanceId: this.deps.instanceId,
          storageTargetIds: request.storageTargetIds,
          keyOf: (b) => artifactKey({ ...b, backupId: b.id, format, compression }),
        }),
      );
    }
    for (const b of created) this.deps.events.emit({ type: "CREATED", backupId: b.id });
    this.deps.runner.enqueue(created.map((b) => b.id));
    return created;
  }

  /** Cancels a PENDING backup at once, or stops a RUNNING one (here at once, elsewhere at its next heartbeat). */
  async cancel(principal: Principal, id: number): Promise<BackupWithArtifacts> {
    requireRole(principal, "OPERATOR");
    const outcome = await this.deps.repo.requestCancel(id);
    if (outcome === "finished" && !(await this.deps.repo.get(id))) throw new NotFoundError("backup", id);
    if (outcome === "requested") this.deps.runner.abortLocal(id, new BackupError("CANCELLED", `cancelled by ${principal.username}`));
    if (outcome === "cancelled") this.deps.events.emit({ type: "STATUS", backupId: id, status: "CANCELLED" });
    return (await this.deps.repo.get(id))!;
  }

  async get(id: number): Promise<BackupWithArtifacts> {
    const backup = await this.deps.repo.get(id);
    if (!backup) throw new NotFoundError("backup", id);
    return backup;
  }
}
