const TONE: Record<string, "ok" | "bad" | "warn" | "info" | "muted"> = {
  OK: "ok",
  SUCCEEDED: "ok",
  STORED: "ok",
  PASSED: "ok",
  FAILING: "bad",
  FAILED: "bad",
  CORRUPT: "bad",
  MISSING: "bad",
  OVERDUE: "warn",
  DEGRADED: "warn",
  UP: "ok",
  ACKNOWLEDGED: "muted",
  DROPPED: "muted",
  DOWN: "bad",
  ABSENT: "bad",
  PARTIAL: "warn",
  NEVER: "muted",
  SKIPPED: "muted",
  CANCELLED: "muted",
  DELETED: "muted",
  PENDING: "info",
  RUNNING: "info",
  // What a restore left its target database as.
  CREATED: "ok",
  REPLACED: "ok",
  UNTOUCHED: "muted",
  INCOMPLETE: "bad",
  UNKNOWN: "warn",
  // Notification deliveries.
  SENT: "ok",
  SUPPRESSED: "muted",
};

/** A coloured status light with its name as text (colour is never the only signal). */
export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge tone-${TONE[status] ?? "muted"}`} data-status={status}>
      <span className="dot" aria-hidden="true" />
      {status}
    </span>
  );
}
