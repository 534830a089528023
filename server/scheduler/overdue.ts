import { nextDue, type CronSpec } from "./due-times.ts";

/** An enabled schedule that covers a server (chosen, or "all enabled servers"). */
export type CoveringSchedule = { id: number; name: string; spec: CronSpec; createdAt: Date };

/** A database that should be backed up, what its schedules are, and when it last succeeded. */
export type DatabaseCoverage = {
  serverId: number;
  serverName: string;
  serverCreatedAt: Date;
  /** Null when no database of the server has ever been recorded: the server itself is the subject. */
  database: string | null;
  /** Start of the newest SUCCEEDED or PARTIAL backup. */
  lastSuccessAt: Date | null;
  schedules: CoveringSchedule[];
};

/** A database's backup health: when a fresh successful backup is expected, and whether it is late. */
export type DatabaseHealth = Omit<DatabaseCoverage, "schedules" | "serverCreatedAt"> & {
  schedules: string[];
  /** Due time of the first run after the last success (or after coverage began), plus the grace. */
  expectedBy: Date | null;
  overdue: boolean;
  /** The schedules whose expected-by time has passed. */
  lateSchedules: string[];
};

/**
 * Expected-by and overdue for one database. Per covering schedule, the first due time after the
 * last success (or, without one, after the server and the schedule both existed), plus `graceMs`
 * for the backup to run, is when a newer success is expected; the earliest over the schedules is
 * the database's expected-by time, and the database is overdue once any of them has passed
 * without a success. Pure: the caller passes `now`. A schedule whose expression no longer parses
 * is ignored.
 */
export function assessHealth(entry: DatabaseCoverage, now: Date, graceMs: number): DatabaseHealth {
  let expectedBy: Date | null = null;
  const late: string[] = [];
  for (const schedule of entry.schedules) {
    const since = entry.lastSuccessAt ?? new Date(Math.max(entry.serverCreatedAt.getTime(), schedule.createdAt.getTime()));
    let due: Date | null;
    try {
      due = nextDue(schedule.spec, since);
    } catch {
      continue;
    }
    if (!due) continue;
    const by = new Date(due.getTime() + graceMs);
    if (!expectedBy || by < expectedBy) expectedBy = by;
    if (by < now) late.push(schedule.name);
  }
  const { schedules, serverCreatedAt: _created, ...rest } = entry;
  return { ...rest, schedules: schedules.map((s) => s.name), expectedBy, overdue: late.length > 0, lateSchedules: late };
}
