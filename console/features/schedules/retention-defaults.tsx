"use client";

import { CheckField, TextField } from "@/components/ui/field";

/** The limits a new schedule's targets start with: the newest 7 runs, plus 7 daily, 4 weekly and 6 monthly (GFS). */
export const DEFAULT_RETENTION = { keepLast: "7", maxAgeDays: "", gfsDaily: "7", gfsWeekly: "4", gfsMonthly: "6" } as const;

export const DEFAULT_RETENTION_TEXT = "the newest 7, plus one a day for 7 days, one a week for 4 weeks and one a month for 6 months";

const FIELDS = [
  ["keepLast", "Keep last"],
  ["gfsDaily", "Daily (GFS)"],
  ["gfsWeekly", "Weekly (GFS)"],
  ["gfsMonthly", "Monthly (GFS)"],
  ["maxAgeDays", "Max age (days)"],
] as const;

export type RetentionKey = (typeof FIELDS)[number][0];
/** The retention a new schedule will get on one target, as typed. */
export type RetentionDraft = { keepForever: boolean } & Record<RetentionKey, string>;

export function defaultDraft(): RetentionDraft {
  return { keepForever: false, ...DEFAULT_RETENTION };
}

/**
 * Checks a draft: whole numbers, and at least one limit unless kept forever. Returns the rule's
 * limits, or problems by field key.
 */
export function parseDraft(draft: RetentionDraft): { limits: Partial<Record<RetentionKey, number>>; problems: Partial<Record<RetentionKey, string>> } {
  const limits: Partial<Record<RetentionKey, number>> = {};
  const problems: Partial<Record<RetentionKey, string>> = {};
  if (draft.keepForever) return { limits, problems };
  for (const [key] of FIELDS) {
    const value = draft[key].trim();
    if (!value) continue;
    if (!/^\d+$/.test(value)) problems[key] = "Enter a whole number.";
    else limits[key] = Number(value);
  }
  if (!Object.keys(problems).length && !Object.values(limits).some((n) => n > 0)) problems.keepLast = "Set at least one limit, or keep forever.";
  return { limits, problems };
}

/** The retention of one target in the create-schedule form, prefilled with DEFAULT_RETENTION. */
export function RetentionDraftFields({
  target,
  draft,
  errors,
  onChange,
}: {
  target: { id: string; name: string };
  draft: RetentionDraft;
  errors: Partial<Record<RetentionKey, string>>;
  onChange: (next: RetentionDraft) => void;
}) {
  return (
    <fieldset className="edit-form retention-draft" aria-label={`Retention on ${target.name}`} data-testid={`new-retention-${target.name}`}>
      <legend>Retention on {target.name}</legend>
      <CheckField label="Keep forever" checked={draft.keepForever} onChange={(e) => onChange({ ...draft, keepForever: e.target.checked })} />
      {FIELDS.map(([key, label]) => (
        <TextField
          key={key}
          label={label}
          name={`retention-${target.id}-${key}`}
          inputMode="numeric"
          value={draft[key]}
          onChange={(e) => onChange({ ...draft, [key]: e.target.value })}
          error={errors[key]}
          disabled={draft.keepForever}
        />
      ))}
    </fieldset>
  );
}
