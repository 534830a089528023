"use client";

import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { fieldErrorsOf, messageOf, request } from "@/lib/graphql";
import type { MissedRunPolicy } from "@/lib/types";
import { CheckField, CheckGroup, SelectField, TextField } from "@/components/ui/field";
import { ErrorMessage } from "@/components/ui/states";
import { CronPreview } from "./cron-preview";
import { CREATE_SCHEDULE, SET_RETENTION_RULE, UPDATE_SCHEDULE, type ScheduleDetail } from "./queries";
import { DEFAULT_RETENTION_TEXT, RetentionDraftFields, defaultDraft, parseDraft, type RetentionDraft, type RetentionKey } from "./retention-defaults";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Create or edit a schedule; the cron field previews its next runs as you type. */
export function ScheduleForm({
  schedule,
  servers,
  targets,
  readOnly,
  onSaved,
}: {
  schedule?: ScheduleDetail;
  servers: ReadonlyArray<{ id: string; name: string }>;
  targets: ReadonlyArray<{ id: string; name: string; isDefault: boolean }>;
  readOnly: boolean;
  /** `problem` says what was saved only in part (a retention rule the server refused). */
  onSaved: (saved: { id: string; name: string }, problem?: string) => void;
}) {
  const [cron, setCron] = useState(schedule?.cronExpression ?? "0 2 * * *");
  const [timezone, setTimezone] = useState(schedule?.timezone ?? "UTC");
  const [serverIds, setServerIds] = useState<string[]>(schedule?.servers.map((s) => String(s.id)) ?? []);
  const [targetIds, setTargetIds] = useState<string[]>(schedule?.storageTargets.map((t) => String(t.id)) ?? []);
  const [errors, setErrors] = useState<Record<string, string>>({});
  // A new schedule gets a retention rule on each target it writes to (prefilled, never "kept forever").
  const [drafts, setDrafts] = useState<Record<string, RetentionDraft>>({});
  const [draftErrors, setDraftErrors] = useState<Record<string, Partial<Record<RetentionKey, string>>>>({});
  const written = schedule ? [] : targetIds.length ? targets.filter((t) => targetIds.includes(String(t.id))) : targets.filter((t) => t.isDefault);
  const [failure, setFailure] = useState<unknown>();
  const [saving, setSaving] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const zones = useMemo(() => (typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : ["UTC"]), []);

  useEffect(() => {
    if (Object.keys(errors).length) formRef.current?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus();
  }, [errors]);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    const name = String(f.get("name") ?? "").trim();
    const problems: Record<string, string> = {};
    if (!name) problems.name = "Enter a name.";
    else if (!NAME.test(name)) problems.name = "Use letters, digits, '.', '_' and '-', starting with a letter or digit.";
    if (!cron.trim()) problems.cronExpression = "Enter a cron expression.";
    else if (cron.trim().split(/\s+/).length < 5 || cron.trim().split(/\s+/).length > 6) problems.cronExpression = "Use five fields (or six with seconds).";
    if (!timezone.trim()) problems.timezone = "Enter an IANA time zone, e.g. Europe/Berlin.";
    const rules = written.map((t) => ({ target: t, draft: drafts[t.id] ?? defaultDraft() }));
    const parsed = rules.map((r) => ({ ...r, ...parseDraft(r.draft) }));
    const retentionProblems = Object.fromEntries(parsed.filter((r) => Object.keys(r.problems).length).map((r) => [r.target.id, r.problems]));
    setErrors(problems);
    setDraftErrors(retentionProblems);
    setFailure(undefined);
    if (Object.keys(problems).length || Object.keys(retentionProblems).length) return;
    const input = {
      name,
      description: String(f.get("description") ?? "").trim() || null,
      cronExpression: cron.trim(),
      timezone: timezone.trim(),
      enabled: f.get("enabled") === "on",
      missedRunPolicy: String(f.get("missedRunPolicy") ?? "RUN_ONCE") as MissedRunPolicy,
      serverIds,
      storageTargetIds: targetIds,
    };
    setSaving(true);
    try {
      const saved = schedule
        ? (await request(UPDATE_SCHEDULE, { id: schedule.id, input })).updateSchedule
        : (await request(CREATE_SCHEDULE, { input })).createSchedule;
      const refused: string[] = [];
      for (const r of parsed) {
        try {
          await request(SET_RETENTION_RULE, { input: { scheduleId: saved.id, storageTargetId: r.target.id, keepForever: r.draft.keepForever, ...r.limits } });
        } catch (e) {
          refused.push(`${r.target.name}: ${messageOf(e)}`);
        }
      }
      onSaved(saved, refused.length ? `The schedule was created, but its retention was not saved on ${refused.join("; ")}. Set it below.` : undefined);
    } catch (error) {
      const fields = fieldErrorsOf(error);
      setErrors(fields);
      setFailure(Object.keys(fields).length ? new Error(`Check the highlighted fields: ${messageOf(error)}`) : error);
    } finally {
      setSaving(false);
    }
  }

  return (
    <form ref={formRef} className="edit-form panel" onSubmit={onSubmit} noValidate aria-busy={saving} aria-label="Schedule">
      <fieldset disabled={readOnly} className="edit-form unstyled">
        <TextField label="Name" name="name" defaultValue={schedule?.name} error={errors.name} autoComplete="off" />
        <TextField label="Description" name="description" defaultValue={schedule?.description ?? ""} error={errors.description} />
        <div className="field">
          <TextField
            label="Cron expression"
            name="cronExpression"
            value={cron}
            onChange={(e) => setCron(e.target.value)}
            error={errors.cronExpression}
            aria-describedby="cron-preview"
            spellCheck={false}
            autoComplete="off"
            className="mono"
          />
          <CronPreview id="cron-preview" expression={cron} timezone={timezone} />
        </div>
        <div className="field">
          <TextField
            label="Time zone"
            name="timezone"
            value={timezone}
            onChange={(e) => setTimezone(e.target.value)}
            list="time-zones"
            error={errors.timezone}
            autoComplete="off"
          />
          <datalist id="time-zones">
            {zones.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
        </div>
        <SelectField
          label="Missed runs"
          name="missedRunPolicy"
          defaultValue={schedule?.missedRunPolicy ?? "RUN_ONCE"}
          options={[
            { value: "RUN_ONCE", label: "Run once at start" },
            { value: "SKIP", label: "Skip" },
          ]}
          hint="What happens to a run missed while SQLGuard was down."
        />
        <CheckField label="Enabled" name="enabled" defaultChecked={schedule?.enabled ?? true} />
        <CheckGroup
          legend="Servers"
          name="servers"
          hint="None chosen = every enabled server."
          options={servers.map((s) => ({ value: String(s.id), label: s.name }))}
          selected={serverIds}
          onChange={setServerIds}
          error={errors.serverIds}
        />
        <CheckGroup
          legend="Storage targets"
          name="targets"
          hint="None chosen = the default targets."
          options={targets.map((t) => ({ value: String(t.id), label: `${t.name}${t.isDefault ? " (default)" : ""}` }))}
          selected={targetIds}
          onChange={setTargetIds}
          error={errors.storageTargetIds}
        />
        {!schedule && (
          <fieldset className="unstyled" data-testid="new-retention">
            <legend>Retention</legend>
            <p className="hint">
              Each target it writes to keeps {DEFAULT_RETENTION_TEXT} unless you change it here (and on the schedule&apos;s page later). The newest successful
              backup is never deleted.
            </p>
            {written.length === 0 && <p className="hint">No target: choose one above, or mark one as default.</p>}
            {written.map((t) => (
              <RetentionDraftFields
                key={t.id}
                target={t}
                draft={drafts[t.id] ?? defaultDraft()}
                errors={draftErrors[t.id] ?? {}}
                onChange={(next) => setDrafts((d) => ({ ...d, [t.id]: next }))}
              />
            ))}
          </fieldset>
        )}
      </fieldset>
      <div className="wide">
        <ErrorMessage error={failure} />
      </div>
      {!readOnly && (
        <div className="form-actions">
          <button type="submit" className="primary" disabled={saving}>
            {saving ? "Saving…" : schedule ? "Save schedule" : "Create schedule"}
          </button>
        </div>
      )}
    </form>
  );
}
