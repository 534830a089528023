import type { IncomingMessage, ServerResponse } from "node:http";
import type { PrismaClient } from "./db/client.ts";
import type { Services } from "./graphql/context.ts";
import { createGraphQLHandler } from "./graphql/yoga.ts";
import { createDownloadHandler, DOWNLOAD_PATH } from "./http/download.ts";
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
};

/**
 * Builds the HTTP handler: /graphql, /metrics, /healthz, /readyz and the console. It never listens; main.ts
 * does, and tests call `yoga.fetch()` or mount `handle` on an ephemeral port.
 */
export function createApp(deps: AppDeps) {
  const yoga = createGraphQLHandler(deps);
  const serveConsole = createStaticHandler(deps.consoleDir);
  const download = createDownloadHandler(deps);
  const metrics = deps.metrics ? createMetricsHandler(deps.metrics, deps.logger) : null;
  const log = deps.logger.child({ component: "http" });

  async function readiness(): Promise<{ ready: boolean; reason?: string }> {
    try {
      const rows = await deps.prisma.$queryRaw<Array<{ migration_name: string }>>`
        SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`;
      const applied = new Set(rows.map((r) => r.migration_name));
      const pending = deps.migrations.filter((m) => !applied.has(m));
      return pending.length ? { ready: false, reason: `migrations not applied: ${pending.join(", ")}` } : { ready: true };
    } catch (error) {
      log.warn({ err: error }, "readiness check cannot reach the metadata database");
      return { ready: false, reason: "metadata database unreachable" };
    }
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const pathname = (req.url ?? "/").split("?", 1)[0] ?? "/";
    const downloadId = DOWNLOAD_PATH.exec(pathname)?.[1];
    if (downloadId !== undefined) {
      void download(req, res, Number(downloadId));
    } else if (pathname === "/graphql") {
      void yoga.requestListener(req, res);
    } else if (pathname === "/metrics" && metrics) {
      metrics(req, res);
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

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body));
}
