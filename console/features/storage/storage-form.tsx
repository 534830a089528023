"use client";

import { useEffect, useRef, useState, type FormEvent } from "react";
import { fieldErrorsOf, GraphQLRequestError, messageOf, request } from "@/lib/graphql";
import type { StorageKind } from "@/lib/types";
import { CheckField, SelectField, TextField } from "@/components/ui/field";
import { ErrorMessage } from "@/components/ui/states";
import { CREATE_TARGET, TEST_TARGET_DRAFT, UPDATE_TARGET, type StorageTarget, type TargetTest } from "./queries";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** The fields that say where a target's artifacts are; the server refuses to change them while it holds some. */
const LOCATION_FIELDS = ["kind", "path", "bucket", "prefix", "endpoint"];

/** Create or edit a local or S3 storage target. */
export function StorageForm({ target, onSaved, onCancel }: { target?: StorageTarget; onSaved: (t: StorageTarget) => void; onCancel: () => void }) {
  const [kind, setKind] = useState<StorageKind>(target?.kind ?? "LOCAL");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>();
  const [saving, setSaving] = useState(false);
  const [testing, setTesting] = useState(false);
  const [tested, setTested] = useState<TargetTest>();
  // Set once the server refused to re-point a target holding artifacts: offers the explicit migration.
  const [relocationRefused, setRelocationRefused] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);

  useEffect(() => formRef.current?.querySelector<HTMLInputElement>("input")?.focus(), []);
  useEffect(() => {
    if (Object.keys(errors).length) formRef.current?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus();
  }, [errors]);

  /** The form's checks and values as the API's input; `forTest` lets the name be empty. */
  function readForm(form: HTMLFormElement, forTest: boolean) {
    const f = new FormData(form);
    const text = (k: string) => String(f.get(k) ?? "").trim();
    const problems: Record<string, string> = {};
    if (!text("name")) {
      if (!forTest) problems.name = "Enter a name.";
    } else if (!NAME.test(text("name"))) problems.name = "Use letters, digits, '.', '_' and '-', starting with a letter or digit.";
    if (kind === "LOCAL") {
      if (!text("path")) problems.path = "Enter the directory backups are written to.";
      else if (!text("path").startsWith("/")) problems.path = "Enter an absolute path (starting with /).";
    } else {
      if (!text("bucket")) problems.bucket = "Enter the bucket name.";
      if (text("endpoint") && !/^https?:\/\/\S+$/.test(text("endpoint"))) problems.endpoint = "Enter an http:// or https:// URL, or leave empty for AWS.";
      if (!target && !!text("accessKeyId") !== !!text("secretAccessKey"))
        problems.secretAccessKey = "Enter both the access key id and the secret key, or neither.";
    }
    const input: Record<string, unknown> = {
      ...(text("name") ? { name: text("name") } : {}),
      kind,
      prefix: text("prefix"),
      enabled: f.get("enabled") === "on",
      isDefault: f.get("isDefault") === "on",
    };
    if (kind === "LOCAL") input.path = text("path");
    else {
      Object.assign(input, {
        bucket: text("bucket"),
        endpoint: text("endpoint") || null,
        region: text("region") || null,
        accessKeyId: text("accessKeyId") || null,
        forcePathStyle: f.get("forcePathStyle") === "on",
      });
      if (!target || text("secretAccessKey")) input.secretAccessKey = text("secretAccessKey") || null;
    }
    return { problems, input, f };
  }

  /** Tests what the form holds, before saving (a saved secret is used when none is typed). */
  async function onTest() {
    if (!formRef.current) return;
    const { problems, input } = readForm(formRef.current, true);
    setErrors(problems);
    setFailure(undefined);
    setTested(undefined);
    if (Object.keys(problems).length) return;
    const { name: _name, enabled: _enabled, isDefault: _default, ...probe } = input;
    setTesting(true);
    try {
      setTested((await request(TEST_TARGET_DRAFT, { id: target?.id ?? null, input: probe })).testStorageTarget);
    } catch (error) {
      setErrors(fieldErrorsOf(error));
      setFailure(error);
    } finally {
      setTesting(false);
    }
  }

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const { problems, input, f } = readForm(event.currentTarget, false);
    setErrors(problems);
    setFailure(undefined);
    if (Object.keys(problems).length) return;
    setSaving(true);
    try {
      const migration = f.get("artifactsMoved") === "on" ? ("ARTIFACTS_MOVED" as const) : null;
      const saved = target
        ? (await request(UPDATE_TARGET, { id: target.id, input, migration })).updateStorageTarget
        : (await request(CREATE_TARGET, { input })).createStorageTarget;
      onSaved(saved);
    } catch (error) {
      const fields = fieldErrorsOf(error);
      setErrors(fields);
      if (error instanceof GraphQLRequestError && error.code === "CONFLICT" && error.fields.some((p) => LOCATION_FIELDS.includes(p.field))) {
        setRelocationRefused(true);
      }
      setFailure(Object.keys(fields).length ? new Error(`Check the highlighted fields: ${messageOf(error)}`) : error);
    } finally {
      setSaving(false);
    }
  }

  return (
    <section className="panel" aria-labelledby="target-form-heading">
      <h2 id="target-form-heading">{target ? `Edit storage target ${target.name}` : "Add a storage target"}</h2>
      <form ref={formRef} className="edit-form" onSubmit={onSubmit} noValidate aria-busy={saving}>
        <TextField label="Name" name="name" defaultValue={target?.name} error={errors.name} required autoComplete="off" />
        <SelectField
          label="Kind"
          name="kind"
          value={kind}
          onChange={(e) => setKind(e.target.value as StorageKind)}
          options={[
            { value: "LOCAL", label: "Local directory" },
            { value: "S3", label: "S3-compatible bucket" },
          ]}
          error={errors.kind}
          disabled={!!target}
        />
        {kind === "LOCAL" ? (
          <TextField label="Path" name="path" defaultValue={target?.path ?? ""} error={errors.path} hint="Absolute base directory on the SQLGuard host." />
        ) : (
          <>
            <TextField label="Bucket" name="bucket" defaultValue={target?.bucket ?? ""} error={errors.bucket} />
            <TextField
              label="Endpoint"
              name="endpoint"
              defaultValue={target?.endpoint ?? ""}
              error={errors.endpoint}
              hint="e.g. http://minio:9000; empty for AWS."
            />
            <TextField label="Region" name="region" defaultValue={target?.region ?? ""} error={errors.region} />
            <TextField label="Access key id" name="accessKeyId" defaultValue={target?.accessKeyId ?? ""} error={errors.accessKeyId} autoComplete="off" />
            <TextField
              label="Secret access key"
              name="secretAccessKey"
              type="password"
              autoComplete="new-password"
              error={errors.secretAccessKey}
              hint={target?.secretAccessKeySet ? "A secret is stored; leave empty to keep it." : "Stored encrypted, never shown again."}
            />
            <CheckField
              label="Path-style URLs"
              name="forcePathStyle"
              defaultChecked={target?.forcePathStyle ?? true}
              hint="Needed by MinIO and most S3-compatible services."
            />
          </>
        )}
        <TextField label="Prefix" name="prefix" defaultValue={target?.prefix ?? ""} error={errors.prefix} hint="Key prefix inside the bucket or directory." />
        <CheckField
          label="Default target"
          name="isDefault"
          defaultChecked={target?.isDefault ?? false}
          hint="Used by manual backups and schedules that name no target."
        />
        <CheckField label="Enabled" name="enabled" defaultChecked={target?.enabled ?? true} />
        {target && relocationRefused && (
          <CheckField
            label="I copied the stored backups to the new location"
            name="artifactsMoved"
            hint="SQLGuard then checks each backup there (present, same size, with its manifest) before it re-points this target. Otherwise add a new target and disable this one."
          />
        )}
        <div className="wide">
          <ErrorMessage error={failure} />
          {tested &&
            (tested.ok ? (
              <p role="status" className="ok-box" aria-label="Test of the form's target">
                Reachable: a probe object was written, read back and deleted in {tested.latencyMs} ms.
              </p>
            ) : (
              <p role="alert" className="error-box" aria-label="Test of the form's target">
                Test failed: {tested.error}
              </p>
            ))}
        </div>
        <div className="form-actions">
          <button type="submit" className="primary" disabled={saving}>
            {saving ? "Saving…" : target ? "Save target" : "Add target"}
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
