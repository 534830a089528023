import { builder } from "../builder.ts";

builder.mutationFields((t) => ({
  login: t.prismaField({
    type: "User",
    description:
      "Checks the credentials and sets an HttpOnly session cookie. The one operation allowed without authentication. After repeated failures (per user name and per address) it answers RATE_LIMITED with extensions.retryAfterSeconds.",
    args: { username: t.arg.string({ required: true }), password: t.arg.string({ required: true }) },
    resolve: async (_q, _r, { username, password }, ctx) => {
      const { token, expiresAt, user } = await ctx.services.auth.login(username, password, ctx.clientAddress);
      ctx.session.set(token, expiresAt);
      return user;
    },
  }),
  logout: t.boolean({
    description: "Ends this session and clears its cookie.",
    resolve: async (_r, _a, ctx) => {
      if (ctx.session.current) await ctx.services.auth.logout(ctx.session.current);
      ctx.session.clear();
      return true;
    },
  }),
}));
