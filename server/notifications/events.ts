/**
 * What a notification rule can ask for. PITR_CHAIN_BROKEN is defined for the point-in-time
 * recovery work: nothing emits it yet. STORAGE_UNREACHABLE comes from artifact verification when a
 * target cannot be read (UNREADABLE); CORRUPT_COPY when a stored copy's bytes no longer match.
 */
export const NOTIFICATION_EVENTS = [
  "FAILURE",
  "RECOVERY",
  "OVERDUE",
  "DRILL_FAILED",
  "PITR_CHAIN_BROKEN",
  "CORRUPT_COPY",
  "STORAGE_UNREACHABLE",
  "SUCCESS",
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/** What one message is about: a rule's event, or a channel test, a healthchecks start ping, the weekly report. */
export type MessageEvent = NotificationEvent | "TEST" | "STARTED" | "WEEKLY_REPORT";

/**
 * The facts a message is written from, kept in the delivery log (JSON) so that a failed delivery
 * can be sent again. Never credentials: errors were scrubbed by the runner already.
 */
export type MessageFacts = {
  event: MessageEvent;
  occurredAt: string;
  server: string | null;
  database: string | null;
  schedule: string | null;
  backupId: number | null;
  /** Since when the database has been failing (the incident's first failure). */
  since: string | null;
  /** Failures in the incident so far (failure reminders and recoveries). */
  failures: number | null;
  error: string | null;
  /** STORAGE_UNREACHABLE from the health checks: the storage target's name. */
  target?: string | null;
  /** One more line for people, e.g. the storage target of a corrupt copy. */
  detail: string | null;
  /** The body a WEBHOOK / HEALTHCHECKS channel POSTs (the webhook format, documented in the README). */
  webhook: Record<string, unknown> | null;
  /** HEALTHCHECKS: which ping ("start", "success", "fail"). */
  ping: "start" | "success" | "fail" | null;
};

/** Facts with every optional part empty. */
export function facts(partial: Partial<MessageFacts> & { event: MessageEvent }): MessageFacts {
  return {
    occurredAt: new Date().toISOString(),
    server: null,
    database: null,
    schedule: null,
    backupId: null,
    since: null,
    failures: null,
    error: null,
    detail: null,
    webhook: null,
    ping: null,
    ...partial,
  };
}
