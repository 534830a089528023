import { builder } from "../builder.ts";

builder.mutationFields((t) => ({
  login: t.prismaField({
    type: "User",
    description:
      "Checks the credentials and sets an HttpOnly session cookie. The one operation allowed without authentication. After repeated failures (per user name and per address) it answers RATE_LIMITED with extensions.retryAfterSeconds. A user with TOTP (or whose role requires it) gets SECOND_FACTOR_REQUIRED (extensions.secondFactor TOTP, or ENROL with extensions.enrolment) until the call also carries totpCode or recoveryCode.",
    args: {
      username: t.arg.string({ required: true }),
      password: t.arg.string({ required: true }),
      totpCode: t.arg.string({ description: "The authenticator app's code, when the answer was SECOND_FACTOR_REQUIRED." }),
      recoveryCode: t.arg.string({ description: "A single-use recovery code instead of totpCode." }),
    },
    resolve: async (_q, _r, { username, password, totpCode, recoveryCode }, ctx) => {
      const { token, expiresAt, user } = await ctx.services.auth.login(username, password, ctx.clientAddress, { totpCode, recoveryCode });
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
