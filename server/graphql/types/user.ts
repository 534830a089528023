import { requireRole } from "../../auth/roles.ts";
import { builder } from "../builder.ts";
import { RoleEnum } from "./enums.ts";

builder.prismaObject("User", {
  description: "A console user.",
  fields: (t) => ({
    id: t.exposeID("id"),
    username: t.exposeString("username"),
    role: t.expose("role", { type: RoleEnum }),
    disabled: t.exposeBoolean("disabled"),
    authSource: t.exposeString("authSource", { description: "LOCAL (password) or OIDC (single sign-on, no password)." }),
    totpEnabled: t.boolean({ resolve: (u) => u.totpSecret !== null }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const UserInput = builder.inputType("UserInput", {
  description: "On create, username, password and role are required; on update, omitted fields stay.",
  fields: (t) => ({
    username: t.string(),
    password: t.string({ description: "At least 8 characters. Changing it ends the user's sessions." }),
    role: t.field({ type: RoleEnum }),
    disabled: t.boolean(),
  }),
});

builder.queryFields((t) => ({
  me: t.prismaField({
    type: "User",
    description:
      "The user behind this session or API token; `role` is the role this call acts with: the token's own role when called with an API token (it may be below the user's).",
    resolve: async (_q, _r, _a, ctx) => {
      const principal = requireRole(ctx.principal, "VIEWER");
      const user = await ctx.services.users.get(principal.userId);
      return { ...user, role: principal.role };
    },
  }),
  users: t.prismaField({
    type: ["User"],
    resolve: (_q, _r, _a, ctx) => {
      requireRole(ctx.principal, "ADMIN");
      return ctx.services.users.list();
    },
  }),
}));

builder.mutationFields((t) => ({
  createUser: t.prismaField({
    type: "User",
    args: { input: t.arg({ type: UserInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => ctx.services.users.create(ctx.principal!, input),
  }),
  updateUser: t.prismaField({
    type: "User",
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UserInput, required: true }) },
    resolve: (_q, _r, { id, input }, ctx) => ctx.services.users.update(ctx.principal!, id, input),
  }),
  deleteUser: t.prismaField({
    type: "User",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.users.delete(ctx.principal!, id),
  }),
}));
