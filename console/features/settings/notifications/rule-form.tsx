"use client";

import { useState, type FormEvent } from "react";
import { CheckField, CheckGroup, SelectField, TextField } from "@/components/ui/field";
import { ErrorMessage } from "@/components/ui/states";
import { fieldErrorsOf, messageOf, request } from "@/lib/graphql";
import type { ResultOf } from "@/lib/graphql-tada";
import { CREATE_RULE, type NOTIFICATIONS, UPDATE_RULE } from "./queries";
import { EVENTS, type NotificationEvent } from "./words";

type Data = ResultOf<typeof NOTIFICATIONS>;
export type Rule = Data["notificationRules"][number];
type ServerScope = "all" | "names" | "labels";

/** "env=prod, team=db" → label pairs; null when a part is not key=value. */
export function parseLabels(text: string): Array<{ key: string; value: string }> | null {
  const parts = text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const pairs = parts.map((p) => /^([^=\s]+)\s*=\s*(.*)$/.exec(p));
  if (pairs.some((m) => !m)) return null;
  return pairs.map((m) => ({ key: m![1]!, value: m![2]!.trim() }));
}

/**
 * Creates rules (one per chosen channel) or edits one: which events, for which servers (by name or
 * by label) and schedules, and the quiet period after a failure message.
 */
export function RuleForm({ data, rule, onSaved, onCancel }: { data: Data; rule?: Rule; onSaved: (count: number) => void; onCancel?: () => void }) {
  const selector = rule?.serverSelector;
  const [events, setEvents] = useState<string[]>(rule?.events ?? ["FAILURE", "RECOVERY", "OVERDUE"]);
  const [channels, setChannels] = useState<string[]>(rule ? [String(rule.channelId)] : []);
  const [scope, setScope] = useState<ServerScope>(selector?.matchLabels.length ? "labels" : selector?.names.length ? "names" : "all");
  const [names, setNames] = useState<string[]>(selector?.names ?? []);
  const [schedules, setSchedules] = useState<string[]>((rule?.scheduleIds ?? []).map(String));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>();

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    const problems: Record<string, string> = {};
    const quiet = String(f.get("quietMinutes") ?? "").trim();
    if (!/^\d+$/.test(quiet)) problems.quietMinutes = "Enter whole minutes (0 = every failure is sent).";
    if (channels.length === 0) problems.channelId = "Choose at least one channel.";
    const labels = scope === "labels" ? parseLabels(String(f.get("labels") ?? "")) : [];
    if (labels === null || (scope === "labels" && labels.length === 0))
      problems["serverSelector.matchLabels"] = "Enter labels as key=value, separated by commas.";
    if (scope === "names" && names.length === 0) problems["serverSelector.names"] = "Choose at least one server.";
    setErrors(problems);
    setFailure(undefined);
    if (Object.keys(problems).length) return;
    const input = {
      events: events as NotificationEvent[],
      serverSelector: { names: scope === "names" ? names : [], matchLabels: labels ?? [] },
      scheduleIds: schedules,
      quietMinutes: Number(quiet),
      enabled: f.get("enabled") === "on",
    };
    try {
      if (rule) await request(UPDATE_RULE, { id: rule.id, input: { ...input, channelId: String(channels[0]) } });
      else for (const channelId of channels) await request(CREATE_RULE, { input: { ...input, channelId: String(channelId) } });
      onSaved(channels.length);
    } catch (e) {
      const fields = fieldErrorsOf(e);
      setErrors(fields);
      setFailure(Object.keys(fields).length ? new Error(`Check the highlighted fields: ${messageOf(e)}`) : e);
    }
  }

  const channelOptions = data.notificationChannels.map((c) => ({ value: String(c.id), label: c.name }));
  return (
    <form className="edit-form" onSubmit={submit} noValidate aria-label={rule ? "Edit rule" : "New rule"}>
      {Boolean(failure) && (
        <div className="wide">
          <ErrorMessage error={failure} />
        </div>
      )}
      <CheckGroup legend="Events" name="events" options={EVENTS} selected={events} onChange={setEvents} error={errors.events} />
      {rule ? (
        <SelectField
          label="Channel"
          name="channelId"
          value={channels[0]}
          onChange={(e) => setChannels([e.target.value])}
          options={channelOptions}
          error={errors.channelId}
        />
      ) : (
        <CheckGroup
          legend="Channels"
          name="channelId"
          options={channelOptions}
          selected={channels}
          onChange={setChannels}
          hint="One rule per channel."
          error={errors.channelId}
        />
      )}
      <SelectField
        label="Servers"
        name="scope"
        value={scope}
        onChange={(e) => setScope(e.target.value as ServerScope)}
        options={[
          { value: "all", label: "Every server" },
          { value: "names", label: "Servers by name" },
          { value: "labels", label: "Servers by label" },
        ]}
      />
      {scope === "names" && (
        <CheckGroup
          legend="Server names"
          name="names"
          options={[...new Set([...data.servers.map((s) => s.name), ...names])].map((n) => ({ value: n, label: n }))}
          selected={names}
          onChange={setNames}
          error={errors["serverSelector.names"]}
        />
      )}
      {scope === "labels" && (
        <TextField
          label="Server labels"
          name="labels"
          autoComplete="off"
          defaultValue={selector?.matchLabels.map((l) => `${l.key}=${l.value}`).join(", ")}
          hint="key=value pairs, separated by commas: a server must carry every one."
          error={errors["serverSelector.matchLabels"]}
        />
      )}
      <CheckGroup
        legend="Schedules"
        name="scheduleIds"
        options={data.schedules.map((s) => ({ value: String(s.id), label: s.name }))}
        selected={schedules}
        onChange={setSchedules}
        hint="None chosen: every backup, manual ones included."
        error={errors.scheduleIds}
      />
      <TextField
        label="Quiet minutes"
        name="quietMinutes"
        inputMode="numeric"
        defaultValue={String(rule?.quietMinutes ?? 60)}
        hint="After a failure message, further failures of that database stay quiet this long; 0 = send every failure."
        error={errors.quietMinutes}
      />
      <CheckField label="Rule enabled" name="enabled" defaultChecked={rule?.enabled ?? true} />
      <div className="form-actions">
        <button type="submit" className="primary">
          {rule ? "Save rule" : "Add rule"}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
