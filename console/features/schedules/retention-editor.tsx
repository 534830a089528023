"use client";

import Link from "next/link";
import { useEffect, useState, type FormEvent } from "react";
import { fieldErrorsOf, messageOf, request } from "@/lib/graphql";
import { formatDateTime, formatInstant } from "@/lib/format";
import { CheckField, TextField } from "@/components/ui/field";
import { useConfirm } from "@/components/ui/confirm-dialog";
import { ErrorMessage, Loading } from "@/components/ui/states";
import type { VariablesOf, ResultOf } from "@/lib/graphql-tada";
import { deletionKindLabel } from "@/lib/labels";
import { DELETE_RETENTION_RULE, RETENTION_PREVIEW, SET_RETENTION_RULE, type RetentionRule } from "./queries";
import { DEFAULT_RETENTION } from "./retention-defaults";

const LIMITS = [
  ["keepLast", "Keep last", "The newest N backups."],
  ["maxAgeDays", "Max age (days)", "Delete older backups."],
  ["minKeep", "Always keep (min)", "Successful backups never deleted (default 1)."],
  ["gfsHourly", "GFS hourly", undefined],
  ["gfsDaily", "GFS daily", undefined],
  ["gfsWeekly", "GFS weekly", undefined],
  ["gfsMonthly", "GFS monthly", undefined],
  ["gfsYearly", "GFS yearly", undefined],
] as const;

type Preview = ResultOf<typeof RETENTION_PREVIEW>["retentionPreview"];

/** One schedule × target retention rule: edit, remove, and what the next sweep would delete. */
export function RetentionEditor({
  scheduleId,
  target,
  rule,
  canEdit,
  onChanged,
}: {
  scheduleId: string;
  target: { id: string; name: string };
  rule: RetentionRule | undefined;
  canEdit: boolean;
  onChanged: () => void;
}) {
  const confirm = useConfirm();
  const [editing, setEditing] = useState(false);
  const [keepForever, setKeepForever] = useState(rule?.keepForever ?? false);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>();
  const [preview, setPreview] = useState<Preview>();
  const [previewError, setPreviewError] = useState<unknown>();
  const [version, setVersion] = useState(0);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `version` is a refresh counter: bumping it reloads the preview.
  useEffect(() => {
    if (!rule) return;
    let cancelled = false;
    setPreview(undefined);
    request(RETENTION_PREVIEW, { scheduleId, storageTargetId: target.id }).then(
      (d) => !cancelled && setPreview(d.retentionPreview),
      (e: unknown) => !cancelled && setPreviewError(e),
    );
    return () => {
      cancelled = true;
    };
  }, [scheduleId, target.id, rule, version]);

  async function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    const input: VariablesOf<typeof SET_RETENTION_RULE>["input"] = { scheduleId, storageTargetId: target.id, keepForever };
    const problems: Record<string, string> = {};
    for (const [key] of LIMITS) {
      const value = String(f.get(key) ?? "").trim();
      if (!value) continue;
      if (!/^\d+$/.test(value)) problems[key] = "Enter a whole number.";
      else input[key] = Number(value);
    }
    if (!keepForever && !LIMITS.some(([k]) => k !== "minKeep" && input[k] !== undefined)) problems.keepLast = "Set at least one limit, or keep forever.";
    setErrors(problems);
    setFailure(undefined);
    if (Object.keys(problems).length) return;
    try {
      await request(SET_RETENTION_RULE, { input });
      setEditing(false);
      setVersion((v) => v + 1);
      onChanged();
    } catch (e) {
      const fields = fieldErrorsOf(e);
      setErrors(fields);
      setFailure(Object.keys(fields).length ? new Error(`Check the highlighted fields: ${messageOf(e)}`) : e);
    }
  }

  async function remove() {
    if (
      !rule ||
      !(await confirm({ title: `Remove the retention rule of ${target.name}?`, message: "Its backups are then kept forever.", confirmLabel: "Remove rule" }))
    )
      return;
    try {
      await request(DELETE_RETENTION_RULE, { id: rule.id });
      onChanged();
    } catch (e) {
      setFailure(e);
    }
  }

  const summary = !rule
    ? "No rule: backups on this target are kept forever."
    : rule.keepForever
      ? "Keep forever."
      : [
          rule.keepLast !== null && `last ${rule.keepLast}`,
          rule.maxAgeDays !== null && `${rule.maxAgeDays} days`,
          ...(["gfsHourly", "gfsDaily", "gfsWeekly", "gfsMonthly", "gfsYearly"] as const)
            .filter((k) => rule[k] !== null)
            .map((k) => `${rule[k]} ${k.slice(3).toLowerCase()}`),
          `at least ${rule.minKeep}`,
        ]
          .filter(Boolean)
          .join(", ");

  return (
    <section className="panel" aria-labelledby={`rule-${target.id}`} data-testid={`retention-${target.name}`}>
      <h3 id={`rule-${target.id}`}>Target {target.name}</h3>
      <p>
        <span data-testid="rule-summary">{summary}</span>{" "}
        {canEdit && !editing && (
          <button type="button" onClick={() => setEditing(true)} aria-label={`Edit retention on ${target.name}`}>
            {rule ? "Edit rule" : "Add rule"}
          </button>
        )}{" "}
        {canEdit && rule && !editing && (
          <button type="button" className="danger" onClick={remove} aria-label={`Remove retention on ${target.name}`}>
            Remove rule
          </button>
        )}
      </p>
      {editing && (
        <form className="edit-form" onSubmit={save} noValidate aria-label={`Retention on ${target.name}`}>
          <CheckField label="Keep forever" name="keepForever" checked={keepForever} onChange={(e) => setKeepForever(e.target.checked)} />
          {LIMITS.map(([key, label, hint]) => (
            <TextField
              key={key}
              label={label}
              name={key}
              inputMode="numeric"
              defaultValue={rule ? (rule[key] ?? "") : key in DEFAULT_RETENTION ? DEFAULT_RETENTION[key as keyof typeof DEFAULT_RETENTION] : ""}
              hint={hint}
              error={errors[key]}
              disabled={keepForever && key !== "minKeep"}
            />
          ))}
          <div className="wide">
            <ErrorMessage error={failure} />
          </div>
          <div className="form-actions">
            <button type="submit" className="primary">
              Save rule
            </button>
            <button type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {rule && (
        <div aria-live="polite" data-testid="retention-preview">
          <h4>Next sweep</h4>
          <ErrorMessage error={previewError} />
          {!preview ? (
            !previewError && <Loading what="Computing the preview" />
          ) : (
            <>
              <p>
                Would delete <strong>{preview.deleteCount}</strong> and keep <strong>{preview.keepCount}</strong> backup
                {preview.keepCount === 1 ? "" : "s"} (evaluated {formatDateTime(preview.evaluatedAt)}).
              </p>
              {preview.note && <p className="muted small">{preview.note}</p>}
              {preview.decisions.length > 0 && (
                <div className="table-wrap">
                  <table className="small">
                    <thead>
                      <tr>
                        <th scope="col">Backup</th>
                        <th scope="col">Taken</th>
                        <th scope="col">Next sweep</th>
                        <th scope="col">Why</th>
                      </tr>
                    </thead>
                    <tbody>
                      {preview.decisions.map((d) => (
                        <tr key={`${d.backupId}-${d.kind}`} data-testid="retention-decision" data-action={d.action}>
                          <td>
                            <Link href={`/backups/detail/?id=${d.backupId}`}>#{d.backupId}</Link>{" "}
                            <span className="muted">
                              {d.serverName} / {d.database}
                            </span>
                          </td>
                          <td className="nowrap">{formatInstant(d.backupTime)}</td>
                          <td className={d.action === "DELETE" ? "warn-text" : undefined}>
                            {d.action === "DELETE" ? `Delete (${deletionKindLabel(d.kind)})` : "Keep"}
                          </td>
                          <td className="reasons">
                            <ul className="plain-list">
                              {d.reasons.map((r) => (
                                <li key={r}>{r}</li>
                              ))}
                            </ul>
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </>
          )}
        </div>
      )}
    </section>
  );
}
