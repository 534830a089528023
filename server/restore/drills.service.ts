import { Cron } from "croner";
import { cronZone } from "../catalog/cron.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import type { PitrCheckpoint, Prisma, RestoreDrill, Schedule } from "../db/generated/client.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
import type { BackupEvent } from "../runner/events.ts";
import type { Clock } from "../scheduler/clock.ts";
import { executeDrill, scratchName, type DrillRunnerDeps } from "./drill-runner.ts";
import { executePgPitrDrill } from "./pg-pitr-drill.ts";
import { executePitrDrill, pickPitrPoint } from "./pitr-drill.ts";
import { claimDrill } from "../queue/claim.ts";

/** A drill's needs plus the audit log, the clock (drill crons) and this instance's id. */
export type DrillsDeps = DrillRunnerDeps & {
  audit: AuditLog;
  clock: Clock;
  instanceId: string;
  /** False on an `api` instance (SQLGUARD_ROLE=api): drills requested there are queued PENDING for a worker. Default true. */
  claims?: boolean;
};

/** Filters of the drill history: a backup, or a database (per source server name). */
export type DrillFilter = { backupId?: number | null; serverName?: string | null; database?: string | null; status?: RestoreDrill["status"][] | null };

function drillWhere(filter: DrillFilter): Prisma.RestoreDrillWhereInput {
  return {
    ...(filter.backupId != null ? { backupId: filter.backupId } : {}),
    ...(filter.serverName != null ? { sourceServerName: filter.serverName } : {}),
    ...(filter.database != null ? { database: filter.database } : {}),
    ...(filter.status?.length ? { status: { in: filter.status } } : {}),
  };
}

const ENGINE_FAMILY = { MYSQL: "mysql", MARIADB: "mysql", POSTGRESQL: "pg" } as const;
const CRON_CHECK_MS = 60_000;

/**
 * Restore drills: on demand (runRestoreDrill), after each successful backup of a schedule with
 * drills enabled (runDrillFor, wired to the backup events), or on the schedule's own drill cron
 * (runDueDrills, checked every minute). Drills run one at a time on this instance. On an `api`
 * instance (claims false) a requested drill is recorded PENDING without an instance, and an
 * instance that runs jobs claims it from the queue (claimDrill: SKIP LOCKED, the verification
 * server's maxConcurrent) at its polls.
 */
export class DrillsService {
  #chain: Promise<unknown> = Promise.resolve();
  readonly #pending = new Set<Promise<unknown>>();
  /** The drills this process runs or has queued behind the one running: their leases are renewed here. */
  readonly #held = new Set<number>();
  readonly #controller = new AbortController();
  #stopTimer: (() => void) | null = null;
  #stopPoll: (() => void) | null = null;
  #claiming = false;

  constructor(private readonly deps: DrillsDeps) {}

  /** Records a drill of a backup into a scratch database on `serverId` and runs it in the background. Operator role; audited. */
  async runRestoreDrill(principal: Principal, backupId: number, serverId: number): Promise<RestoreDrill> {
    requireRole(principal, "OPERATOR");
    const drill = await this.#record(backupId, serverId, "MANUAL", null, actorName(principal), null, !this.#claims);
    await this.deps.audit.record(actorName(principal), "restoreDrill.run", "restoreDrill", drill.id, null, drill);
    if (this.#claims) void this.#enqueue(drill);
    return drill;
  }

  /**
   * Records a point-in-time drill of `database` of source server `serverId` into a scratch
   * database on `drillServerId` (a random row-count checkpoint inside the recoverable window, or
   * `checkpointId`) and runs it in the background. Operator role; audited. Throws ValidationError
   * when there is no checkpoint after a dump with an exact position.
   */
  async runPitrDrill(
    principal: Principal,
    input: { serverId: number; database: string; drillServerId: number; checkpointId?: number | null },
  ): Promise<RestoreDrill> {
    requireRole(principal, "OPERATOR");
    const point = await pickPitrPoint(this.deps.prisma, input.serverId, input.database, { checkpointId: input.checkpointId });
    if (!point) {
      const source = await this.deps.prisma.server.findUnique({ where: { id: input.serverId }, select: { engine: true } });
      const logical = source?.engine === "POSTGRESQL" ? " (PostgreSQL checkpoints need wal_level = logical)" : "";
      throw new ValidationError(
        input.checkpointId ? "checkpointId" : "database",
        `no row-count checkpoint of ${input.database} after a dump with an exact binlog position (PostgreSQL: a base backup) and inside the archived binlog or WAL${input.checkpointId ? ` with id ${input.checkpointId}` : ""}: point-in-time recovery must be on, and a checkpoint taken after a dump${logical}`,
      );
    }
    const drill = await this.#record(point.dump.id, input.drillServerId, "MANUAL", null, actorName(principal), point.checkpoint, !this.#claims);
    await this.deps.audit.record(actorName(principal), "restoreDrill.run", "restoreDrill", drill.id, null, drill);
    if (this.#claims) void this.#enqueue(drill);
    return drill;
  }

  /**
   * The hook after a successful backup: drills it when its schedule has drills enabled without a
   * drill cron. Idempotent (one AFTER_BACKUP drill per backup). Resolves with the finished drill,
   * or null when none is due. Never throws.
   */
  async runDrillFor(backupId: number): Promise<RestoreDrill | null> {
    try {
      const backup = await this.deps.prisma.backup.findUnique({ where: { id: backupId }, include: { schedule: true } });
      const schedule = backup?.schedule;
      if (!backup || !schedule?.drillEnabled || !schedule.drillServerId || schedule.drillCron) return null;
      if (await this.deps.prisma.restoreDrill.findFirst({ where: { backupId, trigger: "AFTER_BACKUP" }, select: { id: true } })) return null;
      const point = await this.#pitrPoint(schedule, backup);
      const drill = await this.#record(point?.dumpId ?? backupId, schedule.drillServerId, "AFTER_BACKUP", schedule.id, "scheduler", point, !this.#claims);
      return this.#claims ? await this.#enqueue(drill) : drill;
    } catch (error) {
      this.deps.logger.warn({ err: error, backupId }, "could not run the restore drill after a backup");
      return null;
    }
  }

  /** BackupEvents listener: a backup that ended SUCCEEDED or PARTIAL may be due a drill. */
  onBackupEvent(event: BackupEvent): void {
    if (event.type !== "STATUS" || !["SUCCEEDED", "PARTIAL"].includes(event.status)) return;
    const task = this.runDrillFor(event.backupId);
    this.#pending.add(task);
    void task.finally(() => this.#pending.delete(task));
  }

  /**
   * Schedules whose drill cron fired since their last drill: drills the newest successful backup
   * of each of their databases. The due time is claimed by a conditional update, so one instance runs it.
   */
  async runDueDrills(): Promise<RestoreDrill[]> {
    const { prisma, clock } = this.deps;
    const now = clock.now();
    const done: RestoreDrill[] = [];
    for (const s of await prisma.schedule.findMany({ where: { drillEnabled: true, drillCron: { not: null }, drillServerId: { not: null } } })) {
      const since = s.lastDrillAt ?? s.updatedAt;
      const next = nextRun(s.drillCron!, s.timezone, since);
      if (!next || next > now) continue;
      const claimed = await prisma.schedule.updateMany({ where: { id: s.id, lastDrillAt: s.lastDrillAt }, data: { lastDrillAt: now } });
      if (claimed.count !== 1) continue;
      const newest = await prisma.backup.findMany({
        where: { scheduleId: s.id, status: { in: ["SUCCEEDED", "PARTIAL"] } },
        orderBy: { id: "desc" },
        distinct: ["serverName", "database"],
        select: { id: true, serverId: true, database: true },
      });
      for (const b of newest) {
        const point = await this.#pitrPoint(s, b);
        const drill = await this.#record(point?.dumpId ?? b.id, s.drillServerId!, "CRON", s.id, "scheduler", point, !this.#claims).catch(() => null);
        if (drill) done.push(this.#claims ? await this.#enqueue(drill) : drill);
      }
    }
    return done;
  }

  /**
   * Turns drills on or off for a schedule: the verification server, and an optional drill cron
   * (null = after every successful backup). Admin role; audited. Throws ValidationError naming the field.
   */
  async setScheduleDrill(
    principal: Principal,
    scheduleId: number,
    input: { enabled: boolean; serverId?: number | null; cron?: string | null; pitr?: boolean | null },
  ): Promise<Schedule> {
    requireRole(principal, "ADMIN");
    const { prisma } = this.deps;
    const before = await prisma.schedule.findUnique({ where: { id: scheduleId } });
    if (!before) throw new NotFoundError("schedule", scheduleId);
    const serverId = input.serverId ?? null;
    if (input.enabled && serverId === null) throw new ValidationError("serverId", "a verification server is required to enable drills");
    if (serverId !== null && !(await prisma.server.findUnique({ where: { id: serverId }, select: { id: true } })))
      throw new ValidationError("serverId", `no server with id ${serverId}`);
    const cron = input.cron?.trim() || null;
    if (cron && !nextRun(cron, before.timezone, new Date()))
      throw new ValidationError("cron", `${JSON.stringify(cron)} is not a cron expression that ever fires`);
    const after = await prisma.schedule.update({
      where: { id: scheduleId },
      data: {
        drillEnabled: input.enabled,
        drillServerId: serverId,
        drillCron: cron,
        lastDrillAt: cron ? this.deps.clock.now() : null,
        drillPitr: input.pitr ?? before.drillPitr,
      },
    });
    await this.deps.audit.record(actorName(principal), "schedule.drill", "schedule", scheduleId, pick(before), pick(after));
    return after;
  }

  /** A page of drills, newest first by id; `after` is the last id of the previous page. Throws a ValidationError naming `first` past 500. */
  async list(filter: DrillFilter, page: { first: number; after?: number | null }): Promise<{ nodes: RestoreDrill[]; hasNextPage: boolean }> {
    if (!Number.isInteger(page.first) || page.first < 1 || page.first > 500) throw new ValidationError("first", "must be between 1 and 500");
    const where: Prisma.RestoreDrillWhereInput = { ...drillWhere(filter), ...(page.after ? { id: { lt: page.after } } : {}) };
    const rows = await this.deps.prisma.restoreDrill.findMany({ where, orderBy: { id: "desc" }, take: page.first + 1 });
    return { nodes: rows.slice(0, page.first), hasNextPage: rows.length > page.first };
  }

  /** How many drills the filter matches (a connection's totalCount). */
  count(filter: DrillFilter): Promise<number> {
    return this.deps.prisma.restoreDrill.count({ where: drillWhere(filter) });
  }

  get #claims(): boolean {
    return this.deps.claims !== false;
  }

  /** Claims queued drills every `pollMs`, one at a time (an instance that runs jobs). */
  startClaiming(pollMs: number): void {
    if (!this.#claims || this.#stopPoll) return;
    const timer = setInterval(() => void this.claimQueued(), pollMs);
    timer.unref();
    this.#stopPoll = () => clearInterval(timer);
  }

  /** One claim: when no drill runs or waits here, takes the oldest queued drill and runs it. Resolves with it, or null. */
  async claimQueued(): Promise<RestoreDrill | null> {
    if (this.#claiming || this.#pending.size > 0 || this.#controller.signal.aborted) return null;
    this.#claiming = true;
    try {
      const id = await claimDrill(this.deps.prisma, this.deps.instanceId);
      if (id === null) return null;
      const drill = await this.deps.prisma.restoreDrill.findUniqueOrThrow({ where: { id } });
      return await this.#enqueue(drill);
    } catch (error) {
      this.deps.logger.warn({ err: error }, "could not claim a queued restore drill; the next poll retries");
      return null;
    } finally {
      this.#claiming = false;
    }
  }

  /** Whether this process runs (or waits to run) drill `id`: never settled as interrupted. */
  holds(id: number): boolean {
    return this.#held.has(id);
  }

  /** The drills whose lease this process renews (LeaseKeeper). */
  held(): number[] {
    return [...this.#held];
  }

  /** Starts the drill-cron check. */
  start(): void {
    this.#stopTimer ??= this.deps.clock.every(
      CRON_CHECK_MS,
      () => void this.runDueDrills().catch((error: unknown) => this.deps.logger.error({ err: error }, "drill cron check failed")),
    );
  }

  /** Waits for the drills started on this instance (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
  }

  /** Stops the cron check and the drill under way (recorded FAILED), then waits. */
  async stop(): Promise<void> {
    this.#stopPoll?.();
    this.#stopPoll = null;
    this.#stopTimer?.();
    this.#stopTimer = null;
    this.#controller.abort(new Error("interrupted: SQLGuard was shut down"));
    await this.idle();
  }

  /** Checks the backup and the verification server, and records a RUNNING drill. */
  async #record(
    backupId: number,
    serverId: number,
    trigger: RestoreDrill["trigger"],
    scheduleId: number | null,
    requestedBy: string,
    checkpoint: PitrCheckpoint | null = null,
    queued = false,
  ): Promise<RestoreDrill> {
    const { prisma } = this.deps;
    const backup = await prisma.backup.findUnique({ where: { id: backupId } });
    if (!backup) throw new NotFoundError("backup", backupId);
    if (!["SUCCEEDED", "PARTIAL"].includes(backup.status))
      throw new ValidationError("backupId", `backup ${backupId} is ${backup.status}: only a successful backup can be drilled`);
    const server = await prisma.server.findUnique({ where: { id: serverId } });
    if (!server) throw new ValidationError("serverId", `no server with id ${serverId}`);
    if (ENGINE_FAMILY[server.engine] !== ENGINE_FAMILY[backup.engine])
      throw new ValidationError("serverId", `a ${backup.engine} backup cannot be drilled on ${server.name}, a ${server.engine} server`);
    return prisma.restoreDrill.create({
      data: {
        backupId,
        scheduleId: scheduleId ?? backup.scheduleId,
        serverId,
        serverName: server.name,
        sourceServerName: backup.serverName,
        // A PostgreSQL point-in-time drill starts from the cluster's base backup: the checkpoint names the database.
        database: checkpoint?.database ?? backup.database,
        scratchDatabase: scratchName(backupId),
        trigger,
        requestedBy,
        // Queued: no instance until a worker claims it.
        ...(queued ? { status: "PENDING" as const, instanceId: null } : { instanceId: this.deps.instanceId, heartbeatAt: this.deps.clock.now() }),
        ...(checkpoint
          ? {
              kind: "PITR",
              checkpointId: checkpoint.id,
              pointInTime: checkpoint.takenAt,
              // PostgreSQL: the LSN; MariaDB: file:offset.
              stopAtPosition: backup.engine === "POSTGRESQL" ? checkpoint.binlogFile : `${checkpoint.binlogFile}:${checkpoint.binlogPosition}`,
            }
          : {}),
      },
    });
  }

  /**
   * A schedule with point-in-time drills: the checkpoint (and its dump) a drill of this backup's
   * database restores to; null for a dump drill (point-in-time drills off, or no checkpoint yet: logged).
   */
  async #pitrPoint(schedule: Schedule, backup: { id: number; serverId: number | null; database: string }) {
    if (!schedule.drillPitr || backup.serverId === null) return null;
    const point = await pickPitrPoint(this.deps.prisma, backup.serverId, backup.database);
    if (!point)
      this.deps.logger.info({ scheduleId: schedule.id, backupId: backup.id }, "no row-count checkpoint yet: a dump drill instead of a point-in-time drill");
    return point ? Object.assign(point.checkpoint, { dumpId: point.dump.id }) : null;
  }

  /** Runs a recorded drill after those queued before it; resolves with its finished row. */
  #enqueue(drill: RestoreDrill): Promise<RestoreDrill> {
    const run = this.#chain.then(async () => {
      const { prisma } = this.deps;
      const backup = await prisma.backup.findUniqueOrThrow({ where: { id: drill.backupId! }, include: { artifacts: true } });
      const server = await prisma.server.findUniqueOrThrow({ where: { id: drill.serverId! } });
      if (drill.kind === "PITR") {
        const checkpoint = drill.checkpointId === null ? null : await prisma.pitrCheckpoint.findUnique({ where: { id: drill.checkpointId } });
        if (backup.engine === "POSTGRESQL") return executePgPitrDrill(this.deps, drill, backup, checkpoint, this.#controller.signal);
        return executePitrDrill(this.deps, drill, backup, server, checkpoint, this.#controller.signal);
      }
      return executeDrill(this.deps, drill, backup, server, this.#controller.signal);
    });
    this.#chain = run.catch(() => {});
    this.#pending.add(run);
    this.#held.add(drill.id);
    void run
      .finally(() => {
        this.#pending.delete(run);
        this.#held.delete(drill.id);
      })
      .catch(() => {});
    return run;
  }
}

function nextRun(expression: string, timezone: string, from: Date): Date | null {
  try {
    const job = new Cron(expression, { ...cronZone(timezone), paused: true });
    try {
      return job.nextRun(from);
    } finally {
      job.stop();
    }
  } catch {
    return null;
  }
}

function pick(s: Schedule) {
  return { drillEnabled: s.drillEnabled, drillServerId: s.drillServerId, drillCron: s.drillCron, drillPitr: s.drillPitr };
}
