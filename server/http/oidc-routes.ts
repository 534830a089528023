import type { IncomingMessage, ServerResponse } from "node:http";
import type { Services } from "../graphql/context.ts";
import type { Logger } from "../observability/logger.ts";
import { parseCookies, SESSION_COOKIE, sessionCookie } from "./cookies.ts";
import type { Edge } from "./edge.ts";

/** The sealed state of a sign-in in progress (PKCE verifier, state, nonce); only the callback reads it. */
const FLOW_COOKIE = "sqlguard_oidc";
const FLOW_PATH = "/auth/oidc";

/** The routes of single sign-on, and the login page's question of what to offer. */
export const AUTH_ROUTES = new Set(["/auth/oidc/login", "/auth/oidc/callback", "/auth/options"]);

/**
 * GET /auth/oidc/login (`?next=/path`, or `?test=1` for an admin's test sign-in) redirects to the
 * provider; GET /auth/oidc/callback finishes there, sets the same session cookie a password login
 * sets and opens `next`, or sends the user to /login/?sso=<refusal code>. GET /auth/options tells
 * the login page whether single sign-on and password logins are offered.
 */
export function createOidcRoutes(deps: { services: Services; edge: Edge; logger: Logger; publicUrl?: string }) {
  const log = deps.logger.child({ component: "oidc-http" });

  function origin(req: IncomingMessage): string {
    if (deps.publicUrl) return new URL(deps.publicUrl).origin;
    return `${deps.edge.isSecure(req.headers) ? "https" : "http"}://${req.headers.host ?? "localhost"}`;
  }

  async function login(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const test = url.searchParams.get("test") === "1";
    const secure = deps.edge.isSecure(req.headers);
    if (test) {
      const principal = await deps.services.auth.authenticate({ sessionToken: parseCookies(req.headers.cookie ?? null)[SESSION_COOKIE] });
      if (principal?.role !== "ADMIN") return redirect(res, "/login/?sso=not_admin");
    }
    try {
      const { url: target, cookie } = await deps.services.oidc.start({
        redirectUri: `${origin(req)}${FLOW_PATH}/callback`,
        next: safeNext(url.searchParams.get("next")),
        test,
      });
      res.setHeader("set-cookie", flowCookie(cookie, 600, secure));
      redirect(res, target);
    } catch (error) {
      const code = error instanceof Error && "code" in error ? String((error as { code: unknown }).code) : "unavailable";
      log.warn({ err: error }, "single sign-on could not start");
      redirect(res, test ? "/settings/?tab=sign-in" : `/login/?sso=${encodeURIComponent(code)}`);
    }
  }

  async function callback(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const secure = deps.edge.isSecure(req.headers);
    const outcome = await deps.services.oidc.finish(url, parseCookies(req.headers.cookie ?? null)[FLOW_COOKIE]);
    const cookies = [flowCookie("", 0, secure)];
    if (outcome.kind === "session") cookies.push(sessionCookie(outcome.token, outcome.expiresAt, secure));
    res.setHeader("set-cookie", cookies);
    if (outcome.kind === "session") redirect(res, outcome.next);
    else if (outcome.kind === "tested") redirect(res, "/settings/?tab=sign-in");
    else redirect(res, `/login/?sso=${outcome.code}`);
  }

  async function options(res: ServerResponse): Promise<void> {
    const s = await deps.services.signIn.get();
    res
      .writeHead(200, { "content-type": "application/json", "cache-control": "no-store" })
      .end(JSON.stringify({ oidcEnabled: s.oidcEnabled, oidcLabel: s.label, localLoginEnabled: s.localLoginEnabled }));
  }

  return (req: IncomingMessage, res: ServerResponse, pathname: string): void => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET" }).end();
      return;
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const work = pathname === "/auth/options" ? options(res) : pathname.endsWith("/login") ? login(req, res, url) : callback(req, res, url);
    work.catch((error: unknown) => {
      log.error({ err: error }, "single sign-on route failed");
      if (!res.headersSent) redirect(res, "/login/?sso=unavailable");
    });
  };
}

function flowCookie(value: string, maxAgeS: number, secure: boolean): string {
  return [`${FLOW_COOKIE}=${value}`, `Path=${FLOW_PATH}`, "HttpOnly", "SameSite=Lax", `Max-Age=${maxAgeS}`, ...(secure ? ["Secure"] : [])].join("; ");
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location, "cache-control": "no-store" }).end();
}

/** Only same-origin paths: `?next=https://evil` must not redirect away. */
function safeNext(next: string | null): string {
  return next?.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
}
