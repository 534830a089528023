import type { MessageFacts } from "./events.ts";

/** A message for people, before a channel puts it in its own shape. */
export type Message = {
  /** One line: what happened, where. */
  title: string;
  /** A sentence or two. */
  text: string;
  /** Labelled facts (server, database, since, error...), in reading order. */
  fields: Array<{ label: string; value: string }>;
  /** The backup (or the console) in SQLGuard, when SQLGUARD_PUBLIC_URL is set. */
  link: string | null;
  severity: "bad" | "good" | "info";
};

const SEVERITY: Record<MessageFacts["event"], Message["severity"]> = {
  FAILURE: "bad",
  OVERDUE: "bad",
  DRILL_FAILED: "bad",
  PITR_CHAIN_BROKEN: "bad",
  CORRUPT_COPY: "bad",
  STORAGE_UNREACHABLE: "bad",
  RECOVERY: "good",
  SUCCESS: "good",
  TEST: "info",
  STARTED: "info",
  WEEKLY_REPORT: "info",
};

/** The console address of what the message is about: the backup, or the backups page. */
export function linkFor(publicUrl: string | undefined, backupId: number | null): string | null {
  if (!publicUrl) return null;
  const base = publicUrl.replace(/\/+$/, "");
  return backupId != null ? `${base}/backups/detail/?id=${backupId}` : `${base}/backups/`;
}

/** Writes the message for people: what failed, on which server and database, since when, the error, a link. */
export function messageOf(f: MessageFacts, publicUrl?: string): Message {
  const where = f.database ? `${f.database} on ${f.server}` : f.server ? `server ${f.server}` : "SQLGuard";
  const count = f.failures && f.failures > 1 ? ` (${f.failures} failures in a row)` : "";
  const title = {
    FAILURE: f.failures && f.failures > 1 ? `Backup of ${where} is still failing` : `Backup of ${where} failed`,
    RECOVERY: `Backup of ${where} recovered`,
    SUCCESS: `Backup of ${where} succeeded`,
    OVERDUE: `Backup of ${where} is overdue`,
    DRILL_FAILED: `Restore drill of ${where} failed`,
    PITR_CHAIN_BROKEN: `Point-in-time recovery chain of ${where} is broken`,
    CORRUPT_COPY: `A stored copy of ${where} is corrupt`,
    STORAGE_UNREACHABLE: f.target ? `Storage target ${f.target} is unreachable` : `A storage target of ${where} cannot be read`,
    TEST: "Test notification from SQLGuard",
    STARTED: `Backup of ${where} started`,
    WEEKLY_REPORT: "SQLGuard weekly backup report",
  }[f.event];
  const text = {
    FAILURE: `The backup of ${where} failed${count}. Until a backup succeeds, this database has no fresh copy.`,
    RECOVERY: `The backup of ${where} succeeded again${count ? ` after ${f.failures} failures` : " after a failure"}.`,
    SUCCESS: `The backup of ${where} succeeded.`,
    OVERDUE: `${where} has no successful backup since a schedule expected one.`,
    DRILL_FAILED: `A restore drill of ${where} failed: the backup could not be restored and checked.`,
    PITR_CHAIN_BROKEN: `The log chain of ${where} has a gap: point-in-time recovery past it is not possible until the next full backup.`,
    CORRUPT_COPY: `Verification read a stored copy of ${where} and its bytes no longer match the recorded checksum.`,
    STORAGE_UNREACHABLE: f.target
      ? `SQLGuard cannot write to or read from storage target ${f.target}: backups to it fail until it is reachable again.`
      : `Verification could not read a stored copy of ${where}: the storage target did not answer.`,
    TEST: "This channel works: SQLGuard will send its notifications here.",
    STARTED: `The backup of ${where} started.`,
    WEEKLY_REPORT: "The weekly report of every database's backups.",
  }[f.event];
  const fields: Message["fields"] = [];
  if (f.target) fields.push({ label: "Storage target", value: f.target });
  if (f.server) fields.push({ label: "Server", value: f.server });
  if (f.database) fields.push({ label: "Database", value: f.database });
  if (f.schedule) fields.push({ label: "Schedule", value: f.schedule });
  if (f.since && (f.event === "FAILURE" || f.event === "RECOVERY")) fields.push({ label: f.event === "RECOVERY" ? "Failing since" : "Since", value: f.since });
  if (f.error) fields.push({ label: "Error", value: f.error.slice(0, 900) });
  if (f.detail) fields.push({ label: "Detail", value: f.detail });
  if (f.backupId != null) fields.push({ label: "Backup", value: `#${f.backupId}` });
  fields.push({ label: "When", value: f.occurredAt });
  return { title, text, fields, link: linkFor(publicUrl, f.backupId), severity: SEVERITY[f.event] };
}
