"use client";

import { useEffect, useRef, useState, type FormEvent } from "react";
import { fieldErrorsOf, messageOf, request } from "@/lib/graphql";
import { ENGINES, type Engine } from "@/lib/types";
import { engineLabel } from "@/lib/labels";
import { CheckField, SelectField, TextField } from "@/components/ui/field";
import { ErrorMessage } from "@/components/ui/states";
import type { VariablesOf } from "@/lib/graphql-tada";
import { ConnectionResult } from "./connection-result";
import { CREATE_SERVER, TEST_SERVER_DRAFT, UPDATE_SERVER, type ConnectionTest, type Server } from "./queries";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function list(value: FormDataEntryValue | null): string[] {
  return String(value ?? "")
    .split(/[\s,]+/)
    .filter(Boolean);
}

/** Client-side checks mirroring the server's rules; the server's own field errors still show. */
function validate(v: { name: string; host: string; port: string; username: string; maxConcurrent: string }): Record<string, string> {
  const e: Record<string, string> = {};
  if (!v.name) e.name = "Enter a name.";
  else if (!NAME.test(v.name)) e.name = "Use letters, digits, '.', '_' and '-', starting with a letter or digit.";
  if (!v.host) e.host = "Enter a host name or IP address.";
  if (v.port && !(/^\d+$/.test(v.port) && Number(v.port) >= 1 && Number(v.port) <= 65535)) e.port = "Enter a port between 1 and 65535.";
  if (!v.username) e.username = "Enter the user SQLGuard connects as.";
  if (v.maxConcurrent && !(/^\d+$/.test(v.maxConcurrent) && Number(v.maxConcurrent) >= 1)) e.maxConcurrent = "Enter a whole number of at least 1.";
  return e;
}

/** Create or edit a server. Calls `onSaved` with the saved server. */
export function ServerForm({
  server,
  profiles,
  onSaved,
  onCancel,
}: {
  server?: Server;
  profiles: ReadonlyArray<{ id: string; name: string }>;
  onSaved: (server: Server) => void;
  onCancel: () => void;
}) {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>();
  const [saving, setSaving] = useState(false);
  const [engine, setEngine] = useState<Engine>(server?.engine ?? "MARIADB");
  const [testing, setTesting] = useState(false);
  const [tested, setTested] = useState<ConnectionTest>();
  const formRef = useRef<HTMLFormElement>(null);

  useEffect(() => {
    formRef.current?.querySelector<HTMLInputElement>("input")?.focus();
  }, []);

  useEffect(() => {
    if (Object.keys(errors).length) formRef.current?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus();
  }, [errors]);

  /** The form's values as the API's input (the password only when typed, or cleared on purpose). */
  function readInput(form: HTMLFormElement) {
    const f = new FormData(form);
    const raw = {
      name: String(f.get("name") ?? "").trim(),
      host: String(f.get("host") ?? "").trim(),
      port: String(f.get("port") ?? "").trim(),
      username: String(f.get("username") ?? ""),
      maxConcurrent: String(f.get("maxConcurrent") ?? "").trim(),
    };
    const password = String(f.get("password") ?? "");
    const profile = String(f.get("dumpOptionsId") ?? "");
    const input: VariablesOf<typeof CREATE_SERVER>["input"] = {
      name: raw.name,
      engine,
      host: raw.host,
      port: raw.port ? Number(raw.port) : null,
      username: raw.username,
      includeDatabases: list(f.get("includeDatabases")),
      excludeDatabases: list(f.get("excludeDatabases")),
      tls: f.get("tls") === "on",
      // Shown for MySQL and MariaDB only; otherwise the stored value stays.
      ...(engine !== "POSTGRESQL" ? { allowPublicKeyRetrieval: f.get("allowPublicKeyRetrieval") === "on" } : {}),
      enabled: f.get("enabled") === "on",
      maxConcurrent: raw.maxConcurrent && /^\d+$/.test(raw.maxConcurrent) ? Number(raw.maxConcurrent) : 1,
      dumpOptionsId: profile ? String(profile) : null,
      // Point-in-time recovery archives the binlog (MySQL, MariaDB) or the WAL (PostgreSQL).
      pitr: {
        enabled: f.get("pitrEnabled") === "on",
        rpoSeconds: /^\d+$/.test(String(f.get("pitrRpoSeconds") ?? "")) ? Number(f.get("pitrRpoSeconds")) : null,
        storageTargetIds: list(f.get("pitrStorageTargetIds")),
      },
    };
    if (!server || password || f.get("clearPassword") === "on") input.password = password;
    if (input.port === null || Number.isNaN(input.port)) delete input.port;
    return { raw, input };
  }

  /** Tests what the form holds, before saving (the saved password is used when none is typed). */
  async function onTest() {
    if (!formRef.current) return;
    const { raw, input } = readInput(formRef.current);
    const problems = validate({ ...raw, name: raw.name || "unsaved" });
    setErrors(problems);
    setFailure(undefined);
    setTested(undefined);
    if (Object.keys(problems).length) return;
    const { name: _name, enabled: _enabled, maxConcurrent: _max, dumpOptionsId: _profile, pitr: _pitr, ...probe } = input;
    setTesting(true);
    try {
      setTested((await request(TEST_SERVER_DRAFT, { id: server?.id ?? null, input: probe })).testServerConnection);
    } catch (error) {
      const fields = fieldErrorsOf(error);
      setErrors(fields);
      setFailure(error);
    } finally {
      setTesting(false);
    }
  }

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const { raw, input } = readInput(event.currentTarget);
    const problems = validate(raw);
    setErrors(problems);
    setFailure(undefined);
    if (Object.keys(problems).length) return;
    setSaving(true);
    try {
      const saved = server ? (await request(UPDATE_SERVER, { id: server.id, input })).updateServer : (await request(CREATE_SERVER, { input })).createServer;
      onSaved(saved);
    } catch (error) {
      const fields = fieldErrorsOf(error);
      setErrors(fields);
      if (!Object.keys(fields).length) setFailure(error);
      else setFailure(new Error(`Check the highlighted fields: ${messageOf(error)}`));
    } finally {
      setSaving(false);
    }
  }

  const defaultPort = engine === "POSTGRESQL" ? "5432" : "3306";
  return (
    <section className="panel" aria-labelledby="server-form-heading">
      <h2 id="server-form-heading">{server ? `Edit server ${server.name}` : "Add a server"}</h2>
      <form ref={formRef} className="edit-form" onSubmit={onSubmit} noValidate aria-busy={saving}>
        <TextField label="Name" name="name" defaultValue={server?.name} error={errors.name} required autoComplete="off" />
        <SelectField
          label="Engine"
          name="engine"
          value={engine}
          onChange={(e) => setEngine(e.target.value as Engine)}
          options={ENGINES.map((e) => ({ value: e, label: engineLabel(e) }))}
          error={errors.engine}
        />
        <TextField label="Host" name="host" defaultValue={server?.host} error={errors.host} required autoComplete="off" />
        <TextField label="Port" name="port" inputMode="numeric" defaultValue={server?.port} placeholder={defaultPort} error={errors.port} />
        <TextField label="Username" name="username" defaultValue={server?.username} error={errors.username} required autoComplete="off" />
        <TextField
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          error={errors.password}
          hint={
            server ? (server.passwordSet ? "A password is stored; leave empty to keep it." : "No password stored.") : "Stored encrypted, never shown again."
          }
        />
        <TextField
          label="Include databases"
          name="includeDatabases"
          defaultValue={server?.includeDatabases.join(", ")}
          error={errors.includeDatabases}
          hint="Glob patterns, comma separated; empty = every non-system database."
        />
        <TextField
          label="Exclude databases"
          name="excludeDatabases"
          defaultValue={server?.excludeDatabases.join(", ")}
          error={errors.excludeDatabases}
          hint="Applied after the includes."
        />
        <TextField label="Concurrent backups" name="maxConcurrent" inputMode="numeric" defaultValue={server?.maxConcurrent ?? 1} error={errors.maxConcurrent} />
        <SelectField
          label="Dump options profile"
          name="dumpOptionsId"
          defaultValue={server?.dumpOptionsId ?? ""}
          options={[{ value: "", label: "Default" }, ...profiles.map((p) => ({ value: String(p.id), label: p.name }))]}
          error={errors.dumpOptionsId}
        />
        <CheckField label="Use TLS" name="tls" defaultChecked={server?.tls ?? false} />
        {engine !== "POSTGRESQL" && (
          <CheckField
            label="Without TLS, fetch the server's public key (MySQL 8)"
            name="allowPublicKeyRetrieval"
            defaultChecked={server?.allowPublicKeyRetrieval ?? true}
            hint="MySQL 8 logins (caching_sha2_password) need it after every server restart unless TLS is on. Someone on the network could hand over another key and read the password: use TLS where you can."
          />
        )}
        {
          <fieldset className="wide" aria-labelledby="pitr-heading">
            <legend id="pitr-heading">Point-in-time recovery</legend>
            <CheckField
              label={engine === "POSTGRESQL" ? "Archive the WAL continuously" : "Archive the binary log continuously"}
              name="pitrEnabled"
              defaultChecked={server?.pitr.enabled ?? false}
              hint={
                engine === "POSTGRESQL"
                  ? "Restores can then reach any second since the oldest kept base backup (taken on the server's schedules). Needs wal_level=replica, a free WAL sender and slot, the REPLICATION attribute for the user, and max_slot_wal_keep_size set so a stopped receiver cannot fill the server's disk."
                  : "Restores can then reach any second since the oldest kept dump. Needs the binary log on (ROW format) and REPLICATION SLAVE, REPLICATION CLIENT for the user."
              }
            />
            <TextField
              label={engine === "POSTGRESQL" ? "Ship the open WAL segment every (seconds)" : "Ship the open binlog every (seconds)"}
              name="pitrRpoSeconds"
              inputMode="numeric"
              defaultValue={server?.pitr.rpoSeconds ?? 60}
              error={errors["pitr.rpoSeconds"]}
              hint="The most writes a lost server can take with it (5–3600)."
            />
            <TextField
              label="Archive storage target ids"
              name="pitrStorageTargetIds"
              defaultValue={server?.pitr.storageTargetIds?.join(", ") ?? ""}
              error={errors["pitr.storageTargetIds"]}
              hint="Comma separated; empty = the default storage targets."
            />
          </fieldset>
        }
        <CheckField label="Enabled" name="enabled" defaultChecked={server?.enabled ?? true} />
        {server?.passwordSet && <CheckField label="Remove the stored password" name="clearPassword" />}
        <div className="wide">
          <ErrorMessage error={failure} />
          {tested && <ConnectionResult serverName={server?.name ?? "the new server"} result={tested} />}
        </div>
        <div className="form-actions">
          <button type="submit" className="primary" disabled={saving}>
            {saving ? "Saving…" : server ? "Save server" : "Add server"}
          </button>
          <button type="button" onClick={onTest} disabled={testing || saving}>
            {testing ? "Testing…" : "Test connection"}
          </button>
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  );
}
