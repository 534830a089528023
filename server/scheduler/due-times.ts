import { Cron } from "croner";
import { cronZone } from "../catalog/cron.ts";

/** A schedule's timing: a cron expression (5 or 6 fields) read in an IANA time zone. */
export type CronSpec = { expression: string; timezone: string };

const MAX_CACHED = 5000;
const evaluators = new Map<string, Cron>();

/** A paused croner instance for a spec, cached: parsing costs more than evaluating. */
function evaluator(spec: CronSpec): Cron {
  const key = `${spec.timezone}\u0000${spec.expression}`;
  let job = evaluators.get(key);
  if (!job) {
    if (evaluators.size >= MAX_CACHED) evaluators.clear();
    job = new Cron(spec.expression, { ...cronZone(spec.timezone), paused: true });
    evaluators.set(key, job);
  }
  return job;
}

/** True when both specs fire at the same times (same expression, same zone). */
export function sameSpec(a: CronSpec, b: CronSpec): boolean {
  return a.expression === b.expression && a.timezone === b.timezone;
}

/**
 * The latest due time at or before `at`, or null when the schedule never fired before it.
 * A tick firing a few milliseconds late still maps to its own due time. Throws on a bad spec.
 */
export function latestDue(spec: CronSpec, at: Date): Date | null {
  // croner's previousRuns excludes the reference itself, so look from 1 ms later.
  return evaluator(spec).previousRuns(1, new Date(at.getTime() + 1))[0] ?? null;
}

const MAX_MEMO = 50_000;
const nextMemo = new Map<string, Date | null>();

/**
 * The first due time strictly after `after`, or null when there is none. Throws on a bad spec.
 * Memoized: health and dashboard queries ask it for every database's last success (about 90 µs a
 * call in croner), and those instants rarely change between calls.
 */
export function nextDue(spec: CronSpec, after: Date): Date | null {
  const key = `${spec.timezone}\u0000${spec.expression}\u0000${after.getTime()}`;
  const hit = nextMemo.get(key);
  if (hit !== undefined) return hit && new Date(hit.getTime());
  const next = evaluator(spec).nextRun(after);
  if (nextMemo.size >= MAX_MEMO) nextMemo.clear();
  nextMemo.set(key, next);
  return next && new Date(next.getTime());
}

/** Due times in (from, to], oldest first, at most `limit` of them. Throws on a bad spec. */
export function dueTimesBetween(spec: CronSpec, from: Date, to: Date, limit = 10_000): Date[] {
  const out: Date[] = [];
  let cursor: Date | null = from;
  while (out.length < limit) {
    cursor = nextDue(spec, cursor);
    if (!cursor || cursor.getTime() > to.getTime()) break;
    out.push(cursor);
  }
  return out;
}
