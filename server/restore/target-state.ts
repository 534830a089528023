import type { Restore } from "../db/generated/client.ts";
import type { RestoreTargetState } from "../db/generated/enums.ts";

/**
 * What a restore left the target database as, in a word (`state`, the record's targetState) and in
 * a sentence (`detail`: which databases hold what, and what to do). UNTOUCHED: exactly as before
 * (a database the restore created is gone again); CREATED / REPLACED: it holds the backup;
 * INCOMPLETE: part of the backup, or leftovers, are in it; UNKNOWN: SQLGuard stopped or lost the
 * server in the middle of a swap.
 */
export type TargetReport = { state: RestoreTargetState; detail: string; scratchDatabase?: string | null };

/** A database name as messages quote it. */
export function named(database: string): string {
  return JSON.stringify(database);
}

/** The record's columns for a target report (the scratch name only once there is one). */
export function targetColumns(report: TargetReport): Pick<Restore, "targetState" | "targetDetail"> & { scratchDatabase?: string | null } {
  return {
    targetState: report.state,
    targetDetail: report.detail,
    ...(report.scratchDatabase !== undefined ? { scratchDatabase: report.scratchDatabase } : {}),
  };
}
