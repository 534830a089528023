/**
 * The one definition of a backup run's success, used by every reader that judges one: the
 * dashboard's cards and daily chart, the Prometheus metrics and the webhooks (outcome.test.ts
 * checks that they agree).
 *
 * - SUCCEEDED: every storage target holds the artifact and its manifest. This is a success.
 * - PARTIAL: some target lacks its copy. A recovery point exists, but the run did not do what its
 *   schedule asked: it counts as a failure in every rate, and as a FAILURE event.
 * - FAILED: no copy anywhere. A failure.
 * - DELETED: retention (or an admin) removed the artifacts of a run that ended SUCCEEDED or
 *   PARTIAL; it keeps the outcome it had. A PARTIAL run keeps its error text, a SUCCEEDED one has
 *   none, which is how the two are told apart once deleted. Never a failure of its own.
 * - PENDING, RUNNING, CANCELLED, SKIPPED: not a finished run; counted nowhere.
 */
export type RunOutcome = "SUCCESS" | "PARTIAL" | "FAILURE";

/** Statuses whose run stored at least one copy: a recovery point (the RPO and "last good backup" count them). */
export const RECOVERY_POINT_STATUSES = ["SUCCEEDED", "PARTIAL"] as const;

/** Statuses that finished a run (whatever retention did since). */
export const FINISHED_RUN_STATUSES = ["SUCCEEDED", "PARTIAL", "FAILED", "DELETED"] as const;

/** The outcome of a run with this status (and, for DELETED, error text), or null for a run that did not finish. */
export function runOutcome(status: string, error: string | null = null): RunOutcome | null {
  switch (status) {
    case "SUCCEEDED":
      return "SUCCESS";
    case "PARTIAL":
      return "PARTIAL";
    case "FAILED":
      return "FAILURE";
    case "DELETED":
      return error ? "PARTIAL" : "SUCCESS";
    default:
      return null;
  }
}

/** Whether a run succeeded: SUCCESS only (a PARTIAL run missed a target). */
export function isSuccess(outcome: RunOutcome | null): boolean {
  return outcome === "SUCCESS";
}

/** Successful runs over finished runs, 0..1; null when none finished. */
export function successRate(counts: { succeeded: number; finished: number }): number | null {
  return counts.finished ? counts.succeeded / counts.finished : null;
}

/** Tallies runs given as (status, error, count) rows into succeeded / finished counts. */
export function tally(rows: Iterable<{ status: string; error?: string | null; clean?: boolean; n: number }>): { succeeded: number; finished: number } {
  let succeeded = 0;
  let finished = 0;
  for (const row of rows) {
    const error = row.clean === undefined ? (row.error ?? null) : row.clean ? null : "error";
    const outcome = runOutcome(row.status, error);
    if (!outcome) continue;
    finished += row.n;
    if (isSuccess(outcome)) succeeded += row.n;
  }
  return { succeeded, finished };
}
