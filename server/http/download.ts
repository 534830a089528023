import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import type { AuthService } from "../auth/auth.service.ts";
import type { BackupsService } from "../backups/backups.service.ts";
import { parseCookies, SESSION_COOKIE } from "./cookies.ts";
import type { Logger } from "../observability/logger.ts";
import { AppError } from "../errors.ts";

const STATUS_OF: Record<string, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, BAD_USER_INPUT: 400 };

export const DOWNLOAD_PATH = /^\/api\/backups\/(\d+)\/download$/;

/**
 * `GET /api/backups/:id/download?storageTargetId=…[&file=manifest]`: streams a stored artifact (or
 * its manifest, the JSON sidecar beside it) to an operator,
 * authenticated like /graphql (session cookie or bearer token). Without storageTargetId, the first
 * target that holds it.
 */
export function createDownloadHandler(deps: {
  services: { auth: Pick<AuthService, "authenticate">; backups: Pick<BackupsService, "openArtifact"> };
  logger: Logger;
}) {
  const log = deps.logger.child({ component: "download" });
  return async (req: IncomingMessage, res: ServerResponse, backupId: number): Promise<void> => {
    try {
      if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, "use GET");
      const url = new URL(req.url ?? "/", "http://localhost");
      const rawTarget = url.searchParams.get("storageTargetId");
      if (rawTarget !== null && !/^\d+$/.test(rawTarget))
        throw new AppError("BAD_USER_INPUT", "storageTargetId: must be a positive integer", { field: "storageTargetId" });
      const file = url.searchParams.get("file") ?? "artifact";
      if (file !== "artifact" && file !== "manifest") throw new AppError("BAD_USER_INPUT", "file: must be artifact or manifest", { field: "file" });
      const principal = await deps.services.auth.authenticate({
        sessionToken: parseCookies(req.headers.cookie ?? null)[SESSION_COOKIE],
        bearerToken: req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1],
      });
      if (!principal) throw new AppError("UNAUTHENTICATED", "authentication required: log in or send an API token");
      const artifact = await deps.services.backups.openArtifact(principal, backupId, rawTarget === null ? null : Number(rawTarget), file);
      res.writeHead(200, {
        "content-type": artifact.contentType,
        "content-disposition": `attachment; filename="${artifact.fileName.replace(/["\\]/g, "_")}"; filename*=UTF-8''${encodeURIComponent(artifact.fileName)}`,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        ...(artifact.bytes !== null ? { "content-length": String(artifact.bytes) } : {}),
      });
      if (req.method === "HEAD") {
        artifact.body.destroy();
        res.end();
        return;
      }
      await pipeline(artifact.body, res);
    } catch (error) {
      if (res.headersSent) {
        log.warn({ err: error, backupId }, "download interrupted");
        res.destroy();
        return;
      }
      const status =
        error instanceof HttpError
          ? error.status
          : error instanceof AppError
            ? (STATUS_OF[error.code] ?? 500)
            : (error as { code?: string }).code === "NOT_FOUND"
              ? 404
              : 500;
      if (status === 500) log.error({ err: error, backupId }, "download failed");
      const message = status === 500 && !(error instanceof AppError) ? "the artifact could not be read from its storage target" : (error as Error).message;
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify({ error: message }));
    }
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
