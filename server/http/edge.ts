import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { parseCookies, SESSION_COOKIE } from "./cookies.ts";

/**
 * The header a cookie-authenticated GraphQL request must carry when a browser would send it without
 * a CORS preflight (GET): the name graphql-yoga's CSRF prevention uses. The console sends it always.
 */
export const CSRF_HEADER = "x-graphql-yoga-csrf";

/** Media types a GraphQL POST may have: anything a form or a `no-cors` fetch can send is refused. */
const GRAPHQL_POST_TYPES = new Set(["application/json", "application/graphql-response+json"]);

/** What the edge is told by the environment (server/config/env.ts, parseEdgeConfig). */
export type EdgeSettings = {
  /** Largest GraphQL request body; a larger Content-Length is refused (413) before it is read. */
  maxGraphQLBodyBytes?: number;
  /** Origins allowed to call with credentials (CORS); the console's own origin needs no entry. */
  corsOrigins?: string[];
  /** The URL users open; https makes the session cookie Secure, its origin counts as the console's. */
  publicUrl?: string;
  /** Take the client address from X-Forwarded-For (last entry) instead of the socket. */
  trustProxy?: boolean;
};

/** Why a request is refused before it reaches a handler. */
export type Refusal = { status: number; code: string; message: string };

/** The routes the edge guards; each differs in which credentials a browser attaches by itself. */
export type GuardedRoute = "graphql" | "download" | "metrics";

/**
 * The browser-facing rules every authenticated route shares: credentialed CORS only for the
 * allow-list, no cookie-authenticated request from a foreign page (Origin / Sec-Fetch-Site), the
 * CSRF header on GraphQL requests that skip the preflight, JSON-only GraphQL POSTs, and whether
 * the connection is HTTPS (Secure cookies).
 */
export class Edge {
  readonly #allowed: Set<string>;
  readonly #publicOrigin: string | null;
  readonly #publicHttps: boolean;
  readonly #trustProxy: boolean;
  readonly #maxBody: number;

  constructor(settings: EdgeSettings = {}) {
    this.#maxBody = settings.maxGraphQLBodyBytes ?? Number.POSITIVE_INFINITY;
    this.#allowed = new Set((settings.corsOrigins ?? []).map((o) => new URL(o).origin));
    const publicUrl = settings.publicUrl ? new URL(settings.publicUrl) : null;
    this.#publicOrigin = publicUrl?.origin ?? null;
    this.#publicHttps = publicUrl?.protocol === "https:";
    this.#trustProxy = settings.trustProxy ?? false;
  }

  /**
   * Answers a CORS preflight (OPTIONS) for a guarded route: the allow-listed origins get the CORS
   * headers, every other caller a bare 204 the browser treats as a refusal.
   */
  preflight(req: IncomingMessage, res: ServerResponse, route: GuardedRoute): void {
    const origin = req.headers.origin;
    const headers: Record<string, string> = { vary: "Origin", "content-length": "0" };
    if (route !== "metrics" && origin && this.#allowed.has(origin)) {
      Object.assign(headers, this.#corsHeaders(origin), {
        "access-control-allow-methods": route === "graphql" ? "GET, POST, OPTIONS" : "GET, HEAD, OPTIONS",
        "access-control-allow-headers": `content-type, accept, authorization, ${CSRF_HEADER}`,
        "access-control-max-age": "600",
      });
    }
    res.writeHead(204, headers).end();
  }

  /** Sets the CORS headers of an actual response (allow-listed origins only; never for /metrics). */
  applyCors(req: IncomingMessage, res: ServerResponse, route: GuardedRoute): void {
    res.setHeader("vary", "Origin");
    const origin = req.headers.origin;
    if (route === "metrics" || !origin || !this.#allowed.has(origin)) return;
    for (const [name, value] of Object.entries(this.#corsHeaders(origin))) res.setHeader(name, value);
  }

  /**
   * The refusal for a request a browser sent on a foreign page's behalf, or null. Applies when the
   * request carries a credential the browser attaches by itself: the session cookie (without a
   * bearer token), and on /metrics always (browsers also replay HTTP basic credentials).
   */
  refuse(req: IncomingMessage, route: GuardedRoute): Refusal | null {
    const headers = req.headers;
    if (route === "graphql" && req.method === "POST") {
      const type = mediaType(headers["content-type"]);
      if (!GRAPHQL_POST_TYPES.has(type)) {
        return {
          status: 415,
          code: "UNSUPPORTED_MEDIA_TYPE",
          message: `GraphQL over POST takes content-type application/json${type ? `, not ${type}` : ""}`,
        };
      }
      if (Number(headers["content-length"] ?? 0) > this.#maxBody) {
        return { status: 413, code: "REQUEST_ENTITY_TOO_LARGE", message: `request body too large: at most ${this.#maxBody} bytes` };
      }
    }
    const ambient = route === "metrics" || hasSessionCookie(headers);
    if (!ambient) return null;
    if (!this.#sameOriginOrAllowed(headers)) {
      return { status: 403, code: "FORBIDDEN", message: "cross-origin request refused: this origin may not use the SQLGuard session" };
    }
    // A GET needs no preflight, so a foreign page could send it without the browser asking first:
    // cookie-authenticated GraphQL GETs must carry the CSRF header (which does force a preflight).
    if (route === "graphql" && req.method !== "POST" && req.method !== "OPTIONS" && headers[CSRF_HEADER] === undefined) {
      return { status: 403, code: "FORBIDDEN", message: `a GraphQL GET with the session cookie needs the ${CSRF_HEADER} header` };
    }
    return null;
  }

  /** Whether the client reached us over HTTPS: the public URL, or the protocol a proxy forwarded. */
  isSecure(headers: IncomingHttpHeaders | Headers): boolean {
    const forwarded = headers instanceof Headers ? headers.get("x-forwarded-proto") : headers["x-forwarded-proto"];
    return this.#publicHttps || firstValue(forwarded)?.toLowerCase() === "https";
  }

  /** The caller's address: the socket's, or the last X-Forwarded-For entry behind a trusted proxy. */
  clientAddress(req: Pick<IncomingMessage, "headers" | "socket"> | undefined): string {
    if (!req) return "unknown";
    if (this.#trustProxy) {
      const forwarded = String(req.headers["x-forwarded-for"] ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
        .at(-1);
      if (forwarded) return forwarded.slice(0, 64);
    }
    return (req.socket?.remoteAddress ?? "unknown").replace(/^::ffff:/, "");
  }

  #corsHeaders(origin: string): Record<string, string> {
    return { "access-control-allow-origin": origin, "access-control-allow-credentials": "true" };
  }

  /**
   * A request from the console itself, an allow-listed origin, or no browser page at all. Origin
   * is compared by host with the Host (or X-Forwarded-Host) header, so TLS termination in a proxy
   * does not matter; without an Origin, Sec-Fetch-Site tells a foreign page's GET (no header: not a
   * browser, or a top-level navigation typed by the user).
   */
  #sameOriginOrAllowed(headers: IncomingHttpHeaders): boolean {
    const origin = headers.origin;
    if (origin === undefined) {
      const site = firstValue(headers["sec-fetch-site"]);
      return site === undefined || site === "same-origin" || site === "none";
    }
    if (this.#allowed.has(origin) || origin === this.#publicOrigin) return true;
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return false; // "null" (sandboxed frames, file:) and anything unparsable
    }
    const own = [headers.host, firstValue(headers["x-forwarded-host"])].filter((h): h is string => Boolean(h)).map((h) => h.toLowerCase());
    return own.includes(host.toLowerCase());
  }
}

/** Whether the request carries the session cookie and no bearer token (which takes precedence). */
export function hasSessionCookie(headers: IncomingHttpHeaders): boolean {
  if (/^Bearer\s/i.test(headers.authorization ?? "")) return false;
  return Boolean(parseCookies(headers.cookie ?? null)[SESSION_COOKIE]);
}

function mediaType(header: string | undefined): string {
  return (header ?? "").split(";", 1)[0]!.trim().toLowerCase();
}

function firstValue(header: string | string[] | null | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : (header ?? undefined);
  return value?.split(",", 1)[0]?.trim() || undefined;
}
