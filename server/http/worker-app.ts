import type { IncomingMessage, ServerResponse } from "node:http";
import type { PrismaClient } from "../db/client.ts";
import type { Logger } from "../observability/logger.ts";
import { createMetricsHandler, type MetricsEndpointDeps } from "../observability/metrics-endpoint.ts";
import { readiness } from "./readiness.ts";

export type WorkerAppDeps = {
  prisma: PrismaClient;
  logger: Logger;
  /** Names of the migrations this version ships; /readyz checks each is applied. */
  migrations: string[];
  metrics: MetricsEndpointDeps;
};

/**
 * The HTTP handler of a `worker` instance (SQLGUARD_ROLE=worker): /healthz, /readyz and /metrics
 * only, on plain node:http. It imports nothing of GraphQL, yoga, Pothos or the console, so a
 * worker process never loads them (server/main.ts imports app.ts only for the other roles).
 */
export function createWorkerApp(deps: WorkerAppDeps) {
  const log = deps.logger.child({ component: "http" });
  const metrics = createMetricsHandler(deps.metrics, deps.logger);
  function handle(req: IncomingMessage, res: ServerResponse): void {
    const pathname = (req.url ?? "/").split("?", 1)[0] ?? "/";
    if (pathname === "/healthz") json(res, 200, { status: "ok", role: "worker" });
    else if (pathname === "/readyz")
      void readiness(deps.prisma, deps.migrations, log).then((r) =>
        json(res, r.ready ? 200 : 503, r.ready ? { status: "ready" } : { status: "not ready", reason: r.reason }),
      );
    else if (pathname === "/metrics") metrics(req, res);
    else json(res, 404, { error: "not found: a worker instance (SQLGUARD_ROLE=worker) serves /healthz, /readyz and /metrics only" });
  }
  return { handle };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body));
}
