import type * as Oidc from "openid-client";
import type { AuditLog } from "../../audit/audit-log.ts";
import type { PrismaClient } from "../../db/client.ts";
import type { Logger } from "../../observability/logger.ts";
import type { SecretBox } from "../../secrets/secret-box.ts";
import type { AuthService } from "../auth.service.ts";
import type { Role } from "../roles.ts";
import type { SignInConfig, SignInSettingsService } from "../sign-in-settings.service.ts";
import { claimValues, mapRole } from "./role-mapping.ts";

/** openid-client (with jose), loaded at the first single sign-on: most processes (a worker) never need it. */
const loadOidc = (): Promise<typeof Oidc> => import("openid-client");

/** How long a started sign-in may take at the provider. */
const FLOW_TTL_MS = 10 * 60_000;

/**
 * Why a single sign-on ended without a session: stable codes the login page turns into sentences
 * (the page never shows text from the URL, so a link cannot make it say anything else).
 */
export type OidcRefusal =
  | "not_configured"
  | "unavailable"
  | "expired"
  | "checks_failed"
  | "provider_error"
  | "no_role"
  | "disabled"
  | "username_taken"
  | "not_admin";

/** What a callback ended in. */
export type OidcOutcome =
  | { kind: "session"; token: string; expiresAt: Date; next: string; username: string; role: Role }
  | { kind: "refused"; code: OidcRefusal; test: boolean }
  | { kind: "tested"; ok: boolean };

/** The state of one sign-in between login and callback, sealed into a short-lived cookie. */
type FlowState = { state: string; nonce: string; verifier: string; next: string; test: boolean; exp: number; redirectUri: string };

/** A refusal raised inside the flow. */
class Refused extends Error {
  constructor(
    readonly code: OidcRefusal,
    detail: string,
  ) {
    super(detail);
  }
}

/**
 * OpenID Connect single sign-on: the authorization code flow with PKCE (S256), state and nonce,
 * through openid-client. The flow's secrets travel in a sealed, HttpOnly cookie (any instance can
 * finish what another started). A user is created at the first sign-in (authSource OIDC, no
 * password), and their role is mapped from the claims at every sign-in; a user the mapping refuses
 * gets no session. A "test sign-in" runs the same flow but only records what would happen.
 */
export class OidcService {
  #cache: { key: string; config: Promise<Oidc.Configuration> } | null = null;
  readonly #log: Logger;

  constructor(
    private readonly deps: { prisma: PrismaClient; secrets: SecretBox; audit: AuditLog; signIn: SignInSettingsService; auth: AuthService; logger: Logger },
  ) {
    this.#log = deps.logger.child({ component: "oidc" });
  }

  /**
   * Starts a sign-in: returns the provider's authorization URL and the sealed flow cookie. Throws
   * Refused (not_configured, unavailable) when single sign-on is off or its issuer cannot be discovered.
   */
  async start(options: { redirectUri: string; next: string; test: boolean }): Promise<{ url: string; cookie: string }> {
    const settings = await this.deps.signIn.get();
    if (!settings.issuer || !settings.clientId || (!settings.oidcEnabled && !options.test)) throw new Refused("not_configured", "single sign-on is off");
    const config = await this.#config(settings);
    const oidc = await loadOidc();
    const flow: FlowState = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      verifier: oidc.randomPKCECodeVerifier(),
      next: options.next,
      test: options.test,
      exp: Date.now() + FLOW_TTL_MS,
      redirectUri: options.redirectUri,
    };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: options.redirectUri,
      scope: settings.scopes,
      response_type: "code",
      code_challenge: await oidc.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: "S256",
      state: flow.state,
      nonce: flow.nonce,
    });
    return { url: url.href, cookie: this.deps.secrets.seal(JSON.stringify(flow)) };
  }

  /** Finishes a sign-in at the callback URL; never throws for the user's or the provider's faults. */
  async finish(currentUrl: URL, cookie: string | undefined): Promise<OidcOutcome> {
    const flow = this.#openFlow(cookie);
    try {
      if (!flow) throw new Refused("expired", "no valid sign-in in progress (cookie missing, expired or altered)");
      const outcome = await this.#finish(currentUrl, flow);
      return outcome;
    } catch (error) {
      const refused = error instanceof Refused ? error : new Refused("unavailable", error instanceof Error ? error.message : String(error));
      this.#log.warn({ code: refused.code, detail: refused.message }, "single sign-on refused");
      if (flow?.test) {
        await this.deps.signIn.recordTest({ ok: false, message: `refused (${refused.code}): ${refused.message}` });
        return { kind: "tested", ok: false };
      }
      await this.deps.audit.record("(single sign-on)", "login.failure", "User", null, null, {
        via: "oidc",
        reason: refused.code,
        detail: refused.message.slice(0, 300),
      });
      return { kind: "refused", code: refused.code, test: false };
    }
  }

  async #finish(currentUrl: URL, flow: FlowState): Promise<OidcOutcome> {
    const settings = await this.deps.signIn.get();
    if (!settings.issuer || !settings.clientId || (!settings.oidcEnabled && !flow.test)) throw new Refused("not_configured", "single sign-on is off");
    const providerError = currentUrl.searchParams.get("error");
    if (providerError) throw new Refused("provider_error", `the provider answered ${providerError.slice(0, 100)}`);
    const config = await this.#config(settings);
    // The callback URL as registered (behind a proxy the request's own URL may differ).
    const callback = new URL(flow.redirectUri);
    callback.search = currentUrl.search;
    const oidc = await loadOidc();
    let tokens: Awaited<ReturnType<typeof Oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      throw new Refused("checks_failed", error instanceof Error ? error.message : String(error));
    }
    const idClaims = tokens.claims();
    if (!idClaims) throw new Refused("checks_failed", "the provider sent no ID token");
    let claims: Record<string, unknown> = { ...idClaims };
    if (config.serverMetadata().userinfo_endpoint && tokens.access_token) {
      const info = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
      claims = { ...info, ...idClaims, ...(info[settings.policy.claim.split(".")[0]!] !== undefined ? pick(info, settings.policy.claim) : {}) };
    }
    const subject = `${idClaims.iss}|${idClaims.sub}`;
    const username = usernameFrom(claims);
    const role = mapRole(claims, settings.policy);
    const groups = claimValues(claims, settings.policy.claim);
    if (flow.test) {
      const message = role
        ? `${username} would sign in with the role ${role} (${settings.policy.claim}: ${groups.join(", ") || "none"})`
        : `${username} would be refused: no mapping matches ${settings.policy.claim} (${groups.join(", ") || "none"}) and users without a match are refused`;
      await this.deps.signIn.recordTest({ ok: Boolean(role), message });
      return { kind: "tested", ok: Boolean(role) };
    }
    if (!role) throw new Refused("no_role", `${username}: no mapping matches ${settings.policy.claim} (${groups.join(", ") || "none"})`);
    const user = await this.#upsertUser(subject, username, role);
    const session = await this.deps.auth.createSession(user.id);
    await this.deps.audit.record(user.username, "login.oidc", "User", user.id, null, { subject, role, groups });
    return { kind: "session", ...session, next: flow.next, username: user.username, role };
  }

  /** The user behind a subject, created at the first sign-in; the role follows the mapping each time. */
  async #upsertUser(subject: string, username: string, role: Role) {
    const existing = await this.deps.prisma.user.findUnique({ where: { oidcSubject: subject } });
    if (existing) {
      if (existing.disabled) throw new Refused("disabled", `${existing.username} is disabled in SQLGuard`);
      if (existing.role === role) return existing;
      await this.deps.prisma.session.deleteMany({ where: { userId: existing.id } });
      const updated = await this.deps.prisma.user.update({ where: { id: existing.id }, data: { role } });
      await this.deps.audit.record("(single sign-on)", "user.update", "User", existing.id, { role: existing.role }, { role });
      return updated;
    }
    const taken = await this.deps.prisma.user.findUnique({ where: { username } });
    if (taken) throw new Refused("username_taken", `a user named ${username} already exists in SQLGuard`);
    const created = await this.deps.prisma.user.create({ data: { username, passwordHash: "", role, authSource: "OIDC", oidcSubject: subject } });
    await this.deps.audit.record("(single sign-on)", "user.create", "User", created.id, null, { username, role, authSource: "OIDC" });
    return created;
  }

  #openFlow(cookie: string | undefined): FlowState | null {
    if (!cookie) return null;
    try {
      const flow = JSON.parse(this.deps.secrets.open(cookie)) as FlowState;
      return flow.exp > Date.now() ? flow : null;
    } catch {
      return null;
    }
  }

  /** The provider's metadata (discovery), cached until the settings change. */
  #config(settings: SignInConfig): Promise<Oidc.Configuration> {
    const key = `${settings.issuer}|${settings.clientId}|${settings.updatedAt.getTime()}`;
    if (this.#cache?.key !== key) {
      const secret = this.deps.signIn.openClientSecret(settings);
      const insecure = this.deps.signIn.env.allowHttpIssuer && settings.issuer!.startsWith("http:");
      const config = loadOidc()
        .then((oidc) =>
          oidc.discovery(new URL(settings.issuer!), settings.clientId!, undefined, secret ? oidc.ClientSecretBasic(secret) : oidc.None(), {
            execute: insecure ? [oidc.allowInsecureRequests] : [],
            timeout: 10,
          }),
        )
        .catch((error: unknown) => {
          this.#cache = null;
          throw new Refused("unavailable", `cannot discover ${settings.issuer}: ${error instanceof Error ? error.message : String(error)}`);
        });
      this.#cache = { key, config };
    }
    return this.#cache.config;
  }
}

function pick(claims: Record<string, unknown>, path: string): Record<string, unknown> {
  const top = path.split(".")[0]!;
  return { [top]: claims[top] };
}

/** A SQLGuard user name from the claims: preferred_username, else email, else sub; odd characters become '-'. */
export function usernameFrom(claims: Record<string, unknown>): string {
  const raw = [claims.preferred_username, claims.email, claims.sub].find((v): v is string => typeof v === "string" && v.trim() !== "") ?? "user";
  return raw
    .trim()
    .replace(/[^A-Za-z0-9._@-]/g, "-")
    .slice(0, 100);
}
