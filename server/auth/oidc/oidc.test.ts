import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretBox } from "../../secrets/secret-box.ts";
import { startOidcProvider, type TestOidcProvider } from "../../testing/oidc-provider.ts";
import { createTestApp } from "../../testing/test-app.ts";

type App = Awaited<ReturnType<typeof createTestApp>>;
let app: App;
let server: http.Server;
let base: string;
let provider: TestOidcProvider;

const UPDATE = `mutation($input: SignInSettingsInput!) { updateSignInSettings(input: $input) { oidcEnabled issuer clientSecretSet } }`;

beforeAll(async () => {
  app = await createTestApp({ signIn: { allowHttpIssuer: true, breakGlassUser: "admin" } });
  server = http.createServer(app.app.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  provider = await startOidcProvider({
    redirectUris: [`${base}/auth/oidc/callback`],
    accounts: {
      alice: { preferred_username: "alice", groups: ["dba-admins", "staff"] },
      olga: { preferred_username: "olga", groups: ["dba"] },
      bob: { preferred_username: "bob", groups: ["staff"] },
    },
  });
  const admin = await app.as("ADMIN");
  const result = await admin(UPDATE, {
    input: {
      oidcEnabled: true,
      issuer: provider.issuer,
      clientId: provider.clientId,
      clientSecret: provider.clientSecret,
      scopes: "openid profile groups",
      roleClaim: "groups",
      roleMappings: [
        { value: "dba-admins", role: "ADMIN" },
        { value: "dba", role: "OPERATOR" },
      ],
      defaultRole: null,
    },
  });
  expect(result.errors).toBeUndefined();
  expect(result.data?.updateSignInSettings).toEqual({ oidcEnabled: true, issuer: provider.issuer, clientSecretSet: true });
}, 60_000);

afterAll(async () => {
  await provider?.stop();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await app?.close();
});

/** Cookies of the browser at the provider: name → value. */
function remember(jar: Map<string, string>, response: Response): void {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const eq = pair!.indexOf("=");
    jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
  }
}

const cookieHeader = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");

/**
 * Runs the browser's part of a sign-in up to the callback: returns the callback URL the provider
 * redirects to and the flow cookie SQLGuard set.
 */
async function toCallback(account: string): Promise<{ callback: string; flow: string }> {
  const start = await fetch(`${base}/auth/oidc/login?next=/servers/`, { redirect: "manual" });
  expect(start.status).toBe(302);
  const flow = /sqlguard_oidc=([^;]+)/.exec(start.headers.getSetCookie().join("\n"))?.[1];
  expect(flow).toBeTruthy();
  const authorize = new URL(start.headers.get("location")!);
  expect(authorize.origin).toBe(provider.issuer);
  expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
  expect(authorize.searchParams.get("state")).toBeTruthy();
  expect(authorize.searchParams.get("nonce")).toBeTruthy();
  const jar = new Map<string, string>();
  let url = authorize.href;
  let body: string | undefined;
  for (let hop = 0; hop < 10; hop++) {
    const response = await fetch(url, {
      method: body ? "POST" : "GET",
      redirect: "manual",
      headers: { cookie: cookieHeader(jar), ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}) },
      body,
    });
    remember(jar, response);
    body = undefined;
    if (response.status === 200 && url.includes("/interaction/")) {
      body = new URLSearchParams({ login: account }).toString();
      continue;
    }
    const location = response.headers.get("location");
    if (!location) throw new Error(`provider answered ${response.status}: ${await response.text()}`);
    url = new URL(location, url).href;
    if (url.startsWith(`${base}/auth/oidc/callback`)) return { callback: url, flow: flow! };
  }
  throw new Error("the provider never redirected back");
}

async function callback(url: string, flow: string | null) {
  const response = await fetch(url, { redirect: "manual", headers: flow ? { cookie: `sqlguard_oidc=${flow}` } : {} });
  expect(response.status).toBe(302);
  const session = /sqlguard_session=([^;]+)/.exec(response.headers.getSetCookie().join("\n"))?.[1];
  return { location: response.headers.get("location"), session };
}

/** The flow cookie opened, changed and sealed again (what an attacker without the key cannot do). */
function reseal(flow: string, change: Record<string, unknown>): string {
  const box = new SecretBox(app.secretKey);
  return box.seal(JSON.stringify({ ...JSON.parse(box.open(flow)), ...change }));
}

async function me(session: string) {
  return app.gql<{ me: { username: string; role: string; authSource: string } }>(
    `{ me { username role authSource } }`,
    {},
    { cookie: `sqlguard_session=${session}` },
  );
}

describe("OIDC single sign-on", () => {
  it("signs a user in with the role the mapping gives, creates them once, and re-evaluates the role", async () => {
    const { callback: url, flow } = await toCallback("alice");
    const first = await callback(url, flow);
    expect(first.location).toBe("/servers/");
    expect(first.session).toBeTruthy();
    expect((await me(first.session!)).data?.me).toEqual({ username: "alice", role: "ADMIN", authSource: "OIDC" });
    const user = await app.db.prisma.user.findUniqueOrThrow({ where: { username: "alice" } });
    expect(user.passwordHash).toBe("");
    expect(user.oidcSubject).toBe(`${provider.issuer}|alice`);

    // The same user with another mapping: same row, new role.
    const admin = await app.as("ADMIN");
    await admin(UPDATE, { input: { roleMappings: [{ value: "staff", role: "VIEWER" }] } });
    const again = await toCallback("alice");
    const second = await callback(again.callback, again.flow);
    expect((await me(second.session!)).data?.me.role).toBe("VIEWER");
    expect(await app.db.prisma.user.count({ where: { username: "alice" } })).toBe(1);
    await admin(UPDATE, {
      input: {
        roleMappings: [
          { value: "dba-admins", role: "ADMIN" },
          { value: "dba", role: "OPERATOR" },
        ],
      },
    });
    // An OIDC user has no password to log in with.
    const local = await app.gql(`mutation { login(username: "alice", password: "") { id } }`);
    expect(local.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  }, 60_000);

  it("maps the operator group", async () => {
    const { callback: url, flow } = await toCallback("olga");
    const done = await callback(url, flow);
    expect((await me(done.session!)).data?.me.role).toBe("OPERATOR");
  }, 60_000);

  it("refuses a user no mapping matches, says why, and creates no user", async () => {
    const { callback: url, flow } = await toCallback("bob");
    const done = await callback(url, flow);
    expect(done).toEqual({ location: "/login/?sso=no_role", session: undefined });
    expect(await app.db.prisma.user.count({ where: { username: "bob" } })).toBe(0);
    const audit = await app.db.prisma.auditLog.findFirst({ where: { action: "login.failure" }, orderBy: { id: "desc" } });
    expect(JSON.stringify(audit?.after)).toContain("no_role");
  }, 60_000);

  it.each([
    ["a changed state", (url: string, flow: string) => ({ url: url.replace(/state=[^&]+/, "state=forged"), flow })],
    ["a nonce that is not the ID token's", (url: string, flow: string) => ({ url, flow: reseal(flow, { nonce: "another-nonce" }) })],
    ["a PKCE verifier that is not the challenge's", (url: string, flow: string) => ({ url, flow: reseal(flow, { verifier: "x".repeat(43) }) })],
  ])(
    "refuses %s (checks_failed), without a session",
    async (_name, tamper) => {
      const { callback: url, flow } = await toCallback("alice");
      const forged = tamper(url, flow);
      expect(await callback(forged.url, forged.flow)).toEqual({ location: "/login/?sso=checks_failed", session: undefined });
    },
    60_000,
  );

  it("refuses a callback without the flow cookie, or with an altered one (expired)", async () => {
    const { callback: url, flow } = await toCallback("alice");
    expect(await callback(url, null)).toEqual({ location: "/login/?sso=expired", session: undefined });
    expect(await callback(url, `${flow.slice(0, -4)}AAAA`)).toEqual({ location: "/login/?sso=expired", session: undefined });
  }, 60_000);

  it("refuses an http:// issuer unless SQLGUARD_OIDC_ALLOW_HTTP is set, and never returns the client secret", async () => {
    const strict = new (app.services.signIn.constructor as typeof import("../sign-in-settings.service.ts").SignInSettingsService)(
      { prisma: app.db.prisma, secrets: new SecretBox(app.secretKey), audit: { record: async () => {} } as never },
      { allowHttpIssuer: false, breakGlassUser: "admin" },
    );
    const principal = { userId: 1, username: "admin", role: "ADMIN" as const, via: "session" as const };
    await expect(strict.update(principal, { issuer: "http://127.0.0.1:1" })).rejects.toMatchObject({ code: "BAD_USER_INPUT", field: "issuer" });
    await expect(strict.update(principal, { issuer: "https://login.example.com", localLoginEnabled: false, oidcEnabled: false })).rejects.toMatchObject({
      field: "localLoginEnabled",
    });
    const admin = await app.as("ADMIN");
    const read = await admin(`{ signInSettings { clientSecretSet issuer } }`);
    expect(read.data?.signInSettings).toEqual({ clientSecretSet: true, issuer: provider.issuer });
    expect(JSON.stringify(read)).not.toContain(provider.clientSecret);
    const row = await app.db.prisma.signInSettings.findUniqueOrThrow({ where: { id: 1 } });
    expect(row.oidcClientSecret).not.toContain(provider.clientSecret);
  });
});
