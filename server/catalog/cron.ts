import { Cron, type CronOptions } from "croner";

/**
 * croner's time-zone option for `timezone`. UTC (every default schedule's zone) is a zero offset,
 * computed without ICU: croner resolves a named zone through Intl.DateTimeFormat, and loading ICU's
 * time zone data costs a process about 8 MB resident (bench:memory), which a worker that only
 * reports next runs of UTC schedules need not pay.
 */
export function cronZone(timezone: string): Pick<CronOptions, "timezone" | "utcOffset"> {
  return timezone === "UTC" ? { utcOffset: 0 } : { timezone };
}

/** Whether `zone` is an IANA time zone; UTC is answered without ICU (see cronZone). */
export function isTimeZone(zone: string): boolean {
  if (zone === "UTC") return true;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The next `count` fire times of a cron expression in a time zone (croner semantics). */
export function nextRuns(expression: string, timezone: string, count: number, from: Date = new Date()): Date[] {
  const job = new Cron(expression, { ...cronZone(timezone), paused: true });
  try {
    return job.nextRuns(count, from);
  } finally {
    job.stop();
  }
}
