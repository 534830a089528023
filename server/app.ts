import type { IncomingMessage, ServerResponse } from "node:http";
import type { PrismaClient } from "./db/client.ts";
import type { Services } from "./graphql/context.ts";
import { GRAPHQL_LIMITS } from "./graphql/limits.ts";
import { createGraphQLHandler } from "./graphql/yoga.ts";
import { createDownloadHandler, DOWNLOAD_PATH } from "./http/download.ts";
import { Edge, type EdgeSettings, type GuardedRoute, type Refusal } from "./http/edge.ts";
import { AUTH_ROUTES, createOidcRoutes } from "./http/oidc-routes.ts";
import { readiness as readinessOf } from "./http/readiness.ts";
import { createStaticHandler } from "./http/static-files.ts";
import type { Logger } from "./observability/logger.ts";
import { createMetricsHandler, type MetricsEndpointDeps } from "./observability/metrics-endpoint.ts";

export type AppDeps = {
  prisma: PrismaClient;
  services: Services;
  logger: Logger;
  /** Names of the migrations this version ships; /readyz checks each is applied. */
  migrations: string[];
  /** The console's static export directory. */
  consoleDir: string;
  /** Serves /metrics (Prometheus); without it /metrics is not served. */
  metrics?: MetricsEndpointDeps;
  /** CORS allow-list, public URL, proxy trust (SQLGUARD_CORS_ORIGINS, …); none of them by default. */
  edge?: EdgeSettings;
};

/**
 * Builds the HTTP handler: /graphql, /metrics, /healthz, /readyz and the console. It never listens; main.ts
 * does, and tests call `yoga.fetch()` or mount `handle` on an ephemeral port. /graphql, downloads
 * and /metrics pass the edge first (CORS, cross-origin and CSRF rules, JSON-only GraphQL POSTs).
 */
export function createApp(deps: AppDeps) {
  const edge = new Edge({ maxGraphQLBodyBytes: GRAPHQL_LIMITS.maxBodyBytes, ...deps.edge });
  const yoga = createGraphQLHandler({ ...deps, edge });
  const serveConsole = createStaticHandler(deps.consoleDir);
  const download = createDownloadHandler(deps);
  const metrics = deps.metrics ? createMetricsHandler(deps.metrics, deps.logger) : null;
  const log = deps.logger.child({ component: "http" });
  const auth = createOidcRoutes({ services: deps.services, edge, logger: deps.logger, publicUrl: deps.edge?.publicUrl });

  const readiness = () => readinessOf(deps.prisma, deps.migrations, log);

  /** The edge's verdict on a guarded route: true when the request was answered (preflight or refusal). */
  function stopped(req: IncomingMessage, res: ServerResponse, route: GuardedRoute): boolean {
    if (req.method === "OPTIONS") {
      edge.preflight(req, res, route);
      return true;
    }
    const refusal = edge.refuse(req, route);
    if (refusal) {
      log.warn({ route, method: req.method, origin: req.headers.origin, code: refusal.code }, "request refused at the edge");
      refuse(req, res, route, refusal);
      return true;
    }
    edge.applyCors(req, res, route);
    return false;
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const pathname = (req.url ?? "/").split("?", 1)[0] ?? "/";
    const downloadId = DOWNLOAD_PATH.exec(pathname)?.[1];
    if (downloadId !== undefined) {
      if (!stopped(req, res, "download")) void download(req, res, Number(downloadId));
    } else if (pathname === "/graphql") {
      if (!stopped(req, res, "graphql")) void yoga.requestListener(req, res);
    } else if (pathname === "/metrics" && metrics) {
      if (!stopped(req, res, "metrics")) metrics(req, res);
    } else if (AUTH_ROUTES.has(pathname)) {
      auth(req, res, pathname);
    } else if (pathname === "/healthz") {
      json(res, 200, { status: "ok" });
    } else if (pathname === "/readyz") {
      void readiness().then((r) => json(res, r.ready ? 200 : 503, r.ready ? { status: "ready" } : { status: "not ready", reason: r.reason }));
    } else {
      serveConsole(req, res);
    }
  }

  return { handle, yoga, readiness };
}

/** The largest refused body still read to its end (and thrown away). */
const DRAIN_LIMIT_BYTES = 16 * GRAPHQL_LIMITS.maxBodyBytes;

/** A refusal in each route's own error shape; GraphQL's carries `errors` and no `data`. */
function refuse(req: IncomingMessage, res: ServerResponse, route: GuardedRoute, refusal: Refusal): void {
  // Node drains an unread body so that the connection can be reused and the client reads the answer;
  // past a few MB that is not worth it: close instead (the client may then see a reset).
  if (Number(req.headers["content-length"] ?? 0) > DRAIN_LIMIT_BYTES) res.shouldKeepAlive = false;
  if (route === "metrics") {
    res.writeHead(refusal.status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }).end(`${refusal.message}\n`);
    return;
  }
  const body = route === "graphql" ? { errors: [{ message: refusal.message, extensions: { code: refusal.code } }] } : { error: refusal.message };
  json(res, refusal.status, body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body));
}
