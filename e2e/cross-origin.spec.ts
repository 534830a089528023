// Cross-origin session takeover, in a real browser: a page on another port of the same host (the
// session cookie is sent there: same site) tries to create an API token with the signed-in admin's
// cookie, by fetch with credentials, by a form POST and by multipart. All are refused; an origin
// named in SQLGUARD_CORS_ORIGINS may call with the cookie. This spec runs its own server, started
// with that allow-list.
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { type APIRequestContext, type BrowserContext, expect, type Page, test } from "@playwright/test";
import { freePort, type ServerProcess, startServerProcess } from "../server/testing/server-process.ts";
import { dropDatabase, freshDatabaseUrl } from "../server/testing/test-db.ts";

const PASSWORD = "cross-origin-admin-password";
const mint = (name: string) => `mutation { createApiToken(name: "${name}", role: ADMIN) { token } }`;

/** A page with the attacker's tools, served from its own origin: forms need a real document. */
function attackPage(api: string): string {
  const form = (id: string, enctype: string, value: string) =>
    `<form id="${id}" method="POST" action="${api}/graphql" enctype="${enctype}"><input name="${id === "multipart" ? "operations" : "query"}" value='${value}'></form>`;
  return `<!doctype html><title>not SQLGuard</title>
${form("urlencoded", "application/x-www-form-urlencoded", mint("form-attack"))}
${form("multipart", "multipart/form-data", JSON.stringify({ query: mint("multipart-attack") }))}
${form("textplain", "text/plain", mint("text-attack"))}`;
}

/** Serves the attack page on 127.0.0.1 at a port of its own: another origin, the same site. */
async function servePage(api: string): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(attackPage(api)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let sqlguard: ServerProcess;
let databaseUrl: string;
let dataDir: string;
let foreign: Awaited<ReturnType<typeof servePage>>;
let allowed: Awaited<ReturnType<typeof servePage>>;

test.beforeAll(async () => {
  databaseUrl = freshDatabaseUrl("xorigin");
  dataDir = await mkdtemp(path.join(os.tmpdir(), "sqlguard-xorigin-"));
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  foreign = await servePage(api);
  allowed = await servePage(api);
  sqlguard = await startServerProcess({
    DATABASE_URL: databaseUrl,
    SQLGUARD_PORT: String(port),
    SQLGUARD_DATA_DIR: dataDir,
    SQLGUARD_ADMIN_PASSWORD: PASSWORD,
    SQLGUARD_LOG_LEVEL: "warn",
    SQLGUARD_SCHEDULER_ENABLED: "false",
    SQLGUARD_CORS_ORIGINS: allowed.origin,
  });
});

test.afterAll(async () => {
  await sqlguard?.stop();
  await foreign?.close();
  await allowed?.close();
  if (databaseUrl) await dropDatabase(databaseUrl);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Signs the admin in through the context's request API: the cookie lands in the browser context. */
async function signedIn(context: BrowserContext): Promise<APIRequestContext> {
  const response = await context.request.post(`${sqlguard.url}/graphql`, {
    data: { query: `mutation($u: String!, $p: String!) { login(username: $u, password: $p) { id } }`, variables: { u: "admin", p: PASSWORD } },
  });
  expect((await response.json()).data?.login).toBeTruthy();
  const cookies = await context.cookies(sqlguard.url);
  expect(cookies.map((c) => c.name)).toContain("sqlguard_session");
  return context.request;
}

async function tokenNames(request: APIRequestContext): Promise<string[]> {
  const response = await request.post(`${sqlguard.url}/graphql`, { data: { query: "{ apiTokens { name } }" } });
  return ((await response.json()).data.apiTokens as Array<{ name: string }>).map((t) => t.name);
}

/** Submits one of the attack page's forms (a top-level POST navigation) and returns the answer's status. */
async function submit(page: Page, id: string): Promise<number> {
  const answer = page.waitForResponse((r) => r.url() === `${sqlguard.url}/graphql` && r.request().method() === "POST");
  await page.evaluate((formId) => (document.getElementById(formId) as HTMLFormElement).submit(), id);
  const status = (await answer).status();
  await page.waitForURL(`${sqlguard.url}/graphql`);
  return status;
}

test("a foreign origin cannot use the admin's session by fetch, form or multipart", async ({ context, page }) => {
  const request = await signedIn(context);
  await page.goto(foreign.origin);

  const attempts = await page.evaluate(
    async ({ api, queries }) => {
      const outcome = (p: Promise<Response>) =>
        p.then(
          (r) => (r.type === "opaque" ? "opaque" : `read ${r.status}`),
          (e: Error) => `blocked (${e.name})`,
        );
      const json = JSON.stringify({ query: queries.json });
      const form = new FormData();
      form.append("operations", JSON.stringify({ query: queries.multipart }));
      return {
        // Preflighted (application/json): the browser must not send it.
        json: await outcome(fetch(`${api}/graphql`, { method: "POST", credentials: "include", headers: { "content-type": "application/json" }, body: json })),
        // "Simple" requests go out with the cookie, without a preflight: the server must refuse them.
        textPlain: await outcome(fetch(`${api}/graphql`, { method: "POST", credentials: "include", mode: "no-cors", body: json })),
        multipart: await outcome(fetch(`${api}/graphql`, { method: "POST", credentials: "include", mode: "no-cors", body: form })),
        get: await outcome(fetch(`${api}/graphql?query=${encodeURIComponent("{ apiTokens { name } }")}`, { credentials: "include" })),
      };
    },
    { api: sqlguard.url, queries: { json: mint("fetch-attack"), multipart: mint("fetch-multipart-attack") } },
  );
  expect(attempts.json).toMatch(/^blocked/);
  expect(attempts.textPlain).toBe("opaque");
  expect(attempts.multipart).toBe("opaque");
  expect(attempts.get).toMatch(/^blocked/);

  for (const id of ["urlencoded", "multipart", "textplain"]) {
    await page.goto(foreign.origin);
    expect(await submit(page, id), id).toBe(415);
  }

  const names = await tokenNames(request);
  for (const name of ["fetch-attack", "fetch-multipart-attack", "form-attack", "multipart-attack", "text-attack"]) expect(names).not.toContain(name);
});

test("an origin in SQLGUARD_CORS_ORIGINS may call with the session cookie and read the answer", async ({ context, page }) => {
  const request = await signedIn(context);
  await page.goto(allowed.origin);
  const answer = await page.evaluate(
    async ({ api, query }) => {
      const r = await fetch(`${api}/graphql`, {
        method: "POST",
        credentials: "include",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query }),
      });
      return r.json();
    },
    { api: sqlguard.url, query: mint("allowed-origin") },
  );
  expect(answer.data.createApiToken.token).toMatch(/^sqlg_/);
  expect(await tokenNames(request)).toContain("allowed-origin");
  // The allow-list is no wildcard: the other page is still refused.
  await page.goto(foreign.origin);
  const refused = await page.evaluate(async (api) => {
    try {
      await fetch(`${api}/graphql`, { method: "POST", credentials: "include", headers: { "content-type": "application/json" }, body: "{}" });
      return "sent";
    } catch {
      return "blocked";
    }
  }, sqlguard.url);
  expect(refused).toBe("blocked");
});
