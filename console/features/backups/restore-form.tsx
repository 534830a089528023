"use client";

import { useEffect, useRef, useState, type FormEvent } from "react";
import { fieldErrorsOf, messageOf, request } from "@/lib/graphql";
import { useQuery } from "@/lib/use-query";
import { useConfirm } from "@/components/ui/confirm-dialog";
import { CheckField, SelectField, TextField } from "@/components/ui/field";
import { ErrorMessage } from "@/components/ui/states";
import type { VariablesOf } from "@/lib/graphql-tada";
import { engineLabel, storageKindLabel } from "@/lib/labels";
import { RESTORE_BACKUP, RESTORE_PITR_WINDOW, RESTORE_PREFLIGHT, RESTORE_TARGETS, type Restore, type RestorePreflight } from "./queries";
import { PreflightReport } from "./restore-preflight";
import { PitrWindow } from "../databases/pitr-window";
import { RestoreStatusPanel } from "./restore-status";

/** What the form needs to know about the backup it restores. */
export interface RestoreSource {
  id: string;
  database: string;
  engine: string;
  server: { id: string } | null;
  artifacts: ReadonlyArray<{ status: string; storageTargetId: string | null; storageTarget: { name: string; kind: string } | null }>;
}

const FAMILY: Record<string, string> = { MARIADB: "mysql", MYSQL: "mysql", POSTGRESQL: "pg" };
const MYSQL_NAME_CHARS = 64;

/** Client-side checks mirroring the server's; the server's own field errors still show. */
function validate(database: string, engine: string): Record<string, string> {
  if (!database) return {};
  if (FAMILY[engine] === "mysql" && [...database].length > MYSQL_NAME_CHARS) return { database: `Use at most ${MYSQL_NAME_CHARS} characters.` };
  if (database.endsWith(" ")) return { database: "The name must not end with a space." };
  return {};
}

/** The target and account a restore and its pre-flight share, read from the form. */
function targetOf(form: HTMLFormElement, backupId: string) {
  const f = new FormData(form);
  const database = String(f.get("database") ?? "").trim();
  const serverId = String(f.get("serverId") ?? "");
  const username = String(f.get("restoreUsername") ?? "").trim();
  const input: VariablesOf<typeof RESTORE_PREFLIGHT>["input"] = { backupId, storageTargetId: String(f.get("storageTargetId")) };
  if (serverId) input.serverId = String(serverId);
  if (database) input.database = database;
  if (f.get("restoreAs") === "on") input.credentials = { username, password: String(f.get("restorePassword") ?? "") };
  return { input, database, asOther: f.get("restoreAs") === "on", username };
}

/**
 * "Restore…": picks the copy to read, the server and the database to restore into (a new one by
 * default; admins may overwrite), optionally another account to restore as, checks the restore
 * before it runs (the dump's definers against that account's privileges), starts the restore and
 * follows it until it ends.
 */
export function RestoreForm({
  backup,
  canOverwrite,
  onClose,
  onEnd,
}: {
  backup: RestoreSource;
  canOverwrite: boolean;
  onClose: () => void;
  onEnd: () => void;
}) {
  const servers = useQuery(RESTORE_TARGETS);
  const pitr = useQuery(RESTORE_PITR_WINDOW, { id: backup.server?.id ?? "", database: backup.database }, { skip: !backup.server });
  const window = pitr.data?.server.pitr ?? null;
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [started, setStarted] = useState<Restore>();
  const [asOther, setAsOther] = useState(false);
  const [checking, setChecking] = useState(false);
  const [preflight, setPreflight] = useState<RestorePreflight>();
  const formRef = useRef<HTMLFormElement>(null);
  const confirm = useConfirm();

  const copies = backup.artifacts.filter((a) => a.status === "STORED" && a.storageTargetId !== null);
  const compatible = (servers.data?.servers ?? []).filter((s) => FAMILY[s.engine] === FAMILY[backup.engine]);

  useEffect(() => {
    if (Object.keys(errors).length) formRef.current?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus();
  }, [errors]);

  /** Runs the pre-flight with what the form says now; its report replaces the previous one. */
  async function onCheck() {
    if (!formRef.current) return;
    const { input, database, asOther: other, username } = targetOf(formRef.current, backup.id);
    const problems = { ...validate(database, backup.engine), ...(other && !username ? { restoreUsername: "Enter the user to restore as." } : {}) };
    setErrors(problems);
    setFailure(undefined);
    if (Object.keys(problems).length) return;
    setChecking(true);
    try {
      setPreflight((await request(RESTORE_PREFLIGHT, { input })).restorePreflight);
    } catch (error) {
      setPreflight(undefined);
      const fields = fieldErrorsOf(error);
      setErrors(renameCredentialFields(fields));
      setFailure(error);
    } finally {
      setChecking(false);
    }
  }

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const { input: target, database, asOther: other, username } = targetOf(event.currentTarget, backup.id);
    const f = new FormData(event.currentTarget);
    const problems = { ...validate(database, backup.engine), ...(other && !username ? { restoreUsername: "Enter the user to restore as." } : {}) };
    setErrors(problems);
    setFailure(undefined);
    if (Object.keys(problems).length) return;
    const input: VariablesOf<typeof RESTORE_BACKUP>["input"] = {
      ...target,
      overwrite: f.get("overwrite") === "on",
      rewriteDefiners: f.get("rewriteDefiners") === "on",
    };
    // <input type="datetime-local"> has no zone: the form asks for UTC, as the API takes it.
    const pointInTime = String(f.get("pointInTime") ?? "").trim();
    const stopAtGtid = String(f.get("stopAtGtid") ?? "").trim();
    const stopAtPosition = String(f.get("stopAtPosition") ?? "").trim();
    if (f.get("toPointInTime") === "on") {
      // One target: a GTID or a binlog position when given, else the instant.
      if (stopAtGtid) input.stopAtGtid = stopAtGtid;
      else if (stopAtPosition) input.stopAtPosition = stopAtPosition;
      else if (!pointInTime) return setErrors({ pointInTime: "Enter the instant (UTC), a GTID or a binlog position to restore to." });
      else input.pointInTime = `${pointInTime.length === 16 ? `${pointInTime}:00` : pointInTime}Z`;
      if (f.get("force") === "on") input.force = true;
    }
    if (input.overwrite) {
      const title = `Replace ${database || "the database"} with backup #${backup.id}?`;
      if (!(await confirm({ title, message: "If the database exists, its current contents are lost once the restore commits.", confirmLabel: "Replace it" })))
        return;
    }
    setBusy(true);
    try {
      setStarted((await request(RESTORE_BACKUP, { input })).restoreBackup);
    } catch (error) {
      const fields = renameCredentialFields(fieldErrorsOf(error));
      setErrors(fields);
      setFailure(Object.keys(fields).length ? new Error(`Check the highlighted fields: ${messageOf(error)}`) : error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="panel" aria-labelledby="restore-heading">
      <h2 id="restore-heading">Restore backup #{backup.id}</h2>
      {started ? (
        <>
          <RestoreStatusPanel initial={started} canCancel onEnd={onEnd} />
          <div className="form-actions">
            <button type="button" onClick={onClose}>
              Close
            </button>
          </div>
        </>
      ) : (
        <form
          ref={formRef}
          className="edit-form"
          onSubmit={onSubmit}
          // A changed target or account makes the last check stale (ticking the rewrite does not).
          onChange={(e) => {
            const name = (e.target as unknown as { name?: string }).name;
            if (name !== "rewriteDefiners" && name !== "overwrite") setPreflight(undefined);
          }}
          noValidate
          aria-busy={busy}
        >
          <SelectField
            label="Read from"
            name="storageTargetId"
            options={copies.map((a) => ({
              value: String(a.storageTargetId),
              label: `${a.storageTarget?.name ?? "target"} (${a.storageTarget ? storageKindLabel(a.storageTarget.kind) : "?"})`,
            }))}
            error={errors.storageTargetId}
          />
          <SelectField
            label="Restore into server"
            name="serverId"
            defaultValue={backup.server ? String(backup.server.id) : ""}
            key={servers.data ? "loaded" : "loading"}
            options={[
              ...(backup.server ? [] : [{ value: "", label: "Choose a server" }]),
              ...compatible.map((s) => ({ value: String(s.id), label: `${s.name} (${engineLabel(s.engine)})` })),
            ]}
            error={errors.serverId ?? (servers.error ? messageOf(servers.error) : undefined)}
          />
          <TextField
            label="Database name"
            name="database"
            autoComplete="off"
            placeholder={`${backup.database}_restored_<UTC time>`}
            error={errors.database}
            hint="A new database, created by the restore. Empty = a new name with the time."
          />
          {window?.enabled && (
            <fieldset className="wide" aria-labelledby="pitr-restore-heading" data-testid="pitr-restore">
              <legend id="pitr-restore-heading">Restore to a point in time</legend>
              <p className="small">
                <PitrWindow pitr={window} />
              </p>
              <CheckField
                label="Restore to a point in time"
                name="toPointInTime"
                hint={
                  FAMILY[backup.engine] === "pg"
                    ? "The newest base backup before that instant is replayed to it in a temporary instance, and this database is copied from there (this backup only picks the server and database)."
                    : "The newest dump before that instant is restored, then the archived binlog is replayed up to it (this backup only picks the server and database)."
                }
              />
              <TextField
                label="Instant (UTC)"
                name="pointInTime"
                type="datetime-local"
                step={1}
                min={window.recoverableFrom?.slice(0, 19)}
                max={window.recoverableTo?.slice(0, 19)}
                error={errors.pointInTime}
              />
              {/* GTIDs and binlog positions are MariaDB / MySQL's: PostgreSQL restores to an instant. */}
              {FAMILY[backup.engine] !== "pg" && (
                <>
                  <TextField
                    label="Or up to a GTID"
                    name="stopAtGtid"
                    autoComplete="off"
                    placeholder="0-1-42"
                    error={errors.stopAtGtid}
                    hint="MariaDB: up to and including that transaction (instead of the instant)."
                  />
                  <TextField
                    label="Or up to a binlog position"
                    name="stopAtPosition"
                    autoComplete="off"
                    placeholder="mysql-bin.000007:1234"
                    error={errors.stopAtPosition}
                    hint="file:offset, as SHOW MASTER STATUS reports it (instead of the instant)."
                  />
                </>
              )}
              {window.broken && <CheckField label="Replay past the break (transactions may be missing)" name="force" />}
            </fieldset>
          )}
          {canOverwrite && (
            <CheckField label="Overwrite an existing database" name="overwrite" hint="Admin only: its current contents are lost once the restore commits." />
          )}
          <CheckField
            label="Restore as another user"
            name="restoreAs"
            checked={asOther}
            onChange={(e) => setAsOther(e.currentTarget.checked)}
            hint="Instead of the server's backup user, e.g. the application's own user. The password is used for this restore only, never stored."
          />
          {asOther && (
            <>
              <TextField label="User" name="restoreUsername" autoComplete="off" error={errors.restoreUsername} />
              <TextField label="Password" name="restorePassword" type="password" autoComplete="new-password" error={errors.restorePassword} />
            </>
          )}
          {preflight && (
            <div className="wide">
              <PreflightReport result={preflight} />
            </div>
          )}
          {preflight?.canRewriteDefiners && preflight.problems.some((p) => p.solvedByRewrite) && (
            <CheckField
              label={`Rewrite definers to ${preflight.restoringUser}`}
              name="rewriteDefiners"
              hint={
                FAMILY[backup.engine] === "pg"
                  ? "The dump's OWNER TO statements are left out: the restoring role owns every object."
                  : "Every DEFINER of the dump's triggers, views, routines and events becomes the restoring user."
              }
            />
          )}
          <div className="wide">
            <ErrorMessage error={failure} />
          </div>
          <div className="form-actions">
            <button type="button" onClick={onCheck} disabled={checking || copies.length === 0}>
              {checking ? "Checking…" : "Check"}
            </button>
            <button type="submit" className="primary" disabled={busy || copies.length === 0}>
              {busy ? "Starting…" : "Start restore"}
            </button>
            <button type="button" onClick={onClose}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

/** The API names the account's fields credentials.*; the form calls them restoreUsername / restorePassword. */
function renameCredentialFields(fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, message] of Object.entries(fields)) {
    const name = field === "credentials" || field === "credentials.password" ? "restorePassword" : field === "credentials.username" ? "restoreUsername" : field;
    out[name] = message;
  }
  return out;
}
