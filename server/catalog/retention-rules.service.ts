import { z } from "zod";
import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import type { RetentionRule } from "../db/generated/client.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
import { commitChange, type CatalogDeps } from "./catalog-deps.ts";
import { countRule, parseInput } from "./validate.ts";

const KEEP_FIELDS = ["maxAgeDays", "keepLast", "gfsHourly", "gfsDaily", "gfsWeekly", "gfsMonthly", "gfsYearly"] as const;

const schema = z
  .object({
    scheduleId: z.number().int(),
    storageTargetId: z.number().int(),
    keepForever: z.boolean().nullish(),
    maxAgeDays: countRule.min(1, "must be at least 1 day").nullish(),
    keepLast: countRule.min(1, "must be at least 1").nullish(),
    gfsHourly: countRule.nullish(),
    gfsDaily: countRule.nullish(),
    gfsWeekly: countRule.nullish(),
    gfsMonthly: countRule.nullish(),
    gfsYearly: countRule.nullish(),
    minKeep: countRule.min(1, "must be at least 1, so that failing backups never empty the history").nullish(),
  })
  .superRefine((r, ctx) => {
    const limits = KEEP_FIELDS.filter((f) => r[f] != null);
    if (r.keepForever && limits.length) {
      ctx.addIssue({ code: "custom", path: [limits[0]!], message: "cannot be combined with keepForever" });
    }
    if (!r.keepForever && limits.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["keepForever"],
        message: "set keepForever, or at least one of maxAgeDays, keepLast, gfsHourly, gfsDaily, gfsWeekly, gfsMonthly, gfsYearly",
      });
    }
  });

export type RetentionRuleInput = z.input<typeof schema>;

/** Retention per schedule and storage target; `set` replaces the whole rule (absent = unset). */
export class RetentionRulesService {
  constructor(private readonly deps: CatalogDeps) {}

  list(filter: { scheduleId?: number | null; storageTargetId?: number | null } = {}): Promise<RetentionRule[]> {
    return this.deps.prisma.retentionRule.findMany({
      where: { scheduleId: filter.scheduleId ?? undefined, storageTargetId: filter.storageTargetId ?? undefined },
      orderBy: [{ scheduleId: "asc" }, { storageTargetId: "asc" }],
    });
  }

  async get(id: number): Promise<RetentionRule> {
    const row = await this.deps.prisma.retentionRule.findUnique({ where: { id } });
    if (!row) throw new NotFoundError("retention rule", id);
    return row;
  }

  async set(principal: Principal, raw: object): Promise<RetentionRule> {
    requireRole(principal, "ADMIN");
    const input = parseInput(schema, raw);
    const { prisma } = this.deps;
    if (!(await prisma.schedule.findUnique({ where: { id: input.scheduleId } }))) {
      throw new ValidationError("scheduleId", `no schedule with id ${input.scheduleId}`);
    }
    if (!(await prisma.storageTarget.findUnique({ where: { id: input.storageTargetId } }))) {
      throw new ValidationError("storageTargetId", `no storage target with id ${input.storageTargetId}`);
    }
    const key = { scheduleId: input.scheduleId, storageTargetId: input.storageTargetId };
    const before = await prisma.retentionRule.findUnique({ where: { scheduleId_storageTargetId: key } });
    const data = {
      keepForever: input.keepForever ?? false,
      ...Object.fromEntries(KEEP_FIELDS.map((f) => [f, input[f] ?? null])),
      minKeep: input.minKeep ?? 1,
    };
    return commitChange(this.deps, { actor: actorName(principal), entity: "retentionRule", action: before ? "update" : "create", before }, (tx) =>
      tx.retentionRule.upsert({ where: { scheduleId_storageTargetId: key }, create: { ...key, ...data }, update: data }),
    );
  }

  async delete(principal: Principal, id: number): Promise<RetentionRule> {
    requireRole(principal, "ADMIN");
    const before = await this.get(id);
    await commitChange(this.deps, { actor: actorName(principal), entity: "retentionRule", action: "delete", before }, (tx) =>
      tx.retentionRule.delete({ where: { id } }),
    );
    return before;
  }
}
