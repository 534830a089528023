import { actorName, requireRole } from "../../auth/roles.ts";
import * as E from "../../db/generated/enums.ts";
import { builder } from "../builder.ts";
import { idCursor, parseIdCursor, prismaConnection } from "../connection.ts";

const RewrapStatusEnum = builder.enumType(E.RewrapStatus, {
  name: "RewrapStatus",
  description: "RUNNING (or interrupted: rewrapBackups resumes it), SUCCEEDED, or FAILED (some artifacts were not rewrapped: see error).",
});

builder.prismaObject("EncryptionRewrap", {
  description:
    "One rewrapBackups job: every stored encrypted artifact's age header rewritten to the current keys (payload bytes unchanged, the new SHA-256 recorded).",
  fields: (t) => ({
    id: t.exposeID("id"),
    status: t.expose("status", { type: RewrapStatusEnum }),
    requestedBy: t.exposeString("requestedBy"),
    keyIds: t.idList({
      description: "The encryption keys the new headers open with.",
      resolve: (r) => (Array.isArray(r.keyIds) ? (r.keyIds as number[]) : []),
    }),
    total: t.exposeInt("total", { description: "Stored encrypted artifacts this run looks at." }),
    done: t.exposeInt("done", { description: "Rewrapped, or already opening with exactly these keys." }),
    failed: t.exposeInt("failed", { description: "Left as they were (they still open with their old keys)." }),
    error: t.exposeString("error", { nullable: true, description: "One line per artifact not rewrapped, with why." }),
    startedAt: t.expose("startedAt", { type: "DateTime" }),
    heartbeatAt: t.expose("heartbeatAt", { type: "DateTime", description: "Renewed while it runs; a stale one is resumed by rewrapBackups." }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
  }),
});

type Page = { nodes: Array<{ id: number }>; hasNextPage: boolean; after?: string | null };
const EncryptionRewrapConnection = prismaConnection<Page["nodes"][number], Page>("EncryptionRewrap", "EncryptionRewrap", {
  description: "A page of rewrap jobs, newest first (a Relay connection). Pass pageInfo.endCursor as `after` for the next page.",
  cursor: idCursor,
  totalCount: (_page, ctx) => ctx.services.encryptionRewraps.count(),
});

builder.queryFields((t) => ({
  encryptionRewrap: t.prismaField({
    type: "EncryptionRewrap",
    description: "One rewrap job, with its progress.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => {
      requireRole(ctx.principal, "VIEWER");
      return ctx.services.encryptionRewraps.get(id);
    },
  }),
  encryptionRewraps: t.field({
    type: EncryptionRewrapConnection,
    description: "Rewrap jobs, newest first (a Relay connection).",
    args: {
      first: t.arg.int({ defaultValue: 20, description: "At most 100." }),
      after: t.arg.string({ description: "pageInfo.endCursor (or an edge's cursor) of the previous page." }),
    },
    resolve: async (_r, { first, after }, ctx) => {
      requireRole(ctx.principal, "VIEWER");
      const page = await ctx.services.encryptionRewraps.list({ first: first ?? 20, after: parseIdCursor(after, "encryptionRewraps") });
      return { ...page, after };
    },
  }),
}));

builder.mutationFields((t) => ({
  rewrapBackups: t.prismaField({
    type: "EncryptionRewrap",
    description:
      "Admin: rewrites the age header of every stored encrypted artifact to the current keys (retired keys no longer open them), in the background; resumes an interrupted job. Audited.",
    resolve: async (_q, _r, _a, ctx) => {
      const principal = requireRole(ctx.principal, "ADMIN");
      return ctx.services.encryptionRewraps.start(actorName(principal));
    },
  }),
}));
