"use client";

import { useEffect, useRef, useState, type FormEvent } from "react";
import { fieldErrorsOf, messageOf, request } from "@/lib/graphql";
import { COMPRESSIONS, type Compression, type DumpEngine, type EncryptionMode, type GtidPurged, type PgFormat } from "@/lib/types";
import { compressionLabel, gtidPurgedLabel } from "@/lib/labels";
import { CheckField, SelectField, TextAreaField, TextField } from "@/components/ui/field";
import { ErrorMessage } from "@/components/ui/states";
import { CREATE_DUMP_OPTIONS, UPDATE_DUMP_OPTIONS, type DumpOptions } from "./queries";

const MAX_LEVEL: Record<Compression, number> = { ZSTD: 19, GZIP: 9, NONE: 19 };

/** Extra flags as typed: one per line or separated by spaces. */
function flags(value: FormDataEntryValue | null): string[] {
  return String(value ?? "")
    .split(/\s+/)
    .filter(Boolean);
}

/** Client-side checks mirroring the server's rules; the flag allow-lists stay on the server. */
function validate(v: {
  name: string;
  level: string;
  compression: Compression;
  mysqlFlags: string[];
  pgFlags: string[];
  threads: string;
  chunkRows: string;
}): Record<string, string> {
  const e: Record<string, string> = {};
  if (!v.name) e.name = "Enter a name.";
  else if (v.name.length > 100) e.name = "Use at most 100 characters.";
  const max = MAX_LEVEL[v.compression];
  if (!/^\d+$/.test(v.level) || Number(v.level) < 1 || Number(v.level) > max) e.compressionLevel = `Enter a whole number between 1 and ${max}.`;
  const notFlag = (f: string) => !f.startsWith("--");
  if (v.mysqlFlags.some(notFlag)) e.mysqlExtraFlags = "Each flag starts with --, e.g. --skip-comments.";
  if (v.pgFlags.some(notFlag)) e.pgExtraFlags = "Each flag starts with --, e.g. --no-comments.";
  if (v.threads && (!/^\d+$/.test(v.threads) || Number(v.threads) < 1 || Number(v.threads) > 64))
    e.threads = "Enter a whole number between 1 and 64, or leave it empty.";
  if (v.chunkRows && (!/^\d+$/.test(v.chunkRows) || Number(v.chunkRows) < 1000 || Number(v.chunkRows) > 100_000_000))
    e.chunkRows = "Enter a whole number between 1000 and 100000000, or leave it empty.";
  return e;
}

/** "" / "true" / "false" for a nullable boolean select. */
const tristate = (value: boolean | null | undefined) => (value === null || value === undefined ? "" : String(value));

/** Create or edit a dump option profile. Calls `onSaved` with the saved profile. */
export function DumpOptionsForm({ profile, onSaved, onCancel }: { profile?: DumpOptions; onSaved: (saved: DumpOptions) => void; onCancel: () => void }) {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>();
  const [saving, setSaving] = useState(false);
  const [compression, setCompression] = useState<Compression>(profile?.compression ?? "ZSTD");
  const [engine, setEngine] = useState<DumpEngine>(profile?.engine ?? "SINGLE");
  const formRef = useRef<HTMLFormElement>(null);

  useEffect(() => {
    formRef.current?.querySelector<HTMLInputElement>("input")?.focus();
  }, []);

  useEffect(() => {
    if (Object.keys(errors).length) formRef.current?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus();
  }, [errors]);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    const raw = {
      name: String(f.get("name") ?? "").trim(),
      level: String(f.get("compressionLevel") ?? "").trim(),
      compression,
      mysqlFlags: flags(f.get("mysqlExtraFlags")),
      pgFlags: flags(f.get("pgExtraFlags")),
      threads: String(f.get("threads") ?? "").trim(),
      chunkRows: String(f.get("chunkRows") ?? "").trim(),
    };
    const problems = validate(raw);
    setErrors(problems);
    setFailure(undefined);
    if (Object.keys(problems).length) return;
    const gtid = String(f.get("setGtidPurged") ?? "");
    const stats = String(f.get("columnStatistics") ?? "");
    const input = {
      name: raw.name,
      description: String(f.get("description") ?? "").trim() || null,
      compression,
      compressionLevel: Number(raw.level),
      singleTransaction: f.get("singleTransaction") === "on",
      quick: f.get("quick") === "on",
      routines: f.get("routines") === "on",
      triggers: f.get("triggers") === "on",
      events: f.get("events") === "on",
      hexBlob: f.get("hexBlob") === "on",
      setGtidPurged: (gtid || null) as GtidPurged | null,
      columnStatistics: stats ? stats === "true" : null,
      mysqlExtraFlags: raw.mysqlFlags,
      pgFormat: String(f.get("pgFormat") ?? "PLAIN") as PgFormat,
      noOwner: f.get("noOwner") === "on",
      noPrivileges: f.get("noPrivileges") === "on",
      pgExtraFlags: raw.pgFlags,
      engine,
      threads: raw.threads ? Number(raw.threads) : null,
      chunkRows: raw.chunkRows ? Number(raw.chunkRows) : null,
      encryption: String(f.get("encryption") ?? "NONE") as EncryptionMode,
    };
    setSaving(true);
    try {
      const saved = profile
        ? (await request(UPDATE_DUMP_OPTIONS, { id: profile.id, input })).updateDumpOptions
        : (await request(CREATE_DUMP_OPTIONS, { input })).createDumpOptions;
      onSaved(saved);
    } catch (error) {
      const fields = fieldErrorsOf(error);
      setErrors(fields);
      setFailure(Object.keys(fields).length ? new Error(`Check the highlighted fields: ${messageOf(error)}`) : error);
    } finally {
      setSaving(false);
    }
  }

  const p = profile;
  return (
    <section className="panel" aria-labelledby="dump-options-form-heading">
      <h3 id="dump-options-form-heading">{p ? `Edit profile ${p.name}` : "Add a dump option profile"}</h3>
      <form ref={formRef} className="edit-form" onSubmit={onSubmit} noValidate aria-busy={saving}>
        <TextField label="Profile name" name="name" defaultValue={p?.name} error={errors.name} required autoComplete="off" />
        <TextAreaField label="Description" name="description" defaultValue={p?.description ?? ""} error={errors.description} rows={2} />
        <SelectField
          label="Compression"
          name="compression"
          value={compression}
          onChange={(e) => setCompression(e.target.value as Compression)}
          options={COMPRESSIONS.map((c) => ({ value: c, label: compressionLabel(c) }))}
          error={errors.compression}
        />
        <TextField
          label="Compression level"
          name="compressionLevel"
          inputMode="numeric"
          defaultValue={p?.compressionLevel ?? 3}
          error={errors.compressionLevel}
          hint="zstd 1–19 (default 3), gzip 1–9."
        />
        <SelectField
          label="Encryption"
          name="encryption"
          defaultValue={p?.encryption ?? "NONE"}
          options={[
            { value: "NONE", label: "None" },
            { value: "AGE", label: "age (to the instance key and recovery keys)" },
          ]}
          error={errors.encryption}
          hint={
            <>
              age: each copy is encrypted after compression (<code>.age</code>) to every key in Settings → Encryption; <code>age -d -i key.txt</code> opens it.
              Add a recovery key there first: the instance key alone is lost with the server.
            </>
          }
        />
        <fieldset>
          <legend>Engine</legend>
          <SelectField
            label="Dump engine"
            name="engine"
            value={engine}
            onChange={(e) => setEngine(e.target.value as DumpEngine)}
            options={[
              { value: "SINGLE", label: "Single (mysqldump, pg_dump)" },
              { value: "PARALLEL", label: "Parallel (mydumper, pg_dump -j)" },
            ]}
            error={errors.engine}
            hint="Parallel dumps and restores run several threads; the dump is spooled in the data directory first and stored as one .tar.zst."
          />
          <TextField
            label="Threads"
            name="threads"
            inputMode="numeric"
            defaultValue={p?.threads ?? ""}
            error={errors.threads}
            hint="Parallel only. Empty: this host's cores, at most 8."
          />
          <TextField
            label="Rows per chunk"
            name="chunkRows"
            inputMode="numeric"
            defaultValue={p?.chunkRows ?? ""}
            error={errors.chunkRows}
            hint="Parallel, MySQL and MariaDB only (mydumper --rows). Empty: one file per table."
          />
        </fieldset>
        <fieldset>
          <legend>MySQL and MariaDB (mysqldump, mariadb-dump)</legend>
          <CheckField label="Single transaction (consistent InnoDB snapshot)" name="singleTransaction" defaultChecked={p?.singleTransaction ?? true} />
          <CheckField label="Quick (stream rows)" name="quick" defaultChecked={p?.quick ?? true} />
          <CheckField label="Routines" name="routines" defaultChecked={p?.routines ?? true} />
          <CheckField label="Triggers" name="triggers" defaultChecked={p?.triggers ?? true} />
          <CheckField label="Events" name="events" defaultChecked={p?.events ?? true} />
          <CheckField label="Hex blobs" name="hexBlob" defaultChecked={p?.hexBlob ?? true} />
          <SelectField
            label="Set GTID purged"
            name="setGtidPurged"
            defaultValue={p?.setGtidPurged ?? ""}
            options={[{ value: "", label: "Default (Off)" }, ...(["AUTO", "ON", "OFF"] as const).map((v) => ({ value: v, label: gtidPurgedLabel(v) }))]}
            error={errors.setGtidPurged}
            hint="Oracle's mysqldump on a MySQL server. OFF restores into the same server and replicates; ON or AUTO seed a new replica."
          />
          <SelectField
            label="Column statistics"
            name="columnStatistics"
            defaultValue={tristate(p?.columnStatistics)}
            options={[
              { value: "", label: "From the server version" },
              { value: "true", label: "On" },
              { value: "false", label: "Off" },
            ]}
            error={errors.columnStatistics}
            hint="MySQL 8 mysqldump only."
          />
          <TextAreaField
            label="Extra mysqldump flags"
            name="mysqlExtraFlags"
            defaultValue={p?.mysqlExtraFlags.join("\n")}
            error={errors.mysqlExtraFlags}
            rows={2}
            hint="One per line, from the allow-list, e.g. --skip-comments or --max-allowed-packet=1G."
          />
        </fieldset>
        <fieldset>
          <legend>PostgreSQL (pg_dump)</legend>
          <SelectField
            label="Format"
            name="pgFormat"
            defaultValue={p?.pgFormat ?? "PLAIN"}
            options={[
              { value: "PLAIN", label: "Plain SQL" },
              { value: "CUSTOM", label: "Custom (pg_restore)" },
            ]}
            error={errors.pgFormat}
          />
          <CheckField label="No owner" name="noOwner" defaultChecked={p?.noOwner ?? true} />
          <CheckField label="No privileges" name="noPrivileges" defaultChecked={p?.noPrivileges ?? false} />
          <TextAreaField
            label="Extra pg_dump flags"
            name="pgExtraFlags"
            defaultValue={p?.pgExtraFlags.join("\n")}
            error={errors.pgExtraFlags}
            rows={2}
            hint="One per line, from the allow-list, e.g. --no-comments or --exclude-schema=tmp."
          />
        </fieldset>
        <div className="wide">
          <ErrorMessage error={failure} />
        </div>
        <div className="form-actions">
          <button type="submit" className="primary" disabled={saving}>
            {saving ? "Saving…" : p ? "Save profile" : "Add profile"}
          </button>
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  );
}
