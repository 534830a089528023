import type { BackupStatus } from "../db/generated/enums.ts";

/**
 * Retention selection: which backups of one group to delete. Pure: no I/O, no clock (the caller
 * passes `now`), no state beyond a cache of Intl formatters.
 *
 * A group is the backups of ONE schedule x storage target x server x database; the caller groups
 * and applies the decisions (the sweeper).
 *
 * - Keepers are SUCCEEDED and PARTIAL backups; only they are subject to the rule.
 * - RUNNING and PENDING are never deleted. DELETED is left alone (nothing left to delete).
 * - FAILED, CANCELLED and SKIPPED hold no usable backup: deleted once older than `failedGraceMs`
 *   (measured from finishedAt, else the backup time), kept before that so they can be inspected.
 * - keepForever keeps every keeper. Otherwise a keeper is kept when ANY limit keeps it: keepLast,
 *   maxAgeDays, or one of the GFS periods.
 * - A rule without any limit (every field null or 0, keepForever false) deletes NOTHING, not even
 *   failed runs: a missing or half-written rule must never lose data, so the group is not swept.
 * - minKeep: the minKeep newest keepers are always kept, so failing runs can never empty the
 *   history (pgbackweb#121: a week of failures plus maxAge deleted every backup).
 *
 * "Newest" orders by backup time (startedAt, else createdAt), then by id for equal times.
 */

/** The retention fields of a RetentionRule row (a Prisma row is assignable as is). */
export type RetentionPolicy = {
  keepForever: boolean;
  /** Keep keepers at most this many days (of 24 h) old at `now`. */
  maxAgeDays: number | null;
  /** Keep the N newest keepers. */
  keepLast: number | null;
  gfsHourly: number | null;
  gfsDaily: number | null;
  gfsWeekly: number | null;
  gfsMonthly: number | null;
  gfsYearly: number | null;
  minKeep: number;
};

/** The fields of a Backup row the selection reads (a Prisma row is assignable as is). */
export type RetentionCandidate = {
  id: number;
  status: BackupStatus;
  createdAt: Date;
  /** The backup time; createdAt stands in while it is null. */
  startedAt: Date | null;
  finishedAt: Date | null;
};

export type RetentionOptions = {
  /** IANA zone of the schedule; GFS periods are calendar periods in this zone. */
  timezone: string;
  /** How long FAILED / CANCELLED / SKIPPED runs stay before they are deleted. */
  failedGraceMs: number;
};

/** KEEP means "leave alone"; every candidate gets exactly one decision with at least one reason. */
export type RetentionDecision = { id: number; action: "KEEP" | "DELETE"; reasons: string[] };

export type GfsPeriod = "hourly" | "daily" | "weekly" | "monthly" | "yearly";

const GFS_FIELDS = {
  hourly: "gfsHourly",
  daily: "gfsDaily",
  weekly: "gfsWeekly",
  monthly: "gfsMonthly",
  yearly: "gfsYearly",
} as const satisfies Record<GfsPeriod, keyof RetentionPolicy>;

const DAY_MS = 86_400_000;
const NEVER_DELETED = new Set<BackupStatus>(["RUNNING", "PENDING"]);
const KEEPERS = new Set<BackupStatus>(["SUCCEEDED", "PARTIAL"]);

type Entry = { candidate: RetentionCandidate; at: number };

/**
 * Decides KEEP or DELETE for each candidate (same order as the input), with the reasons.
 * Throws RangeError when `options.timezone` is not a valid IANA zone.
 */
export function selectDeletions(candidates: readonly RetentionCandidate[], policy: RetentionPolicy, now: Date, options: RetentionOptions): RetentionDecision[] {
  const calendar = zoneCalendar(options.timezone);
  const entries = candidates.map((c) => ({ candidate: c, at: backupTime(c) }));
  const keepers = entries.filter((e) => KEEPERS.has(e.candidate.status)).sort(newestFirst);
  const limited = hasLimits(policy);
  const kept = limited || policy.keepForever ? keepReasons(keepers, policy, now, calendar) : null;
  const maxAgeDays = count(policy.maxAgeDays);
  const deleteReason = maxAgeDays ? `delete: older than ${maxAgeDays} days and not selected by any rule` : "delete: not selected by any rule";

  return entries.map(({ candidate, at }): RetentionDecision => {
    const { id, status } = candidate;
    const name = status.toLowerCase();
    if (NEVER_DELETED.has(status)) return { id, action: "KEEP", reasons: [`keep: ${name}, never deleted`] };
    if (status === "DELETED") return { id, action: "KEEP", reasons: ["keep: already deleted"] };
    if (!kept) return { id, action: "KEEP", reasons: ["keep: the rule sets no limit"] };
    if (!KEEPERS.has(status)) {
      const age = now.getTime() - (candidate.finishedAt?.getTime() ?? at);
      return age > options.failedGraceMs
        ? { id, action: "DELETE", reasons: [`delete: ${name}, past grace period`] }
        : { id, action: "KEEP", reasons: [`keep: ${name}, within grace period`] };
    }
    const reasons = kept.get(candidate);
    return reasons ? { id, action: "KEEP", reasons } : { id, action: "DELETE", reasons: [deleteReason] };
  });
}

export type RetentionSummary = { total: number; keep: number; delete: number; deleteIds: number[] };

/** Counts the decisions, e.g. for a log line or a dry-run preview. */
export function summarize(decisions: readonly RetentionDecision[]): RetentionSummary {
  const deleteIds = decisions.filter((d) => d.action === "DELETE").map((d) => d.id);
  return { total: decisions.length, keep: decisions.length - deleteIds.length, delete: deleteIds.length, deleteIds };
}

/** Reasons for every kept keeper; keepers is sorted newest first. */
function keepReasons(keepers: Entry[], policy: RetentionPolicy, now: Date, calendar: (ms: number) => LocalTime): Map<RetentionCandidate, string[]> {
  const kept = new Map<RetentionCandidate, string[]>();
  const keep = (e: Entry, reason: string) => {
    const list = kept.get(e.candidate);
    if (list) list.push(reason);
    else kept.set(e.candidate, [reason]);
  };
  if (policy.keepForever) {
    for (const e of keepers) keep(e, "keep: keepForever");
  } else {
    const keepLast = count(policy.keepLast);
    for (const e of keepers.slice(0, keepLast)) keep(e, `keep: newest ${keepLast} (keepLast)`);
    const maxAgeDays = count(policy.maxAgeDays);
    if (maxAgeDays) {
      const limit = now.getTime() - maxAgeDays * DAY_MS;
      for (const e of keepers) if (e.at >= limit) keep(e, `keep: younger than ${maxAgeDays} days (maxAgeDays)`);
    }
    const locals = new Map<Entry, LocalTime>();
    const local = (e: Entry) => locals.get(e) ?? locals.set(e, calendar(e.at)).get(e)!;
    for (const period of Object.keys(GFS_FIELDS) as GfsPeriod[]) {
      const slots = count(policy[GFS_FIELDS[period]]);
      if (!slots) continue;
      // keepers run newest first, so the first entry seen in a period is its newest, and the
      // periods appear newest first: the first `slots` of them are the most recent with a backup.
      const newest = new Map<string, Entry>();
      for (const e of keepers) {
        const label = periodLabel(period, local(e));
        if (!newest.has(label)) newest.set(label, e);
        if (newest.size > slots) break;
      }
      for (const [label, e] of [...newest].slice(0, slots)) keep(e, `keep: ${period} ${label}`);
    }
  }
  const minKeep = count(policy.minKeep);
  for (const e of keepers.slice(0, minKeep)) keep(e, `keep: newest ${minKeep} (minKeep)`);
  return kept;
}

function hasLimits(p: RetentionPolicy): boolean {
  return [p.maxAgeDays, p.keepLast, p.gfsHourly, p.gfsDaily, p.gfsWeekly, p.gfsMonthly, p.gfsYearly].some((n) => count(n) > 0);
}

/** Null, 0 and negative all mean "not set". */
function count(n: number | null): number {
  return n != null && n > 0 ? Math.floor(n) : 0;
}

function backupTime(c: RetentionCandidate): number {
  return (c.startedAt ?? c.createdAt).getTime();
}

function newestFirst(a: Entry, b: Entry): number {
  return b.at - a.at || b.candidate.id - a.candidate.id;
}

type LocalTime = { year: number; month: number; day: number; hour: number; offsetMinutes: number };

/**
 * Labels double as bucket keys. Days, weeks, months and years are calendar periods of the zone, so
 * a 23 h or 25 h DST day is one day. Hours carry the UTC offset: the hour repeated when clocks go
 * back (02:00-03:00 twice in Europe/Berlin) is two hourly periods, one per real hour, so hourly
 * retention never silently merges two hours of backups.
 */
function periodLabel(period: GfsPeriod, t: LocalTime): string {
  const date = `${t.year}-${pad(t.month)}-${pad(t.day)}`;
  switch (period) {
    case "hourly":
      return `${date} ${pad(t.hour)}:00${formatOffset(t.offsetMinutes)}`;
    case "daily":
      return date;
    case "weekly": {
      const { year, week } = isoWeek(t.year, t.month, t.day);
      return `${year}-W${pad(week)}`;
    }
    case "monthly":
      return `${t.year}-${pad(t.month)}`;
    case "yearly":
      return String(t.year);
  }
}

/** ISO 8601 week (weeks start Monday; week 1 holds the year's first Thursday) of a calendar date. */
function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = Date.UTC(year, month - 1, day);
  const mondayBased = (new Date(date).getUTCDay() + 6) % 7;
  const thursday = new Date(date + (3 - mondayBased) * DAY_MS);
  const weekYear = thursday.getUTCFullYear();
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(weekYear, 0, 1)) / (7 * DAY_MS));
  return { year: weekYear, week };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Wall-clock time in `timeZone` of an instant; throws RangeError for an unknown zone. */
function zoneCalendar(timeZone: string): (ms: number) => LocalTime {
  let fmt = formatters.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, fmt);
  }
  const format = fmt;
  return (ms) => {
    const parts: Record<string, number> = {};
    for (const p of format.formatToParts(ms)) if (p.type !== "literal") parts[p.type] = Number(p.value);
    const [year, month, day, minute, second] = [parts.year!, parts.month!, parts.day!, parts.minute!, parts.second!];
    const hour = parts.hour! % 24; // some ICU versions print midnight as 24 even with h23
    const wall = Date.UTC(year, month - 1, day, hour, minute, second);
    const offsetMinutes = Math.round((wall - Math.floor(ms / 1000) * 1000) / 60_000);
    return { year, month, day, hour, offsetMinutes };
  };
}

function formatOffset(minutes: number): string {
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? "-" : "+"}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}
