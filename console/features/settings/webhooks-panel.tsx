"use client";

import { Fragment, useState, type FormEvent } from "react";
import { fieldErrorsOf, messageOf, request } from "@/lib/graphql";
import { useQuery } from "@/lib/use-query";
import { useRowTests } from "@/lib/use-row-tests";
import { CheckField, SelectField, TextField } from "@/components/ui/field";
import { useConfirm } from "@/components/ui/confirm-dialog";
import { Empty, ErrorMessage, Loading } from "@/components/ui/states";
import type { WebhookFormat } from "@/lib/types";
import type { ResultOf } from "@/lib/graphql-tada";
import { CREATE_WEBHOOK, DELETE_WEBHOOK, TEST_WEBHOOK, WEBHOOKS } from "./queries";

type Webhook = ResultOf<typeof WEBHOOKS>["webhooks"][number];

/** Webhooks (admins only): add, send a test event, delete. */
export function WebhooksPanel() {
  const confirm = useConfirm();
  const { data, error, refetch } = useQuery(WEBHOOKS);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>();
  const { tests, run: runTest } = useRowTests(async (id) => (await request(TEST_WEBHOOK, { id })).testWebhook);
  const [formKey, setFormKey] = useState(0);

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    const name = String(f.get("name") ?? "").trim();
    const url = String(f.get("url") ?? "").trim();
    const problems: Record<string, string> = {};
    if (!name) problems.name = "Enter a name.";
    if (!/^https?:\/\/\S+$/.test(url)) problems.url = "Enter an http:// or https:// URL.";
    setErrors(problems);
    setFailure(undefined);
    if (Object.keys(problems).length) return;
    const schedule = String(f.get("scheduleId") ?? "");
    const input = {
      name,
      url,
      format: String(f.get("format")) as WebhookFormat,
      enabled: true,
      onFailure: f.get("onFailure") === "on",
      onOverdue: f.get("onOverdue") === "on",
      onRecovery: f.get("onRecovery") === "on",
      onSuccess: f.get("onSuccess") === "on",
      scheduleId: schedule ? Number(schedule) : null,
      secret: String(f.get("secret") ?? "") || null,
    };
    try {
      await request(CREATE_WEBHOOK, { input });
      setFormKey((k) => k + 1);
      refetch();
    } catch (e) {
      const fields = fieldErrorsOf(e);
      setErrors(fields);
      setFailure(Object.keys(fields).length ? new Error(`Check the highlighted fields: ${messageOf(e)}`) : e);
    }
  }

  const test = (hook: Webhook) => runTest(hook.id);

  async function remove(hook: Webhook) {
    if (!(await confirm({ title: `Delete webhook ${hook.name}?`, message: "Its receiver gets no more events.", confirmLabel: "Delete webhook" }))) return;
    try {
      await request(DELETE_WEBHOOK, { id: hook.id });
      refetch();
    } catch (e) {
      setFailure(new Error(messageOf(e)));
    }
  }

  if (!data) return <>{error ? <ErrorMessage error={error} /> : <Loading what="Loading webhooks" />}</>;
  const scheduleName = new Map(data.schedules.map((s) => [s.id, s.name]));
  return (
    <>
      <ErrorMessage error={failure} />
      {data.webhooks.length === 0 ? (
        <Empty>No webhooks: nobody is notified of failures yet.</Empty>
      ) : (
        <div className="table-wrap panel">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">URL</th>
                <th scope="col">Events</th>
                <th scope="col">Scope</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.webhooks.map((h) => {
                const result = tests[h.id];
                return (
                  <Fragment key={h.id}>
                    <tr data-testid={`webhook-${h.name}`}>
                      <td>
                        {h.name} <span className="muted small">{h.format}</span>
                      </td>
                      <td className="mono">{h.url}</td>
                      <td className="small">
                        {h.format === "HEALTHCHECKS"
                          ? "start / success / fail pings"
                          : [h.onFailure && "failure", h.onOverdue && "overdue", h.onRecovery && "recovery", h.onSuccess && "success"]
                              .filter(Boolean)
                              .join(", ")}
                        {h.secretSet && " · signed"}
                      </td>
                      <td className="small">{h.scheduleId ? scheduleName.get(h.scheduleId) : "every backup"}</td>
                      <td>
                        <div className="row-actions">
                          <button type="button" onClick={() => test(h)} aria-label={`Send a test to ${h.name}`} disabled={result === "testing"}>
                            {result === "testing" ? "Sending…" : "Send test"}
                          </button>
                          <button type="button" className="danger" onClick={() => remove(h)} aria-label={`Delete webhook ${h.name}`}>
                            Delete
                          </button>
                        </div>
                      </td>
                    </tr>
                    {result && result !== "testing" && (
                      <tr>
                        <td colSpan={5}>
                          {result instanceof Error ? (
                            <ErrorMessage error={result} />
                          ) : (
                            <p role="status" className={result.ok ? "ok-box" : "error-box"} aria-label={`Test of ${h.name}`}>
                              {result.ok ? "Delivered" : "Not delivered"}
                              {result.status !== null ? ` (HTTP ${result.status})` : ""}
                              {result.error ? `: ${result.error}` : "."}
                            </p>
                          )}
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <section className="panel" aria-labelledby="add-webhook-heading">
        <h2 id="add-webhook-heading">Add a webhook</h2>
        <form key={formKey} className="edit-form" onSubmit={create} noValidate>
          <TextField label="Webhook name" name="name" autoComplete="off" error={errors.name} />
          <TextField label="URL" name="url" type="url" autoComplete="off" error={errors.url} hint="For healthchecks.io, the check's ping URL." />
          <SelectField
            label="Format"
            name="format"
            defaultValue="GENERIC"
            options={[
              { value: "GENERIC", label: "Generic JSON (signed)" },
              { value: "HEALTHCHECKS", label: "healthchecks.io pings" },
            ]}
          />
          <SelectField
            label="Backups of"
            name="scheduleId"
            defaultValue=""
            options={[{ value: "", label: "Every backup" }, ...data.schedules.map((s) => ({ value: String(s.id), label: `Schedule ${s.name}` }))]}
          />
          <TextField
            label="Signing secret"
            name="secret"
            type="password"
            autoComplete="new-password"
            error={errors.secret}
            hint="Optional HMAC key: deliveries carry X-SQLGuard-Signature."
          />
          <CheckField label="On failure" name="onFailure" defaultChecked />
          <CheckField label="On overdue" name="onOverdue" defaultChecked />
          <CheckField label="On recovery" name="onRecovery" defaultChecked />
          <CheckField label="On success" name="onSuccess" />
          <div className="form-actions">
            <button type="submit" className="primary">
              Add webhook
            </button>
          </div>
        </form>
      </section>
    </>
  );
}
