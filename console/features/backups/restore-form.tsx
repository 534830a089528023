"use client";

import { useEffect, useRef, useState, type FormEvent } from "react";
import { fieldErrorsOf, messageOf, request } from "@/lib/graphql";
import { useQuery } from "@/lib/use-query";
import { useConfirm } from "@/components/ui/confirm-dialog";
import { CheckField, SelectField, TextField } from "@/components/ui/field";
import { ErrorMessage } from "@/components/ui/states";
import type { VariablesOf } from "@/lib/graphql-tada";
import { PitrWindow } from "../databases/pitr-window";
import { RESTORE_BACKUP, RESTORE_PITR_WINDOW, RESTORE_TARGETS, type Restore } from "./queries";
import { RestoreStatusPanel } from "./restore-status";

/** What the form needs to know about the backup it restores. */
export interface RestoreSource {
  id: number;
  database: string;
  engine: string;
  server: { id: number } | null;
  artifacts: ReadonlyArray<{ status: string; storageTargetId: number | null; storageTarget: { name: string; kind: string } | null }>;
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

/**
 * "Restore…": picks the copy to read, the server and the database to restore into (a new one by
 * default; admins may overwrite), starts the restore and follows it until it ends.
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
  const pitr = useQuery(
    RESTORE_PITR_WINDOW,
    { id: backup.server?.id ?? 0, database: backup.database },
    { skip: !backup.server || FAMILY[backup.engine] !== "mysql" },
  );
  const window = pitr.data?.server.pitr ?? null;
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [started, setStarted] = useState<Restore>();
  const formRef = useRef<HTMLFormElement>(null);
  const confirm = useConfirm();

  const copies = backup.artifacts.filter((a) => a.status === "STORED" && a.storageTargetId !== null);
  const compatible = (servers.data?.servers ?? []).filter((s) => FAMILY[s.engine] === FAMILY[backup.engine]);

  useEffect(() => {
    if (Object.keys(errors).length) formRef.current?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus();
  }, [errors]);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    const database = String(f.get("database") ?? "").trim();
    const serverId = String(f.get("serverId") ?? "");
    const problems = validate(database, backup.engine);
    setErrors(problems);
    setFailure(undefined);
    if (Object.keys(problems).length) return;
    const input: VariablesOf<typeof RESTORE_BACKUP>["input"] = {
      backupId: backup.id,
      storageTargetId: Number(f.get("storageTargetId")),
      overwrite: f.get("overwrite") === "on",
    };
    if (serverId) input.serverId = Number(serverId);
    // <input type="datetime-local"> has no zone: the form asks for UTC, as the API takes it.
    const pointInTime = String(f.get("pointInTime") ?? "").trim();
    if (f.get("toPointInTime") === "on") {
      if (!pointInTime) return setErrors({ pointInTime: "Enter the instant (UTC) to restore to." });
      input.pointInTime = `${pointInTime.length === 16 ? `${pointInTime}:00` : pointInTime}Z`;
      if (f.get("force") === "on") input.force = true;
    }
    if (database) input.database = database;
    if (input.overwrite) {
      const title = `Replace ${database || "the database"} with backup #${backup.id}?`;
      if (!(await confirm({ title, message: "If the database exists, its current contents are lost once the restore commits.", confirmLabel: "Replace it" })))
        return;
    }
    setBusy(true);
    try {
      setStarted((await request(RESTORE_BACKUP, { input })).restoreBackup);
    } catch (error) {
      const fields = fieldErrorsOf(error);
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
        <form ref={formRef} className="edit-form" onSubmit={onSubmit} noValidate aria-busy={busy}>
          <SelectField
            label="Read from"
            name="storageTargetId"
            options={copies.map((a) => ({ value: String(a.storageTargetId), label: `${a.storageTarget?.name ?? "target"} (${a.storageTarget?.kind ?? "?"})` }))}
            error={errors.storageTargetId}
          />
          <SelectField
            label="Restore into server"
            name="serverId"
            defaultValue={backup.server ? String(backup.server.id) : ""}
            key={servers.data ? "loaded" : "loading"}
            options={[
              ...(backup.server ? [] : [{ value: "", label: "Choose a server" }]),
              ...compatible.map((s) => ({ value: String(s.id), label: `${s.name} (${s.engine})` })),
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
                hint="The newest dump before that instant is restored, then the archived binlog is replayed up to it (this backup only picks the server and database)."
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
              {window.broken && <CheckField label="Replay past the break (transactions may be missing)" name="force" />}
            </fieldset>
          )}
          {canOverwrite && (
            <CheckField label="Overwrite an existing database" name="overwrite" hint="Admin only: its current contents are lost once the restore commits." />
          )}
          <div className="wide">
            <ErrorMessage error={failure} />
          </div>
          <div className="form-actions">
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
