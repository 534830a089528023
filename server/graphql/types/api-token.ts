import { requireRole } from "../../auth/roles.ts";
import { builder } from "../builder.ts";
import { RoleEnum } from "./enums.ts";

const ApiTokenType = builder.prismaObject("ApiToken", {
  description: "A bearer token for scripts (Authorization: Bearer <token>). The token itself is shown only when created.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    prefix: t.exposeString("prefix", { description: "The token's first characters, to recognise it." }),
    role: t.expose("role", { type: RoleEnum }),
    user: t.relation("user"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    lastUsedAt: t.expose("lastUsedAt", { type: "DateTime", nullable: true }),
    expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
  }),
});

const CreatedApiToken = builder.objectRef<{ token: string; apiToken: { id: number } }>("CreatedApiToken").implement({
  fields: (t) => ({
    token: t.exposeString("token", { description: "The secret token. Store it now: it cannot be shown again." }),
    apiToken: t.prismaField({
      type: "ApiToken",
      resolve: (query, parent, _a, ctx) => ctx.prisma.apiToken.findUniqueOrThrow({ ...query, where: { id: parent.apiToken.id } }),
    }),
  }),
});

builder.queryFields((t) => ({
  apiTokens: t.prismaField({
    type: [ApiTokenType],
    description: "Your own tokens (through a token: those with no more rights than it); an admin sees everyone's.",
    resolve: (query, _r, _a, ctx) => {
      const principal = requireRole(ctx.principal, "VIEWER");
      return ctx.prisma.apiToken.findMany({ ...query, where: ctx.services.auth.tokenScope(principal), orderBy: { createdAt: "desc" } });
    },
  }),
}));

builder.mutationFields((t) => ({
  createApiToken: t.field({
    type: CreatedApiToken,
    description:
      "Creates a token with at most your own role; needs a console session or an admin token, and a token cannot create one that outlives it. The token is returned once.",
    args: {
      name: t.arg.string({ required: true }),
      role: t.arg({ type: RoleEnum, required: true }),
      expiresInDays: t.arg.int({ description: "Days until the token stops working (1 to 36500); omitted or null: never." }),
    },
    resolve: (_r, args, ctx) => ctx.services.auth.createApiToken(requireRole(ctx.principal, "VIEWER"), args),
  }),
  revokeApiToken: t.prismaField({
    type: ApiTokenType,
    description: "Revokes one of the tokens `apiTokens` lists for you.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.auth.revokeApiToken(requireRole(ctx.principal, "VIEWER"), id),
  }),
}));
