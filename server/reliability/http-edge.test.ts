// The HTTP edge against a real server process: hostile GraphQL documents, cross-origin requests with
// the session cookie, tokens acting on tokens, login brute force and webhooks aimed at metadata
// addresses. Every refusal must come before anything runs: an error, no data, nothing written.
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type ServerProcess, startServerProcess } from "../testing/server-process.ts";
import { dropDatabase, freshDatabaseUrl } from "../testing/test-db.ts";

const PASSWORD = "edge-admin-password";
const ALLOWED = "http://allowed.example:3000";
const FOREIGN = "http://127.0.0.1:1";
const PUBLIC_URL = "https://sqlguard.example";

type Answer = { status: number; headers: http.IncomingHttpHeaders; text: string; json: any };

let server: ServerProcess;
let databaseUrl: string;
let dataDir: string;
let host: string;
let adminCookie: string;

/** One raw HTTP request (fetch would add or forbid headers a browser test needs to set). */
function raw(method: string, pathname: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${pathname}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        let json: unknown = null;
        try {
          json = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
    });
    // A server that answers before reading a huge body may reset the connection while we still send.
    req.on("error", (error: NodeJS.ErrnoException) => (error.code === "EPIPE" || error.code === "ECONNRESET" ? undefined : reject(error)));
    req.end(body);
  });
}

function gql(query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Answer> {
  return raw("POST", "/graphql", { "content-type": "application/json", ...headers }, JSON.stringify({ query, variables }));
}

async function login(username: string, password: string, address = "10.9.9.9"): Promise<Answer> {
  return gql(
    `mutation($u: String!, $p: String!) { login(username: $u, password: $p) { username } }`,
    { u: username, p: password },
    { "x-forwarded-for": address },
  );
}

async function tokenNames(): Promise<string[]> {
  const r = await gql("{ apiTokens { name } }", {}, { cookie: adminCookie });
  return r.json.data.apiTokens.map((t: { name: string }) => t.name);
}

/** The refusal shape of every hostile document: errors, and no data at all. */
function expectRefused(answer: Answer, pattern?: RegExp): void {
  expect(answer.json, answer.text.slice(0, 300)).toBeTruthy();
  expect(answer.json.errors?.length, answer.text.slice(0, 300)).toBeGreaterThan(0);
  expect(answer.json.data ?? null).toBeNull();
  if (pattern) expect(answer.json.errors[0].message).toMatch(pattern);
}

beforeAll(async () => {
  databaseUrl = freshDatabaseUrl("edge");
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-edge-"));
  const port = await freePort();
  host = `127.0.0.1:${port}`;
  server = await startServerProcess({
    DATABASE_URL: databaseUrl,
    SQLGUARD_PORT: String(port),
    SQLGUARD_DATA_DIR: dataDir,
    SQLGUARD_ADMIN_PASSWORD: PASSWORD,
    SQLGUARD_LOG_LEVEL: "info",
    SQLGUARD_SCHEDULER_ENABLED: "false",
    SQLGUARD_CORS_ORIGINS: ALLOWED,
    SQLGUARD_PUBLIC_URL: PUBLIC_URL,
    SQLGUARD_TRUST_PROXY: "true",
  });
  const r = await login("admin", PASSWORD);
  adminCookie = String(r.headers["set-cookie"]?.[0]).split(";")[0]!;
  expect(adminCookie).toMatch(/^sqlguard_session=./);
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await dropDatabase(databaseUrl);
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe("cross-origin requests with the session cookie (item 13)", () => {
  const mint = (name: string) => `mutation { createApiToken(name: "${name}", role: ADMIN) { token } }`;

  it("gives credentialed CORS to allow-listed origins only", async () => {
    const preflight = (origin: string) =>
      raw("OPTIONS", "/graphql", { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" });
    const foreign = await preflight(FOREIGN);
    expect(foreign.headers["access-control-allow-origin"]).toBeUndefined();
    expect(foreign.headers["access-control-allow-credentials"]).toBeUndefined();
    const allowed = await preflight(ALLOWED);
    expect(allowed.headers["access-control-allow-origin"]).toBe(ALLOWED);
    expect(allowed.headers["access-control-allow-credentials"]).toBe("true");
    expect(allowed.headers["access-control-allow-headers"]).toMatch(/content-type/);

    const call = await gql("{ me { username } }", {}, { cookie: adminCookie, origin: ALLOWED });
    expect(call.json.data.me.username).toBe("admin");
    expect(call.headers["access-control-allow-origin"]).toBe(ALLOWED);
    expect(call.headers.vary).toMatch(/Origin/);
  });

  it("refuses a foreign Origin carrying the session cookie, and accepts the console's own", async () => {
    for (const origin of [FOREIGN, "null", "http://127.0.0.1.evil.example"]) {
      const r = await gql(mint("from-foreign"), {}, { cookie: adminCookie, origin });
      expect(r.status, origin).toBe(403);
      expectRefused(r, /cross-origin/);
      expect(r.headers["access-control-allow-origin"]).toBeUndefined();
    }
    const sameSite = await gql(mint("from-same-site"), {}, { cookie: adminCookie, "sec-fetch-site": "same-site" });
    expect(sameSite.status).toBe(403);
    expect(await tokenNames()).not.toContain("from-foreign");
    expect(await tokenNames()).not.toContain("from-same-site");

    for (const origin of [`http://${host}`, PUBLIC_URL]) {
      const own = await gql("{ me { username } }", {}, { cookie: adminCookie, origin, "sec-fetch-site": "same-origin" });
      expect(own.json.data?.me.username, origin).toBe("admin");
    }
    // A bearer token is no ambient credential: scripts and other origins' apps may use one.
    const minted = await gql(`mutation { createApiToken(name: "script", role: VIEWER) { token } }`, {}, { cookie: adminCookie });
    const bearer = await gql("{ me { username } }", {}, { authorization: `Bearer ${minted.json.data.createApiToken.token}`, origin: FOREIGN });
    expect(bearer.json.data.me.username).toBe("admin");
  });

  it("runs no form-encoded, multipart, text/plain or application/graphql POST", async () => {
    const query = mint("from-form");
    const boundary = "----sqlguard";
    const multipart = [`--${boundary}`, 'Content-Disposition: form-data; name="operations"', "", JSON.stringify({ query }), `--${boundary}--`, ""].join("\r\n");
    const bodies: Array<[string, string]> = [
      ["application/x-www-form-urlencoded", new URLSearchParams({ query }).toString()],
      [`multipart/form-data; boundary=${boundary}`, multipart],
      ["text/plain", JSON.stringify({ query })],
      ["application/graphql", query],
    ];
    for (const [type, body] of bodies) {
      // Same-origin as far as headers go: the content type alone is refused.
      const r = await raw("POST", "/graphql", { "content-type": type, cookie: adminCookie }, body);
      expect(r.status, type).toBe(415);
      expectRefused(r, /application\/json/);
    }
    expect(await tokenNames()).not.toContain("from-form");
    const graphqlResponseJson = await gql("{ me { username } }", {}, { cookie: adminCookie, "content-type": "application/graphql-response+json" });
    expect(graphqlResponseJson.json.data.me.username).toBe("admin");
  });

  it("needs the CSRF header on a cookie-authenticated GET, which a foreign page cannot send without a preflight", async () => {
    const url = `/graphql?query=${encodeURIComponent("{ me { username } }")}`;
    const bare = await raw("GET", url, { cookie: adminCookie, accept: "application/json" });
    expect(bare.status).toBe(403);
    expectRefused(bare, /x-graphql-yoga-csrf/);
    const withHeader = await raw("GET", url, { cookie: adminCookie, accept: "application/json", "x-graphql-yoga-csrf": "1" });
    expect(withHeader.json.data.me.username).toBe("admin");
  });

  it("applies the same rules to downloads and /metrics", async () => {
    const foreignDownload = await raw("GET", "/api/backups/999/download", { cookie: adminCookie, "sec-fetch-site": "same-site" });
    expect(foreignDownload.status).toBe(403);
    const foreignOrigin = await raw("GET", "/api/backups/999/download", { cookie: adminCookie, origin: FOREIGN });
    expect(foreignOrigin.status).toBe(403);
    // The console's own link passes the edge and reaches the handler (no such backup).
    const own = await raw("GET", "/api/backups/999/download", { cookie: adminCookie, "sec-fetch-site": "same-origin" });
    expect(own.status).toBe(404);
    const metricsFromPage = await raw("GET", "/metrics", { "sec-fetch-site": "cross-site" });
    expect(metricsFromPage.status).toBe(403);
    const scrape = await raw("GET", "/metrics");
    expect([200, 503]).toContain(scrape.status);
  });

  it("marks the session cookie Secure behind HTTPS (the public URL)", async () => {
    const r = await login("admin", PASSWORD);
    expect(String(r.headers["set-cookie"])).toMatch(/;\s*Secure/);
  });
});

describe("hostile GraphQL documents (item 14)", () => {
  const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(" ")} }`;
  const nested = (depth: number) => {
    const levels = Array.from({ length: depth - 1 }, (_, i) => (i % 2 === 0 ? "servers" : "dumpOptions"));
    return `{ ${levels.map((l) => `${l} {`).join(" ")} id ${"}".repeat(levels.length)} }`;
  };
  let viewer: Record<string, string>;

  beforeAll(async () => {
    const created = await gql(`mutation { createApiToken(name: "hostile viewer", role: VIEWER) { token } }`, {}, { cookie: adminCookie });
    viewer = { authorization: `Bearer ${created.json.data.createApiToken.token}` };
  });

  it("refuses a huge body unread: 200,000 aliases in 3.9 MB", async () => {
    const document = aliases(200_000);
    expect(document.length).toBeGreaterThan(3_000_000);
    const r = await gql(document);
    expect(r.status).toBe(413);
    expectRefused(r);
  });

  it("refuses too many aliases, too many tokens and too deep a query, anonymous or not", async () => {
    expectRefused(await gql(aliases(100)), /Aliases limit/);
    expectRefused(await gql(aliases(100), {}, viewer), /Aliases limit/);
    expectRefused(await gql(`{ ${"__typename ".repeat(5_000)} }`), /Token limit/);
    expectRefused(await gql(nested(10), {}, viewer), /depth limit/i);
  });

  it("refuses an operation whose nested lists would produce too many objects", async () => {
    const fanOut = "{ schedules { servers { dumpOptions { servers { id name } } } } }";
    expectRefused(await gql(fanOut, {}, viewer), /cost limit/i);
    // The same shape one list shallower is an ordinary query.
    const ordinary = await gql("{ schedules { servers { dumpOptions { name } } } }", {}, viewer);
    expect(ordinary.json.errors).toBeUndefined();
  });

  it("suggests no field names to anonymous callers", async () => {
    for (const query of ["{ mee { username } }", 'mutation { logn(username: "a", password: "b") { id } }', "{ me { usernam } }"]) {
      const r = await gql(query);
      expectRefused(r);
      expect(JSON.stringify(r.json.errors), query).not.toMatch(/Did you mean/);
    }
  });

  it("keeps answering ordinary requests between hostile ones", async () => {
    const health = await raw("GET", "/healthz");
    expect(health.status).toBe(200);
    const me = await gql("{ me { username } }", {}, viewer);
    expect(me.json.data.me.username).toBe("admin");
  });
});

describe("tokens acting on tokens (item 15)", () => {
  it("never lets a token list, revoke or create tokens beyond its own rights", async () => {
    const mint = async (name: string, role: string, cookieOrBearer: Record<string, string>, days?: number) =>
      gql(
        `mutation($n: String!, $r: Role!, $d: Int) { createApiToken(name: $n, role: $r, expiresInDays: $d) { token apiToken { id expiresAt } } }`,
        { n: name, r: role, d: days ?? null },
        cookieOrBearer,
      );
    const adminToken = (await mint("owner admin", "ADMIN", { cookie: adminCookie })).json.data.createApiToken;
    const viewerToken = (await mint("owner viewer", "VIEWER", { cookie: adminCookie })).json.data.createApiToken;
    const asViewer = { authorization: `Bearer ${viewerToken.token}` };
    const asAdmin = { authorization: `Bearer ${adminToken.token}` };

    const listed = await gql("{ apiTokens { name role } }", {}, asViewer);
    expect(listed.json.data.apiTokens.map((t: { role: string }) => t.role)).not.toContain("ADMIN");

    const revoke = await gql(`mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`, { id: adminToken.apiToken.id }, asViewer);
    expectRefused(revoke);
    expect(revoke.json.errors[0].extensions.code).toBe("NOT_FOUND");
    expect((await gql("{ me { username } }", {}, asAdmin)).json.data.me.username).toBe("admin");

    const minted = await mint("from viewer token", "VIEWER", asViewer);
    expectRefused(minted);
    expect(minted.json.errors[0].extensions.code).toBe("FORBIDDEN");
    expect(await tokenNames()).not.toContain("from viewer token");

    // An admin token may create tokens, but none that outlives it.
    const shortAdmin = (await mint("short admin", "ADMIN", { cookie: adminCookie }, 1)).json.data.createApiToken;
    const asShort = { authorization: `Bearer ${shortAdmin.token}` };
    const forever = await mint("forever", "VIEWER", asShort);
    expect(forever.json.errors[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "expiresInDays" });
    const longer = await mint("longer", "VIEWER", asShort, 30);
    expect(longer.json.errors[0].extensions.field).toBe("expiresInDays");
    const child = await mint("child", "VIEWER", asAdmin, 7);
    expect(child.json.data.createApiToken.apiToken.expiresAt).toBeTruthy();
  });
});

describe("login brute force (item 16)", () => {
  const attempt = (username: string, address: string, password = "not-the-password") => login(username, password, address);

  /** Wrong passwords until the answer is RATE_LIMITED (it must come after the free failures); the failures counted. */
  async function untilThrottled(next: (i: number) => Promise<Answer>, free: number): Promise<{ failures: number; answer: Answer }> {
    for (let i = 0; i < free + 10; i++) {
      const answer = await next(i);
      const code = answer.json.errors?.[0]?.extensions?.code;
      if (code === "RATE_LIMITED") return { failures: i, answer };
      expect(code).toBe("UNAUTHENTICATED");
    }
    throw new Error("never throttled");
  }

  it("backs off per user name, whatever the address", async () => {
    await gql(`mutation { createUser(input: { username: "victim", password: "victim-password", role: VIEWER }) { id } }`, {}, { cookie: adminCookie });
    const { failures, answer } = await untilThrottled((i) => attempt("victim", `10.1.0.${i}`), 5);
    // Five free failures, the sixth starts the lock (whichever answer then comes first while it lasts).
    expect(failures).toBeGreaterThanOrEqual(6);
    expect(answer.json.errors[0].extensions.retryAfterSeconds).toBeGreaterThan(0);
    expect(answer.json.errors[0].message).toMatch(/too many failed logins/);
    expect(answer.json.data ?? null).toBeNull();
    expect(String(answer.headers["set-cookie"] ?? "")).not.toMatch(/sqlguard_session=./);
  });

  it("backs off per address across user names", async () => {
    const { failures } = await untilThrottled((i) => attempt(`sprayed-${i}`, "10.2.0.1"), 20);
    expect(failures).toBeGreaterThanOrEqual(21);
    const elsewhere = await attempt("admin", "10.2.0.2", PASSWORD);
    expect(elsewhere.json.data.login.username).toBe("admin");
  });

  it("logs and audits failures, never the password", async () => {
    const audit = await gql(`{ auditLog(entityType: "User", first: 200) { nodes { actor action after } } }`, {}, { cookie: adminCookie });
    const failures = audit.json.data.auditLog.nodes.filter((e: { action: string }) => e.action === "login.failure");
    const victim = failures.filter((e: { actor: string }) => e.actor === "victim").map((e: { after: string }) => JSON.parse(e.after));
    expect(victim.length).toBeGreaterThanOrEqual(6);
    expect(victim).toContainEqual({ username: "victim", address: "10.1.0.0", reason: "wrong password" });
    expect(server.output()).toMatch(/"msg":"login failed"/);
    expect(server.output()).toMatch(/"msg":"login throttled"/);
    expect(server.output()).not.toContain("not-the-password");
    expect(JSON.stringify(audit.json)).not.toContain("not-the-password");
  });
});

describe("webhooks aimed at metadata addresses (item 18)", () => {
  it("refuses link-local and cloud metadata URLs when saved", async () => {
    const urls = ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://[::ffff:169.254.169.254]/", "http://[fe80::1]:8080/"];
    for (const url of urls) {
      const r = await gql(
        `mutation($input: WebhookInput!) { createWebhook(input: $input) { id } }`,
        { input: { name: `meta-${urls.indexOf(url)}`, url } },
        { cookie: adminCookie },
      );
      expect(r.json.errors?.[0]?.extensions, url).toMatchObject({ code: "BAD_USER_INPUT", field: "url" });
    }
    const ok = await gql(`mutation { createWebhook(input: { name: "local-receiver", url: "http://127.0.0.1:9/hook" }) { id } }`, {}, { cookie: adminCookie });
    expect(ok.json.errors).toBeUndefined();
  });
});
