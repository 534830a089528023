import { Cron } from "croner";

/** The next `count` fire times of a cron expression in a time zone (croner semantics). */
export function nextRuns(expression: string, timezone: string, count: number, from: Date = new Date()): Date[] {
  const job = new Cron(expression, { timezone, paused: true });
  try {
    return job.nextRuns(count, from);
  } finally {
    job.stop();
  }
}
