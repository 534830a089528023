import { z } from "zod";
import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import { Prisma } from "../db/client.ts";
import type { Schedule } from "../db/generated/client.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { commitChange, type CatalogDeps } from "./catalog-deps.ts";
import { definedOnly } from "./objects.ts";
import { labelsRule, labelsToJson } from "./servers.service.ts";
import { cronProblem, cronRule, nameRule, parseInput, timezoneProblem, timezoneRule } from "./validate.ts";

const idList = z
  .array(z.number().int())
  .max(1000, "at most 1000 entries")
  .transform((ids) => [...new Set(ids)]);

const updateSchema = z
  .object({
    name: nameRule,
    description: z.string().max(500, "must be at most 500 characters").nullable(),
    cronExpression: cronRule,
    timezone: timezoneRule,
    enabled: z.boolean(),
    missedRunPolicy: z.enum(["RUN_ONCE", "SKIP"]),
    serverIds: idList,
    serverLabels: labelsRule.nullable(),
    storageTargetIds: idList,
  })
  .partial();
const createSchema = updateSchema.superRefine((o, ctx) => {
  if (o.name === undefined) ctx.addIssue({ code: "custom", path: ["name"], message: "is required" });
  if (o.cronExpression === undefined) ctx.addIssue({ code: "custom", path: ["cronExpression"], message: "is required" });
});

export type ScheduleInput = z.input<typeof updateSchema>;
export type ScheduleWithLinks = Schedule & { serverIds: number[]; storageTargetIds: number[] };

const withLinks = { servers: { select: { serverId: true } }, storageTargets: { select: { storageTargetId: true } } } as const;

type LinkedRow = Schedule & { servers: Array<{ serverId: number }>; storageTargets: Array<{ storageTargetId: number }> };

function flatten({ servers, storageTargets, ...schedule }: LinkedRow): ScheduleWithLinks {
  return { ...schedule, serverIds: servers.map((s) => s.serverId), storageTargetIds: storageTargets.map((t) => t.storageTargetId) };
}

/**
 * Backup schedules: a cron expression in a time zone, the servers it covers (chosen by id, or by
 * label with `serverLabels`; neither = all enabled servers) and the storage targets it writes to (none = the default targets).
 */
export class SchedulesService {
  constructor(private readonly deps: CatalogDeps) {}

  async list(): Promise<ScheduleWithLinks[]> {
    const rows = await this.deps.prisma.schedule.findMany({ orderBy: { id: "asc" }, include: withLinks });
    return rows.map(flatten);
  }

  async get(id: number): Promise<ScheduleWithLinks> {
    const row = await this.deps.prisma.schedule.findUnique({ where: { id }, include: withLinks });
    if (!row) throw new NotFoundError("schedule", id);
    return flatten(row);
  }

  async create(principal: Principal, raw: object): Promise<ScheduleWithLinks> {
    requireRole(principal, "ADMIN");
    const input = parseInput(createSchema, raw);
    const timezone = input.timezone ?? "UTC";
    await this.#check({ ...input, timezone, cronExpression: input.cronExpression! }, null);
    const { serverIds = [], storageTargetIds = [], serverLabels, ...fields } = input;
    const row = await commitChange(this.deps, { actor: actorName(principal), entity: "schedule", action: "create", before: null }, (tx) =>
      tx.schedule
        .create({
          data: {
            ...fields,
            serverLabels: selectorJson(serverLabels),
            name: input.name!,
            cronExpression: input.cronExpression!,
            timezone,
            servers: { create: serverIds.map((serverId) => ({ serverId })) },
            storageTargets: { create: storageTargetIds.map((storageTargetId) => ({ storageTargetId })) },
          },
          include: withLinks,
        })
        .then(flatten),
    );
    return row;
  }

  /** Omitted fields stay; `serverIds` / `storageTargetIds`, when given, replace the lists. */
  async update(principal: Principal, id: number, raw: object): Promise<ScheduleWithLinks> {
    requireRole(principal, "ADMIN");
    const before = await this.get(id);
    const input = parseInput(updateSchema, raw);
    await this.#check({ ...before, ...definedOnly(input) }, id);
    const { serverIds, storageTargetIds, serverLabels, ...fields } = input;
    return commitChange(this.deps, { actor: actorName(principal), entity: "schedule", action: "update", before }, async (tx) => {
      if (serverIds) {
        await tx.scheduleServer.deleteMany({ where: { scheduleId: id } });
        await tx.scheduleServer.createMany({ data: serverIds.map((serverId) => ({ scheduleId: id, serverId })) });
      }
      if (storageTargetIds) {
        await tx.scheduleStorageTarget.deleteMany({ where: { scheduleId: id } });
        await tx.scheduleStorageTarget.createMany({ data: storageTargetIds.map((storageTargetId) => ({ scheduleId: id, storageTargetId })) });
      }
      const data = { ...definedOnly(fields), ...(serverLabels !== undefined ? { serverLabels: selectorJson(serverLabels) } : {}) };
      return flatten(await tx.schedule.update({ where: { id }, data, include: withLinks }));
    });
  }

  /** Deletes the schedule and its retention rules; its backups stay, still named after it. */
  async delete(principal: Principal, id: number): Promise<ScheduleWithLinks> {
    requireRole(principal, "ADMIN");
    const before = await this.get(id);
    await commitChange(this.deps, { actor: actorName(principal), entity: "schedule", action: "delete", before }, (tx) => tx.schedule.delete({ where: { id } }));
    return before;
  }

  async #check(
    s: { name?: string; cronExpression: string; timezone: string; serverIds?: number[]; storageTargetIds?: number[] },
    selfId: number | null,
  ): Promise<void> {
    const { prisma } = this.deps;
    // The expression was checked alone; now in its time zone (a DST gap can make it never fire).
    // A bad zone is the zone's fault, not the expression's (the rule checked it, but a partial update may bring only one).
    const zoneProblem = timezoneProblem(s.timezone);
    if (zoneProblem) throw new ValidationError("timezone", zoneProblem);
    const problem = cronProblem(s.cronExpression, s.timezone);
    if (problem) throw new ValidationError("cronExpression", problem);
    if (s.name) {
      const clash = await prisma.schedule.findUnique({ where: { name: s.name } });
      if (clash && clash.id !== selfId) throw new ConflictError("name", `name: a schedule named ${JSON.stringify(s.name)} already exists`);
    }
    await checkIds(s.serverIds, "serverIds", "server", (ids) => prisma.server.findMany({ where: { id: { in: ids } }, select: { id: true } }));
    await checkIds(s.storageTargetIds, "storageTargetIds", "storage target", (ids) =>
      prisma.storageTarget.findMany({ where: { id: { in: ids } }, select: { id: true } }),
    );
  }
}

/** The stored label selector: an object, or DB NULL when there is none. */
function selectorJson(labels: Array<{ key: string; value: string }> | null | undefined): Record<string, string> | typeof Prisma.DbNull {
  return labels?.length ? labelsToJson(labels) : Prisma.DbNull;
}

async function checkIds(ids: number[] | undefined, field: string, what: string, find: (ids: number[]) => Promise<Array<{ id: number }>>): Promise<void> {
  if (!ids?.length) return;
  const found = new Set((await find(ids)).map((r) => r.id));
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length) throw new ValidationError(field, `no ${what} with id ${missing.join(", ")}`);
}
