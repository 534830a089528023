// How the Notifications panel names the API's enum values: words, never the raw constants.
import type { graphql } from "@/lib/graphql-tada";

export type NotificationKind = ReturnType<typeof graphql.scalar<"NotificationKind">>;
export type NotificationEvent = ReturnType<typeof graphql.scalar<"NotificationEvent">>;

/** Channel kinds in the order the form offers them. */
export const KINDS: ReadonlyArray<{ value: NotificationKind; label: string }> = [
  { value: "EMAIL", label: "E-mail" },
  { value: "SLACK", label: "Slack" },
  { value: "TEAMS", label: "Microsoft Teams" },
  { value: "DISCORD", label: "Discord" },
  { value: "TELEGRAM", label: "Telegram" },
  { value: "NTFY", label: "ntfy" },
  { value: "WEBHOOK", label: "Webhook (signed JSON)" },
  { value: "HEALTHCHECKS", label: "Healthchecks pings" },
];

/** Rule events in the order the form offers them. */
export const EVENTS: ReadonlyArray<{ value: NotificationEvent; label: string }> = [
  { value: "FAILURE", label: "Backup failed" },
  { value: "RECOVERY", label: "Recovered" },
  { value: "OVERDUE", label: "Backup overdue" },
  { value: "DRILL_FAILED", label: "Restore drill failed" },
  { value: "CORRUPT_COPY", label: "Corrupt copy" },
  { value: "STORAGE_UNREACHABLE", label: "Storage unreachable" },
  { value: "PITR_CHAIN_BROKEN", label: "Point-in-time chain broken" },
  { value: "SUCCESS", label: "Backup succeeded" },
];

const OTHER_EVENTS: Record<string, string> = { TEST: "Test message", STARTED: "Backup started", WEEKLY_REPORT: "Weekly report" };

/** "Slack", "Microsoft Teams", "E-mail"… */
export function kindLabel(kind: string): string {
  return KINDS.find((k) => k.value === kind)?.label ?? kind;
}

/** A rule event or a delivery's event (TEST, STARTED, WEEKLY_REPORT) as words. */
export function eventLabel(event: string): string {
  return EVENTS.find((e) => e.value === event)?.label ?? OTHER_EVENTS[event] ?? event;
}

/** Kinds that post to a URL the admin enters (Telegram's URL is only an optional API base). */
export const URL_KINDS = new Set<NotificationKind>(["SLACK", "TEAMS", "DISCORD", "NTFY", "WEBHOOK", "HEALTHCHECKS"]);
