import crypto from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "./logger.ts";
import { MetricsNotReadyError } from "./metrics-collector.ts";

/** Credentials /metrics requires; neither set means the endpoint is open (as Prometheus expects by default). */
export type MetricsAuth = {
  /** Accepted as `Authorization: Bearer <token>`. */
  token?: string;
  /** `user:password`, accepted as HTTP basic authentication. */
  basicAuth?: string;
};

/** What the endpoint serves. */
export type MetricsSource = { scrape(): Promise<string>; readonly contentType: string };

/** What createApp needs to serve /metrics. */
export type MetricsEndpointDeps = { source: MetricsSource; auth: MetricsAuth };

/**
 * The /metrics handler: GET (or HEAD) only; with a token or basic credentials configured, a
 * request without either gets 401 and a WWW-Authenticate challenge. Credentials are compared in
 * constant time. Before the first load it answers 503 (so Prometheus never sees the counters
 * start from zero); a scrape that fails answers 500 and is logged (the error is not shown).
 */
export function createMetricsHandler(deps: MetricsEndpointDeps, logger: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  const log = logger.child({ component: "metrics" });
  const { token, basicAuth } = deps.auth;
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if ((token || basicAuth) && !authorized(req.headers.authorization ?? "", deps.auth)) {
      const challenges = [token ? 'Bearer realm="sqlguard"' : null, basicAuth ? 'Basic realm="sqlguard", charset="UTF-8"' : null].filter((c) => c !== null);
      res.writeHead(401, { "www-authenticate": challenges.join(", "), "content-type": "text/plain; charset=utf-8" }).end("authentication required\n");
      return;
    }
    deps.source.scrape().then(
      (text) => {
        res.writeHead(200, { "content-type": deps.source.contentType, "cache-control": "no-store" });
        res.end(req.method === "HEAD" ? undefined : text);
      },
      (error: unknown) => {
        if (error instanceof MetricsNotReadyError) {
          res.writeHead(503, { "retry-after": "5", "content-type": "text/plain; charset=utf-8" }).end("metrics are loading\n");
          return;
        }
        log.error({ err: error }, "metrics scrape failed");
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("metrics unavailable\n");
      },
    );
  };
}

/** Whether the Authorization header carries the configured bearer token or basic credentials. */
function authorized(header: string, auth: MetricsAuth): boolean {
  const [scheme = "", value = ""] = header.trim().split(/\s+/, 2);
  if (auth.token && scheme.toLowerCase() === "bearer") return sameSecret(value, auth.token);
  if (auth.basicAuth && scheme.toLowerCase() === "basic") return sameSecret(Buffer.from(value, "base64").toString("utf8"), auth.basicAuth);
  return false;
}

/** Constant-time comparison of two strings of any length (through their SHA-256). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => crypto.createHash("sha256").update(s).digest();
  return crypto.timingSafeEqual(digest(given), digest(expected));
}
