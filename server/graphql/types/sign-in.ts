import type { TotpStatus } from "../../auth/second-factor.service.ts";
import { requireRole } from "../../auth/roles.ts";
import type { OidcTestResult, SignInConfig } from "../../auth/sign-in-settings.service.ts";
import type { TotpEnrolment } from "../../errors.ts";
import { builder } from "../builder.ts";
import { RoleEnum } from "./enums.ts";

const RoleMappingRef = builder.objectRef<{ value: string; role: "ADMIN" | "OPERATOR" | "VIEWER" }>("OidcRoleMapping").implement({
  description: "Users whose role claim holds `value` get `role` (the highest match wins).",
  fields: (t) => ({ value: t.exposeString("value"), role: t.expose("role", { type: RoleEnum }) }),
});

const OidcTestRef = builder.objectRef<OidcTestResult>("OidcTestResult").implement({
  description: "What the last test sign-in found.",
  fields: (t) => ({
    at: t.field({ type: "DateTime", resolve: (r) => new Date(r.at) }),
    ok: t.exposeBoolean("ok"),
    message: t.exposeString("message"),
  }),
});

const SignInSettingsRef = builder.objectRef<SignInConfig & { breakGlassUser: string; allowHttpIssuer: boolean }>("SignInSettings").implement({
  description: "Single sign-on (OIDC), the local login switch and TOTP enforcement. The client secret is never returned.",
  fields: (t) => ({
    oidcEnabled: t.exposeBoolean("oidcEnabled"),
    issuer: t.exposeString("issuer", { nullable: true }),
    clientId: t.exposeString("clientId", { nullable: true }),
    clientSecretSet: t.boolean({ resolve: (s) => s.clientSecretSealed !== null }),
    scopes: t.exposeString("scopes"),
    label: t.exposeString("label", { description: "The single sign-on button's label on the login page." }),
    roleClaim: t.string({ resolve: (s) => s.policy.claim }),
    roleMappings: t.field({ type: [RoleMappingRef], resolve: (s) => s.policy.mappings }),
    defaultRole: t.field({
      type: RoleEnum,
      nullable: true,
      description: "The role of users no mapping matches; null refuses them.",
      resolve: (s) => s.policy.defaultRole,
    }),
    localLoginEnabled: t.exposeBoolean("localLoginEnabled"),
    breakGlassUser: t.exposeString("breakGlassUser", { description: "May sign in with a password even when local login is off (SQLGUARD_BREAK_GLASS_USER)." }),
    allowHttpIssuer: t.exposeBoolean("allowHttpIssuer", { description: "SQLGUARD_OIDC_ALLOW_HTTP: http:// issuers accepted (development only)." }),
    totpRequiredRoles: t.field({ type: [RoleEnum], resolve: (s) => s.totpRequiredRoles }),
    lastTest: t.field({ type: OidcTestRef, nullable: true, resolve: (s) => s.lastTest }),
  }),
});

const RoleMappingInput = builder.inputType("OidcRoleMappingInput", {
  fields: (t) => ({ value: t.string({ required: true }), role: t.field({ type: RoleEnum, required: true }) }),
});

const SignInSettingsInput = builder.inputType("SignInSettingsInput", {
  description: "Omitted fields stay. `clientSecret` is write-only; an empty string removes it.",
  fields: (t) => ({
    oidcEnabled: t.boolean(),
    issuer: t.string(),
    clientId: t.string(),
    clientSecret: t.string(),
    scopes: t.string(),
    label: t.string(),
    roleClaim: t.string(),
    roleMappings: t.field({ type: [RoleMappingInput] }),
    defaultRole: t.field({ type: RoleEnum, description: "null: users no mapping matches are refused." }),
    localLoginEnabled: t.boolean(),
    totpRequiredRoles: t.field({ type: [RoleEnum] }),
  }),
});

const TotpEnrolmentRef = builder.objectRef<TotpEnrolment>("TotpEnrolment").implement({
  description: "A secret to add to an authenticator app: scan the QR code (SVG) or type the secret.",
  fields: (t) => ({ secret: t.exposeString("secret"), otpauthUri: t.exposeString("otpauthUri"), qrSvg: t.exposeString("qrSvg") }),
});

const TotpStatusRef = builder.objectRef<TotpStatus>("TotpStatus").implement({
  fields: (t) => ({
    enabled: t.exposeBoolean("enabled"),
    enabledAt: t.expose("enabledAt", { type: "DateTime", nullable: true }),
    recoveryCodesLeft: t.exposeInt("recoveryCodesLeft"),
    required: t.exposeBoolean("required", { description: "The user's role must use TOTP." }),
  }),
});

async function settingsView(ctx: { services: { signIn: { get(): Promise<SignInConfig>; env: { breakGlassUser: string; allowHttpIssuer: boolean } } } }) {
  return { ...(await ctx.services.signIn.get()), ...ctx.services.signIn.env };
}

builder.queryFields((t) => ({
  signInSettings: t.field({
    type: SignInSettingsRef,
    description: "Admins only.",
    resolve: async (_r, _a, ctx) => {
      requireRole(ctx.principal, "ADMIN");
      return settingsView(ctx);
    },
  }),
  myTotp: t.field({
    type: TotpStatusRef,
    description: "The caller's second factor.",
    resolve: (_r, _a, ctx) => ctx.services.secondFactor.status(requireRole(ctx.principal, "VIEWER").userId),
  }),
}));

builder.mutationFields((t) => ({
  updateSignInSettings: t.field({
    type: SignInSettingsRef,
    args: { input: t.arg({ type: SignInSettingsInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      await ctx.services.signIn.update(ctx.principal!, input);
      return settingsView(ctx);
    },
  }),
  beginTotpEnrolment: t.field({
    type: TotpEnrolmentRef,
    description: "Starts TOTP enrolment for the caller (console session): a new secret, pending until confirmTotpEnrolment.",
    resolve: (_r, _a, ctx) => ctx.services.secondFactor.beginEnrolment(requireRole(ctx.principal, "VIEWER")),
  }),
  confirmTotpEnrolment: t.stringList({
    description: "Turns TOTP on with a code of the pending secret; returns the recovery codes, shown only this once.",
    args: { code: t.arg.string({ required: true }) },
    resolve: (_r, { code }, ctx) => ctx.services.secondFactor.confirmEnrolment(requireRole(ctx.principal, "VIEWER"), code),
  }),
  disableTotp: t.boolean({
    description: "Turns the caller's TOTP off (needs a current code; refused while the role requires TOTP).",
    args: { code: t.arg.string({ required: true }) },
    resolve: async (_r, { code }, ctx) => {
      await ctx.services.secondFactor.disable(requireRole(ctx.principal, "VIEWER"), code);
      return true;
    },
  }),
  regenerateRecoveryCodes: t.stringList({
    description: "Replaces the caller's recovery codes (needs a current code); the new ones are shown only this once.",
    args: { code: t.arg.string({ required: true }) },
    resolve: (_r, { code }, ctx) => ctx.services.secondFactor.regenerateRecoveryCodes(requireRole(ctx.principal, "VIEWER"), code),
  }),
  resetUserTotp: t.boolean({
    description: "Admins: turns another user's TOTP off (a lost phone).",
    args: { userId: t.arg.id({ required: true }) },
    resolve: async (_r, { userId }, ctx) => {
      await ctx.services.secondFactor.reset(requireRole(ctx.principal, "ADMIN"), userId);
      return true;
    },
  }),
}));
