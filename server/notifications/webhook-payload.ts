import { isSuccess, runOutcome } from "../backups/outcome.ts";
import crypto from "node:crypto";

/** What a notification is about. STARTED goes only to healthchecks-style /start pings; TEST only from testWebhook. */
export type WebhookEvent =
  | "FAILURE"
  | "RECOVERY"
  | "SUCCESS"
  | "OVERDUE"
  | "DRILL_FAILED"
  | "PITR_CHAIN_BROKEN"
  | "CORRUPT_COPY"
  | "STORAGE_UNREACHABLE"
  | "STARTED"
  | "TEST";

/** The fields of a finished backup a notification carries (never credentials; the error is already scrubbed). */
export type BackupFacts = {
  id: number;
  status: string;
  server: string;
  database: string;
  schedule: string | null;
  trigger: string;
  startedAt: Date | null;
  finishedAt: Date | null;
  durationMs: number | null;
  storedBytes: bigint | null;
  compression: string;
  attempt: number;
  error: string | null;
};

/** The overdue facts the scheduler's health check reports. */
export type OverdueFacts = { expectedBy: Date | null; lastSuccessAt: Date | null; lateSchedules: string[] };

/** A restore drill that failed. */
export type DrillFacts = { id: number; backupId: number; restoreMs: number | null; error: string | null };

/** The JSON body of every delivery (documented in the README). */
export type WebhookBody = {
  version: 1;
  event: WebhookEvent;
  deliveryId: string;
  occurredAt: string;
  summary: string;
  server: string | null;
  database: string | null;
  schedule: string | null;
  backup: {
    id: number;
    status: string;
    trigger: string;
    startedAt: string | null;
    finishedAt: string | null;
    durationSeconds: number | null;
    storedBytes: number | null;
    compression: string;
    attempt: number;
    error: string | null;
  } | null;
  previous: { id: number; status: string; finishedAt: string | null } | null;
  overdue: { expectedBy: string | null; lastSuccessAt: string | null; lateSchedules: string[] } | null;
  drill: DrillFacts | null;
};

/**
 * FAILURE for FAILED or PARTIAL (a target missed its copy); for SUCCEEDED, RECOVERY when the
 * previous finished backup of the same database had failed, SUCCESS otherwise; null for the rest.
 */
export function eventOf(status: string, previousStatus: string | null): WebhookEvent | null {
  // Only a run that just ended (not one retention emptied) is an event; its outcome as in outcome.ts.
  if (status === "DELETED") return null;
  const outcome = runOutcome(status);
  if (!outcome) return null;
  if (!isSuccess(outcome)) return "FAILURE";
  const before = previousStatus ? runOutcome(previousStatus) : null;
  return before && !isSuccess(before) ? "RECOVERY" : "SUCCESS";
}

/** The body for an event about a backup, or about an overdue database (backup null). */
export function buildBody(input: {
  event: WebhookEvent;
  server: string | null;
  database: string | null;
  schedule?: string | null;
  backup?: BackupFacts | null;
  previous?: { id: number; status: string; finishedAt: Date | null } | null;
  overdue?: OverdueFacts | null;
  drill?: DrillFacts | null;
  now?: Date;
}): WebhookBody {
  const { event, backup = null, previous = null, overdue = null, drill = null } = input;
  const where = input.database ? `${input.database} on ${input.server}` : `server ${input.server}`;
  const summary = {
    FAILURE: `Backup of ${where} ${backup?.status === "PARTIAL" ? "reached only some storage targets" : "failed"}${backup?.error ? `: ${backup.error}` : ""}`,
    RECOVERY: `Backup of ${where} succeeded again after a failure`,
    SUCCESS: `Backup of ${where} succeeded`,
    STARTED: `Backup of ${where} started`,
    OVERDUE: `Backup of ${where} is overdue${overdue?.lateSchedules.length ? ` (schedule ${overdue.lateSchedules.join(", ")})` : ""}`,
    DRILL_FAILED: `Restore drill of ${where} failed${drill?.error ? `: ${drill.error}` : ""}`,
    PITR_CHAIN_BROKEN: `Point-in-time recovery chain of ${where} is broken`,
    CORRUPT_COPY: `A stored copy of ${where} is corrupt`,
    STORAGE_UNREACHABLE: `A storage target of ${where} cannot be read`,
    TEST: "Test notification from SQLGuard",
  }[event];
  const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;
  return {
    version: 1,
    event,
    deliveryId: crypto.randomUUID(),
    occurredAt: (input.now ?? new Date()).toISOString(),
    summary: summary.slice(0, 1000),
    server: input.server,
    database: input.database,
    schedule: input.schedule ?? backup?.schedule ?? null,
    backup: backup && {
      id: backup.id,
      status: backup.status,
      trigger: backup.trigger,
      startedAt: iso(backup.startedAt),
      finishedAt: iso(backup.finishedAt),
      durationSeconds: backup.durationMs == null ? null : backup.durationMs / 1000,
      storedBytes: backup.storedBytes == null ? null : Number(backup.storedBytes),
      compression: backup.compression,
      attempt: backup.attempt,
      error: backup.error,
    },
    previous: previous && { id: previous.id, status: previous.status, finishedAt: iso(previous.finishedAt) },
    overdue: overdue && { expectedBy: iso(overdue.expectedBy), lastSuccessAt: iso(overdue.lastSuccessAt), lateSchedules: overdue.lateSchedules },
    drill,
  };
}

/**
 * A healthchecks.io-style ping URL: `<url>/start`, `<url>` or `<url>/fail`, with `rid` (a UUID
 * derived from the backup id) so concurrent runs pair their start and end.
 */
export function pingUrl(base: string, kind: "start" | "success" | "fail", backupId: number): string {
  const url = new URL(base);
  url.pathname = url.pathname.replace(/\/+$/, "") + (kind === "success" ? "" : `/${kind}`);
  url.searchParams.set("rid", `00000000-0000-4000-8000-${backupId.toString(16).padStart(12, "0")}`);
  return url.toString();
}

/** `sha256=<hex>`: HMAC-SHA256 of the exact body bytes with the webhook's secret. */
export function signature(secret: string, body: string): string {
  return `sha256=${crypto.createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}
