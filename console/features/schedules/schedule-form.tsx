"use client";

import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { fieldErrorsOf, messageOf, request } from "@/lib/graphql";
import type { MissedRunPolicy } from "@/lib/types";
import { CheckField, CheckGroup, SelectField, TextField } from "@/components/ui/field";
import { ErrorMessage } from "@/components/ui/states";
import { CronPreview } from "./cron-preview";
import { CREATE_SCHEDULE, UPDATE_SCHEDULE, type ScheduleDetail } from "./queries";

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
  servers: ReadonlyArray<{ id: number; name: string }>;
  targets: ReadonlyArray<{ id: number; name: string; isDefault: boolean }>;
  readOnly: boolean;
  onSaved: (saved: { id: number; name: string }) => void;
}) {
  const [cron, setCron] = useState(schedule?.cronExpression ?? "0 2 * * *");
  const [timezone, setTimezone] = useState(schedule?.timezone ?? "UTC");
  const [serverIds, setServerIds] = useState<string[]>(schedule?.servers.map((s) => String(s.id)) ?? []);
  const [targetIds, setTargetIds] = useState<string[]>(schedule?.storageTargets.map((t) => String(t.id)) ?? []);
  const [errors, setErrors] = useState<Record<string, string>>({});
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
    setErrors(problems);
    setFailure(undefined);
    if (Object.keys(problems).length) return;
    const input = {
      name,
      description: String(f.get("description") ?? "").trim() || null,
      cronExpression: cron.trim(),
      timezone: timezone.trim(),
      enabled: f.get("enabled") === "on",
      missedRunPolicy: String(f.get("missedRunPolicy") ?? "RUN_ONCE") as MissedRunPolicy,
      serverIds: serverIds.map(Number),
      storageTargetIds: targetIds.map(Number),
    };
    setSaving(true);
    try {
      const saved = schedule
        ? (await request(UPDATE_SCHEDULE, { id: schedule.id, input })).updateSchedule
        : (await request(CREATE_SCHEDULE, { input })).createSchedule;
      onSaved(saved);
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
