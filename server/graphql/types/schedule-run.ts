import { builder } from "../builder.ts";

builder.mutationFields((t) => ({
  runSchedule: t.prismaField({
    type: ["Backup"],
    description:
      "Runs a schedule now, exactly as a tick would (its servers, their databases, its targets), triggered MANUAL: one PENDING backup per database, or SKIPPED while the previous one still runs.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.scheduler.runNow(ctx.principal!, id),
  }),
}));

builder.prismaObjectField("Schedule", "liveNextRunAt", (t) =>
  t.field({
    type: "DateTime",
    nullable: true,
    description:
      "When the live cron job of this instance fires next: equals nextRunAt once the scheduler has reconciled; null when it has no job (disabled, or the scheduler is off on this instance).",
    resolve: (s, _a, ctx) => ctx.services.scheduler.nextRunAt(s.id),
  }),
);
