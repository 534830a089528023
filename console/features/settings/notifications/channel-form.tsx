"use client";

import { useState, type FormEvent } from "react";
import { CheckField, SelectField, TextField } from "@/components/ui/field";
import { ErrorMessage } from "@/components/ui/states";
import { fieldErrorsOf, messageOf, request } from "@/lib/graphql";
import type { ResultOf } from "@/lib/graphql-tada";
import { CREATE_CHANNEL, type NOTIFICATIONS, UPDATE_CHANNEL } from "./queries";
import { SecretField } from "./secret-field";
import { KINDS, type NotificationKind, URL_KINDS } from "./words";

export type Channel = ResultOf<typeof NOTIFICATIONS>["notificationChannels"][number];

const URL_LABEL: Partial<Record<NotificationKind, { label: string; hint: string }>> = {
  SLACK: { label: "Webhook URL", hint: "Slack: an incoming webhook, https://hooks.slack.com/services/…" },
  TEAMS: { label: "Webhook URL", hint: "Teams: a Workflows “When a Teams webhook request is received” URL." },
  DISCORD: { label: "Webhook URL", hint: "Discord: channel settings → Integrations → Webhooks." },
  NTFY: { label: "Topic URL", hint: "e.g. https://ntfy.sh/sqlguard-alerts" },
  WEBHOOK: { label: "Receiver URL", hint: "Gets the signed JSON body described in the README." },
  HEALTHCHECKS: { label: "Ping URL", hint: "The check's ping URL; /start and /fail are appended." },
};
const SECRET_LABEL: Partial<Record<NotificationKind, { label: string; hint: string }>> = {
  WEBHOOK: { label: "Signing secret", hint: "Optional HMAC key: deliveries carry X-SQLGuard-Signature." },
  HEALTHCHECKS: { label: "Signing secret", hint: "Optional HMAC key." },
  NTFY: { label: "Access token", hint: "Optional, for a protected topic." },
};

/**
 * Creates or edits one channel. The fields follow the kind; URLs, passwords and tokens are
 * write-only (see SecretField). Problems the API reports land at their field (`smtp.host`…).
 */
export function ChannelForm({ channel, onSaved, onCancel }: { channel?: Channel; onSaved: (name: string) => void; onCancel?: () => void }) {
  const [kind, setKind] = useState<NotificationKind>(channel?.kind ?? "SLACK");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>();
  const [saving, setSaving] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    const text = (name: string) => String(f.get(name) ?? "").trim();
    const problems: Record<string, string> = {};
    const input: Record<string, unknown> = { name: text("name"), enabled: f.get("enabled") === "on" };
    if (!input.name) problems.name = "Enter a name.";
    if (f.has("url")) {
      const url = text("url");
      if (url) input.url = url;
      else if (URL_KINDS.has(kind)) problems.url = "Enter the URL.";
      else if (channel) input.url = null;
    }
    if (f.has("secret")) input.secret = text("secret") || (channel ? null : undefined);
    if (kind === "EMAIL") {
      const port = text("smtp.port");
      if (port && !/^\d+$/.test(port)) problems["smtp.port"] = "Enter a port number, e.g. 587.";
      input.smtp = {
        host: text("smtp.host"),
        ...(port ? { port: Number(port) } : {}),
        secure: f.get("smtp.secure") === "tls",
        username: text("smtp.username") || null,
        ...(f.has("smtp.password") ? { password: text("smtp.password") || (channel ? null : undefined) } : {}),
        from: text("smtp.from"),
        to: text("smtp.to")
          .split(/[,;\s]+/)
          .filter(Boolean),
      };
      input.weeklyReport = f.get("weeklyReport") === "on";
    }
    if (kind === "TELEGRAM") {
      const botToken = f.has("telegram.botToken") ? text("telegram.botToken") : "";
      input.telegram = { chatId: text("telegram.chatId"), ...(botToken ? { botToken } : {}) };
    }
    setErrors(problems);
    setFailure(undefined);
    if (Object.keys(problems).length) return;
    setSaving(true);
    try {
      if (channel) await request(UPDATE_CHANNEL, { id: channel.id, input });
      else await request(CREATE_CHANNEL, { input: { ...input, kind } as never });
      onSaved(String(input.name));
    } catch (e) {
      const fields = fieldErrorsOf(e);
      setErrors(fields);
      setFailure(Object.keys(fields).length ? new Error(`Check the highlighted fields: ${messageOf(e)}`) : e);
    } finally {
      setSaving(false);
    }
  }

  const url = URL_LABEL[kind];
  const secret = SECRET_LABEL[kind];
  const smtp = channel?.smtp;
  return (
    <form className="edit-form" onSubmit={submit} noValidate aria-label={channel ? `Edit channel ${channel.name}` : "New channel"}>
      {Boolean(failure) && (
        <div className="wide">
          <ErrorMessage error={failure} />
        </div>
      )}
      <TextField label="Channel name" name="name" autoComplete="off" defaultValue={channel?.name} error={errors.name} />
      <SelectField
        label="Kind"
        name="kind"
        value={kind}
        onChange={(e) => {
          setKind(e.target.value as NotificationKind);
          setErrors({});
        }}
        disabled={Boolean(channel)}
        hint={channel ? "The kind cannot change: create a new channel." : undefined}
        options={KINDS}
        error={errors.kind}
      />
      {url && (
        <SecretField
          key={`url-${kind}`}
          label={url.label}
          name="url"
          type="url"
          isSet={Boolean(channel?.urlSet)}
          shown={channel?.urlHost}
          hint={url.hint}
          changeHint={url.hint}
          error={errors.url}
        />
      )}
      {secret && (
        <SecretField key={`secret-${kind}`} label={secret.label} name="secret" isSet={Boolean(channel?.secretSet)} hint={secret.hint} error={errors.secret} />
      )}
      {kind === "TELEGRAM" && (
        <>
          <SecretField
            label="Bot token"
            name="telegram.botToken"
            isSet={Boolean(channel?.telegram?.botTokenSet)}
            hint="From @BotFather, e.g. 123456:ABC-DEF…"
            changeHint="The new token from @BotFather."
            error={errors["telegram.botToken"]}
          />
          <TextField
            label="Chat ID"
            name="telegram.chatId"
            autoComplete="off"
            defaultValue={channel?.telegram?.chatId}
            hint="e.g. -1001234567890, or @channelname"
            error={errors["telegram.chatId"]}
          />
          <SecretField
            label="Bot API URL"
            name="url"
            type="url"
            isSet={Boolean(channel?.urlSet)}
            shown={channel?.urlHost}
            hint="Optional: empty = https://api.telegram.org."
            changeHint="Empty = https://api.telegram.org."
            error={errors.url}
          />
        </>
      )}
      {kind === "EMAIL" && (
        <fieldset className="unstyled edit-form">
          <legend>SMTP server</legend>
          <TextField label="SMTP host" name="smtp.host" autoComplete="off" defaultValue={smtp?.host} error={errors["smtp.host"]} />
          <TextField
            label="SMTP port"
            name="smtp.port"
            inputMode="numeric"
            defaultValue={smtp ? String(smtp.port) : ""}
            hint="Empty = 587 (STARTTLS) or 465 (TLS)."
            error={errors["smtp.port"]}
          />
          <SelectField
            label="Security"
            name="smtp.secure"
            defaultValue={smtp?.secure ? "tls" : "starttls"}
            options={[
              { value: "starttls", label: "STARTTLS (required with a username)" },
              { value: "tls", label: "TLS from the start (port 465)" },
            ]}
          />
          <TextField label="SMTP username" name="smtp.username" autoComplete="off" defaultValue={smtp?.username ?? ""} error={errors["smtp.username"]} />
          <SecretField label="SMTP password" name="smtp.password" isSet={Boolean(smtp?.passwordSet)} error={errors["smtp.password"]} />
          <TextField label="From" name="smtp.from" type="email" autoComplete="off" defaultValue={smtp?.from} error={errors["smtp.from"]} />
          <TextField
            label="To"
            name="smtp.to"
            autoComplete="off"
            defaultValue={smtp?.to.join(", ")}
            hint="One or more addresses, separated by commas."
            error={errors["smtp.to"]}
          />
        </fieldset>
      )}
      {kind === "EMAIL" && (
        <CheckField
          label="Send the weekly report here"
          name="weeklyReport"
          defaultChecked={channel?.weeklyReport ?? false}
          hint="Mondays 08:00 UTC unless the server is configured otherwise."
        />
      )}
      <CheckField label="Enabled" name="enabled" defaultChecked={channel?.enabled ?? true} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={saving}>
          {channel ? "Save channel" : "Add channel"}
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
