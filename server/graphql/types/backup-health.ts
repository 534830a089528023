import type { DatabaseHealth } from "../../scheduler/overdue.ts";
import { builder } from "../builder.ts";

const DatabaseBackupHealth = builder.objectRef<DatabaseHealth>("DatabaseBackupHealth").implement({
  description:
    "A database some enabled schedule covers: its last successful backup, when the next one is expected (the first due time after it, plus a grace period), and whether that time has passed.",
  fields: (t) => ({
    serverId: t.exposeID("serverId"),
    serverName: t.exposeString("serverName"),
    server: t.prismaField({
      type: "Server",
      nullable: true,
      resolve: (query, h, _a, ctx) => ctx.prisma.server.findUnique({ ...query, where: { id: h.serverId } }),
    }),
    database: t.exposeString("database", { nullable: true, description: "Null when no database of the server was ever backed up." }),
    lastSuccessAt: t.expose("lastSuccessAt", { type: "DateTime", nullable: true }),
    expectedBy: t.expose("expectedBy", { type: "DateTime", nullable: true }),
    overdue: t.exposeBoolean("overdue"),
    schedules: t.exposeStringList("schedules", { description: "Names of the enabled schedules covering it." }),
    lateSchedules: t.exposeStringList("lateSchedules", { description: "The schedules whose expected-by time has passed without a success." }),
  }),
});

builder.queryFields((t) => ({
  databaseHealth: t.field({
    type: [DatabaseBackupHealth],
    description: "Backup health per scheduled database, overdue ones first.",
    args: { overdueOnly: t.arg.boolean({ defaultValue: false }), serverId: t.arg.id() },
    resolve: (_r, args, ctx) => ctx.services.health.list(ctx.principal!, args),
  }),
}));
