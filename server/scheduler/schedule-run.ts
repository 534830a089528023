import { QUEUE_BATCH, type BackupsService } from "../backups/backups.service.ts";
import { restoredDatabases, selectBackupDatabases } from "../catalog/restored-databases.ts";
import { scheduleCovers, selectorOf } from "../catalog/server-selector.ts";
import type { BackupWithArtifacts } from "../db/backups.repository.ts";
import { Prisma, type PrismaClient } from "../db/client.ts";
import type { Backup, DumpOptions, Server } from "../db/generated/client.ts";
import { AppError, NotFoundError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { BackupEvents } from "../runner/events.ts";
import type { Clock } from "./clock.ts";
import { sameSpec, type CronSpec } from "./due-times.ts";
import type { Gate } from "./gate.ts";

/** What one run of a schedule needs. */
export type ScheduleRunDeps = {
  prisma: PrismaClient;
  backups: Pick<BackupsService, "discover" | "resolveTargets" | "queue">;
  events: BackupEvents;
  logger: Logger;
  clock: Clock;
  instanceId: string;
  /** Shared by every run of the instance: bounds the servers discovered and recorded at once. */
  gate: Gate;
};

/** What a run recorded: queued backups, SKIPPED rows, due times another instance took, failures. */
export type RunOutcome = {
  queued: BackupWithArtifacts[];
  skipped: number[];
  /** Databases whose row for this due time another instance (or an earlier tick) already wrote. */
  duplicates: number;
  errors: Array<{ server: string | null; error: string }>;
};

type ServerRow = Server & { dumpOptions: DumpOptions | null };

/**
 * One run of a schedule, for a tick, a missed-run catch-up or "run now": for each of its servers
 * (every enabled server when none is chosen) discovers the databases, then records, in batches of
 * QUEUE_BATCH databases, a PENDING backup per database (handed to the runner once per batch), or a
 * SKIPPED row while a backup of the same schedule, server and database is still PENDING or RUNNING. Rows are unique per (schedule,
 * server, database, dueAt): when several instances run the same tick exactly one insert wins and
 * the others count a duplicate. All database work goes through `deps.gate`. With `expect` (a
 * tick), returns null when the schedule no longer fires at that spec (deleted, disabled, changed
 * elsewhere). Throws NotFoundError when the schedule does not exist and nothing is expected.
 */
export async function runSchedule(
  deps: ScheduleRunDeps,
  scheduleId: number,
  dueAt: Date | null,
  trigger: Backup["trigger"],
  expect?: CronSpec,
): Promise<RunOutcome | null> {
  const log = deps.logger.child({ component: "scheduler", scheduleId, dueAt });
  const outcome: RunOutcome = { queued: [], skipped: [], duplicates: 0, errors: [] };
  const loaded = await deps.gate.run(() => loadRun(deps, scheduleId));
  if (!loaded) {
    if (expect) return null;
    throw new NotFoundError("schedule", scheduleId);
  }
  const { schedule, servers, targets } = loaded;
  if (expect && (!schedule.enabled || !sameSpec(expect, { expression: schedule.cronExpression, timezone: schedule.timezone }))) return null;
  if (targets instanceof Error) {
    outcome.errors.push({ server: null, error: targets.message });
    log.error({ err: targets }, "scheduled run not recorded: no storage target to write to");
    return outcome;
  }
  const context = { deps, log, outcome, schedule: { id: schedule.id, name: schedule.name }, storageTargetIds: targets, dueAt, trigger };
  await Promise.all(servers.map((server) => deps.gate.run(() => runServer(context, server))));
  for (const b of outcome.skipped) deps.events.emit({ type: "STATUS", backupId: b, status: "SKIPPED" });
  return outcome;
}

/**
 * The schedule with its links, the enabled servers it covers and the targets to write to (or why
 * there are none); null when the schedule does not exist.
 */
async function loadRun(deps: ScheduleRunDeps, scheduleId: number) {
  const schedule = await deps.prisma.schedule.findUnique({
    where: { id: scheduleId },
    include: { servers: { select: { serverId: true } }, storageTargets: { select: { storageTargetId: true } } },
  });
  if (!schedule) return null;
  const chosen = schedule.servers.map((s) => s.serverId);
  const selector = selectorOf(schedule.serverLabels);
  // Labels are matched here, at the tick: a server labelled since the last change is covered at once.
  const servers = (
    await deps.prisma.server.findMany({
      where: { enabled: true, ...(chosen.length && !selector ? { id: { in: chosen } } : {}) },
      include: { dumpOptions: true },
      orderBy: { id: "asc" },
    })
  ).filter((server) => scheduleCovers({ serverIds: chosen, serverLabels: schedule.serverLabels }, server));
  const targets = await targetsOf(
    deps,
    schedule.name,
    schedule.storageTargets.map((t) => t.storageTargetId),
  ).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  return { schedule, servers, targets };
}

type RunContext = {
  deps: ScheduleRunDeps;
  log: Logger;
  outcome: RunOutcome;
  schedule: { id: number; name: string };
  storageTargetIds: number[];
  dueAt: Date | null;
  trigger: Backup["trigger"];
};

async function runServer(ctx: RunContext, server: ServerRow): Promise<void> {
  let databases: string[];
  try {
    databases = await ctx.deps.backups.discover(server);
  } catch (error) {
    // The server may be down: back up what it held before, so the runner records (and retries) the failures.
    databases = await knownDatabases(ctx.deps.prisma, server);
    if (databases.length === 0) {
      ctx.outcome.errors.push({ server: server.name, error: (error as Error).message });
      ctx.log.error({ err: error, server: server.name }, "scheduled run not recorded: cannot list the databases of a server never backed up");
      return;
    }
    ctx.log.warn({ err: error, server: server.name, databases: databases.length }, "cannot list databases; queueing the ones backed up before");
  }
  for (let i = 0; i < databases.length; i += QUEUE_BATCH) {
    const batch = databases.slice(i, i + QUEUE_BATCH);
    try {
      await withRetries(() => recordBatch(ctx, server, batch));
    } catch (error) {
      ctx.outcome.errors.push({ server: server.name, error: (error as Error).message });
      ctx.log.error({ err: error, server: server.name, databases: batch.length }, "could not record scheduled backups");
    }
  }
}

/**
 * Records one batch of a server's databases: PENDING rows (BackupsService.queue, one transaction)
 * for those with no backup of this schedule PENDING or RUNNING, SKIPPED rows (one multi-row
 * INSERT) for the others. A database whose row for this due time already exists counts as a
 * duplicate. Safe to repeat: the unique (schedule, server, database, dueAt) key leaves out what a
 * first attempt committed.
 */
async function recordBatch(ctx: RunContext, server: ServerRow, databases: string[]): Promise<void> {
  const { prisma, clock, instanceId, backups } = ctx.deps;
  const active = await prisma.backup.findMany({
    where: { scheduleId: ctx.schedule.id, serverId: server.id, database: { in: databases }, status: { in: ["PENDING", "RUNNING"] } },
    select: { id: true, status: true, database: true },
    orderBy: { id: "desc" },
  });
  const busy = new Map<string, { id: number; status: string }>();
  for (const row of active) if (!busy.has(row.database)) busy.set(row.database, row);
  if (busy.size) {
    const finishedAt = clock.now();
    const { count } = await prisma.backup.createMany({
      data: [...busy].map(([database, running]) => ({
        serverId: server.id,
        serverName: server.name,
        engine: server.engine,
        database,
        scheduleId: ctx.schedule.id,
        scheduleName: ctx.schedule.name,
        trigger: ctx.trigger,
        dueAt: ctx.dueAt,
        status: "SKIPPED" as const,
        compression: server.dumpOptions?.compression ?? "ZSTD",
        instanceId,
        finishedAt,
        error: `skipped: backup ${running.id} of this schedule is still ${running.status.toLowerCase()}`,
      })),
      skipDuplicates: true,
    });
    ctx.outcome.duplicates += busy.size - count;
    const rows = !count
      ? []
      : await prisma.backup.findMany({
          where: {
            scheduleId: ctx.schedule.id,
            serverId: server.id,
            dueAt: ctx.dueAt,
            database: { in: [...busy.keys()] },
            status: "SKIPPED",
            instanceId,
            finishedAt,
          },
          select: { id: true },
          orderBy: { id: "asc" },
        });
    ctx.outcome.skipped.push(...rows.map((r) => r.id));
  }
  const fresh = databases.filter((d) => !busy.has(d));
  if (fresh.length) {
    const request = { server, databases: fresh, storageTargetIds: ctx.storageTargetIds, schedule: ctx.schedule, trigger: ctx.trigger, dueAt: ctx.dueAt };
    const queued = await backups.queue(request);
    ctx.outcome.queued.push(...queued);
    ctx.outcome.duplicates += fresh.length - queued.length;
  }
}

/** The schedule's enabled targets, or the default ones when it names none. */
async function targetsOf(deps: ScheduleRunDeps, scheduleName: string, chosen: number[]): Promise<number[]> {
  if (chosen.length === 0) return deps.backups.resolveTargets([]);
  const enabled = await deps.prisma.storageTarget.findMany({ where: { id: { in: chosen }, enabled: true }, select: { id: true } });
  if (enabled.length === 0) throw new AppError("UNAVAILABLE", `storageTargetIds: every storage target of schedule ${scheduleName} is disabled`);
  return enabled.map((t) => t.id);
}

/** Databases of this server that were backed up successfully before and its patterns still select. */
async function knownDatabases(prisma: PrismaClient, server: ServerRow): Promise<string[]> {
  const rows = await prisma.backup.findMany({
    where: { serverId: server.id, status: { in: ["SUCCEEDED", "PARTIAL", "DELETED"] } },
    distinct: ["database"],
    select: { database: true },
  });
  return selectBackupDatabases(
    rows.map((r) => r.database),
    server,
    await restoredDatabases(prisma, server.id),
  );
}

/** Prisma codes of a busy or briefly unreachable metadata database (the pool or a transaction could not start), or of a deadlock between two instances recording the same tick. */
const TRANSIENT = new Set(["P1001", "P1017", "P2024", "P2028", "P2034"]);

/** Runs `work`, again up to twice after 200 ms / 400 ms when the metadata database is busy (bursts of ticks). */
async function withRetries<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const code = error instanceof Prisma.PrismaClientKnownRequestError ? error.code : "";
      if (attempt >= 3 || !TRANSIENT.has(code)) throw error;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

/**
 * Records `dueAt` as the schedule's last handled due time, unless a later one is already recorded
 * (another instance may be ahead). Raw SQL so that Schedule.updatedAt keeps meaning "configuration
 * changed"; Prisma stores DateTime columns in UTC, and so does this.
 */
export async function markDue(prisma: PrismaClient, scheduleId: number, dueAt: Date): Promise<void> {
  const at = dueAt.toISOString().replace("T", " ").replace("Z", "");
  await prisma.$executeRaw`UPDATE Schedule SET lastDueAt = ${at} WHERE id = ${scheduleId} AND (lastDueAt IS NULL OR lastDueAt < ${at})`;
}
