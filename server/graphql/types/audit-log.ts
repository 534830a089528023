import { requireRole } from "../../auth/roles.ts";
import { builder } from "../builder.ts";

builder.prismaObject("AuditLog", {
  name: "AuditEntry",
  description: "One configuration change. Secrets appear only as set / not set.",
  fields: (t) => ({
    id: t.exposeID("id"),
    at: t.expose("at", { type: "DateTime" }),
    actor: t.exposeString("actor"),
    action: t.exposeString("action"),
    entityType: t.exposeString("entityType"),
    entityId: t.exposeString("entityId", { nullable: true }),
    before: t.string({
      nullable: true,
      description: "JSON of the entity before the change.",
      resolve: (e) => (e.before == null ? null : JSON.stringify(e.before)),
    }),
    after: t.string({
      nullable: true,
      description: "JSON of the entity after the change.",
      resolve: (e) => (e.after == null ? null : JSON.stringify(e.after)),
    }),
  }),
});

builder.queryFields((t) => ({
  auditLog: t.prismaField({
    type: ["AuditLog"],
    description: "Newest first. Pass the last id seen as `beforeId` for the next page. Admins only.",
    args: {
      entityType: t.arg.string(),
      entityId: t.arg.string(),
      beforeId: t.arg.id(),
      limit: t.arg.int({ defaultValue: 50 }),
    },
    resolve: (query, _r, args, ctx) => {
      requireRole(ctx.principal, "ADMIN");
      return ctx.prisma.auditLog.findMany({
        ...query,
        where: {
          entityType: args.entityType ?? undefined,
          entityId: args.entityId ?? undefined,
          id: args.beforeId ? { lt: args.beforeId } : undefined,
        },
        orderBy: { id: "desc" },
        take: Math.min(Math.max(args.limit ?? 50, 1), 500),
      });
    },
  }),
}));
