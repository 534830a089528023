import type { AuditFilter } from "../../audit/audit-log.ts";
import { builder } from "../builder.ts";
import { idCursor, parseIdCursor, prismaConnection } from "../connection.ts";

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

type Page = { nodes: Array<{ id: number }>; hasNextPage: boolean; after?: string | null; filter: AuditFilter };
const AuditEntryConnection = prismaConnection<Page["nodes"][number], Page>("AuditEntry", "AuditLog", {
  description: "A page of the audit log, newest first (a Relay connection). Pass pageInfo.endCursor as `after` for the next page.",
  cursor: idCursor,
  totalCount: (page, ctx) => ctx.services.audit.count(ctx.principal, page.filter),
});

builder.queryFields((t) => ({
  auditLog: t.field({
    type: AuditEntryConnection,
    description: "Configuration changes, newest first (a Relay connection). Admins only.",
    args: {
      entityType: t.arg.string(),
      entityId: t.arg.string(),
      first: t.arg.int({ defaultValue: 50, description: "At most 500." }),
      after: t.arg.string({ description: "pageInfo.endCursor (or an edge's cursor) of the previous page." }),
    },
    resolve: async (_r, { first, after, ...args }, ctx) => {
      const filter: AuditFilter = args;
      const page = await ctx.services.audit.list(ctx.principal, filter, { first: first ?? 50, after: parseIdCursor(after, "auditLog") });
      return { ...page, after, filter };
    },
  }),
}));
