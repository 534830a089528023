import { z } from "zod";
import type { AuditLog } from "../audit/audit-log.ts";
import { parseInput } from "../catalog/validate.ts";
import type { PrismaClient } from "../db/client.ts";
import type { SignInSettings } from "../db/generated/client.ts";
import { ValidationError } from "../errors.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import type { RoleMapping, RoleMappingPolicy } from "./oidc/role-mapping.ts";
import { actorName, requireRole, type Principal, type Role } from "./roles.ts";

const ROLES = ["ADMIN", "OPERATOR", "VIEWER"] as const;
const ID = 1;

/** Settings from the environment that the API cannot change. */
export type SignInEnv = {
  /** Accept `http://` issuers (SQLGUARD_OIDC_ALLOW_HTTP=1): development and tests only. */
  allowHttpIssuer: boolean;
  /** The local user who may still sign in with a password when local login is off (SQLGUARD_BREAK_GLASS_USER). */
  breakGlassUser: string;
};

/** The settings as the rest of the server reads them (the client secret still sealed). */
export type SignInConfig = {
  oidcEnabled: boolean;
  issuer: string | null;
  clientId: string | null;
  clientSecretSealed: string | null;
  scopes: string;
  label: string;
  policy: RoleMappingPolicy;
  localLoginEnabled: boolean;
  totpRequiredRoles: Role[];
  lastTest: OidcTestResult | null;
  updatedAt: Date;
};

/** What the last "test sign-in" found. */
export type OidcTestResult = { at: string; ok: boolean; message: string };

const mappingRule = z.object({
  value: z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters"),
  role: z.enum(ROLES),
});

const inputSchema = z
  .object({
    oidcEnabled: z.boolean(),
    issuer: z.string().trim().max(500, "must be at most 500 characters").nullable(),
    clientId: z.string().trim().max(255, "must be at most 255 characters").nullable(),
    clientSecret: z.string().max(2000, "must be at most 2000 characters").nullable(),
    scopes: z
      .string()
      .trim()
      .max(500, "must be at most 500 characters")
      .refine((s) => s.split(/\s+/).includes("openid"), { message: "must include openid" })
      .refine((s) => /^[\x21-\x7e ]+$/.test(s), { message: "must be space-separated scope names" }),
    roleClaim: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_:/.-]{1,100}$/, "must be a claim name such as groups (a dotted path for nested claims)"),
    roleMappings: z.array(mappingRule).max(100, "at most 100 mappings"),
    defaultRole: z.enum(ROLES).nullable(),
    label: z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters"),
    localLoginEnabled: z.boolean(),
    totpRequiredRoles: z.array(z.enum(ROLES)),
  })
  .partial();

/** The change an admin sends; omitted fields stay, `clientSecret: ""` or null removes the secret. */
export type SignInSettingsInput = z.input<typeof inputSchema>;

/**
 * The sign-in settings row (single sign-on, local login switch, TOTP enforcement): read by the
 * login paths on every attempt, so a change applies at once on every instance; edited by admins,
 * audited. The OIDC client secret is sealed at rest and never returned.
 */
export class SignInSettingsService {
  constructor(
    private readonly deps: { prisma: PrismaClient; secrets: SecretBox; audit: AuditLog },
    readonly env: SignInEnv,
  ) {}

  /** The current settings (defaults when never saved). */
  async get(): Promise<SignInConfig> {
    const row = await this.deps.prisma.signInSettings.findUnique({ where: { id: ID } });
    return toConfig(row);
  }

  /** Opens the sealed client secret (only the OIDC client calls this). */
  openClientSecret(config: SignInConfig): string | null {
    return config.clientSecretSealed ? this.deps.secrets.open(config.clientSecretSealed) : null;
  }

  /** Whether `username` is the break-glass user (names compare case-insensitively, like the column). */
  isBreakGlass(username: string): boolean {
    return username.trim().toLowerCase() === this.env.breakGlassUser.toLowerCase();
  }

  /**
   * Applies an admin's change; throws BAD_USER_INPUT naming the field: an issuer that is not a URL,
   * an http:// issuer without SQLGUARD_OIDC_ALLOW_HTTP, single sign-on without issuer or client id,
   * local login off without single sign-on.
   */
  async update(principal: Principal, raw: object): Promise<SignInConfig> {
    requireRole(principal, "ADMIN");
    const input = parseInput(inputSchema, raw);
    const before = await this.deps.prisma.signInSettings.findUnique({ where: { id: ID } });
    const current = toConfig(before);
    const issuer = input.issuer === undefined ? current.issuer : input.issuer || null;
    const clientId = input.clientId === undefined ? current.clientId : input.clientId || null;
    const oidcEnabled = input.oidcEnabled ?? current.oidcEnabled;
    const localLoginEnabled = input.localLoginEnabled ?? current.localLoginEnabled;
    if (issuer) this.#checkIssuer(issuer);
    if (oidcEnabled && !issuer) throw new ValidationError("issuer", "is required to turn single sign-on on");
    if (oidcEnabled && !clientId) throw new ValidationError("clientId", "is required to turn single sign-on on");
    if (!localLoginEnabled && !oidcEnabled) {
      throw new ValidationError("localLoginEnabled", "local login can be turned off only while single sign-on is on");
    }
    const data = {
      oidcEnabled,
      oidcIssuer: issuer,
      oidcClientId: clientId,
      ...(input.clientSecret !== undefined ? { oidcClientSecret: input.clientSecret ? this.deps.secrets.seal(input.clientSecret) : null } : {}),
      ...(input.scopes !== undefined ? { oidcScopes: input.scopes.split(/\s+/).join(" ") } : {}),
      ...(input.roleClaim !== undefined ? { oidcRoleClaim: input.roleClaim } : {}),
      ...(input.roleMappings !== undefined ? { oidcRoleMappings: JSON.stringify(input.roleMappings) } : {}),
      ...(input.defaultRole !== undefined ? { oidcDefaultRole: input.defaultRole } : {}),
      ...(input.label !== undefined ? { oidcLabel: input.label } : {}),
      localLoginEnabled,
      ...(input.totpRequiredRoles !== undefined ? { totpRequiredRoles: [...new Set(input.totpRequiredRoles)].join(",") } : {}),
    };
    const after = await this.deps.prisma.signInSettings.upsert({ where: { id: ID }, create: { id: ID, ...data }, update: data });
    await this.deps.audit.record(actorName(principal), "signInSettings.update", "SignInSettings", ID, before, after);
    return toConfig(after);
  }

  /** Keeps what the last test sign-in found, for the console. */
  async recordTest(result: Omit<OidcTestResult, "at">): Promise<void> {
    const value = JSON.stringify({ ...result, at: new Date().toISOString() });
    await this.deps.prisma.signInSettings.upsert({ where: { id: ID }, create: { id: ID, oidcLastTest: value }, update: { oidcLastTest: value } });
  }

  #checkIssuer(issuer: string): void {
    let url: URL;
    try {
      url = new URL(issuer);
    } catch {
      throw new ValidationError("issuer", "must be a URL such as https://login.example.com/realms/ops");
    }
    if (url.protocol === "http:" && !this.env.allowHttpIssuer) {
      throw new ValidationError("issuer", "must use https:// (http:// issuers are accepted only with SQLGUARD_OIDC_ALLOW_HTTP=1, for development)");
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new ValidationError("issuer", "must be an https:// URL");
    if (url.search || url.hash || url.username || url.password) throw new ValidationError("issuer", "must not carry a query, fragment or credentials");
  }
}

function toConfig(row: SignInSettings | null): SignInConfig {
  return {
    oidcEnabled: row?.oidcEnabled ?? false,
    issuer: row?.oidcIssuer ?? null,
    clientId: row?.oidcClientId ?? null,
    clientSecretSealed: row?.oidcClientSecret ?? null,
    scopes: row?.oidcScopes ?? "openid profile email",
    label: row?.oidcLabel ?? "Single sign-on",
    policy: {
      claim: row?.oidcRoleClaim ?? "groups",
      mappings: parseMappings(row?.oidcRoleMappings),
      defaultRole: row?.oidcDefaultRole ?? null,
    },
    localLoginEnabled: row?.localLoginEnabled ?? true,
    totpRequiredRoles: (row?.totpRequiredRoles ?? "").split(",").filter((r): r is Role => (ROLES as readonly string[]).includes(r)),
    lastTest: row?.oidcLastTest ? (JSON.parse(row.oidcLastTest) as OidcTestResult) : null,
    updatedAt: row?.updatedAt ?? new Date(0),
  };
}

function parseMappings(text: string | undefined): RoleMapping[] {
  if (!text) return [];
  const parsed = z.array(mappingRule).safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : [];
}
