"use client";

import { useState, type FormEvent } from "react";
import { fieldErrorsOf, messageOf, request } from "@/lib/graphql";
import { formatDateTime } from "@/lib/format";
import { useQuery } from "@/lib/use-query";
import { ROLES, type Role } from "@/lib/types";
import { roleLabel } from "@/lib/labels";
import type { ResultOf } from "@/lib/graphql-tada";
import { SelectField, TextField } from "@/components/ui/field";
import { useConfirm } from "@/components/ui/confirm-dialog";
import { Empty, ErrorMessage, Loading } from "@/components/ui/states";
import { useViewer } from "@/features/shell/viewer";
import { API_TOKENS, CREATE_TOKEN, REVOKE_TOKEN } from "./queries";

type ApiToken = ResultOf<typeof API_TOKENS>["apiTokens"][number];

/** A token's state as the list shows it: revoked, expired or active. */
function stateOf(token: ApiToken, now: number): string {
  if (token.revokedAt) return `revoked ${formatDateTime(token.revokedAt)}`;
  if (token.expiresAt && new Date(token.expiresAt).getTime() <= now) return "expired";
  return "active";
}

/** API tokens: create (the secret is shown once, with an optional expiry), list, revoke. */
export function TokensPanel() {
  const confirm = useConfirm();
  const viewer = useViewer();
  const { data, error, refetch } = useQuery(API_TOKENS);
  const [created, setCreated] = useState<{ name: string; token: string }>();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>();
  const [formKey, setFormKey] = useState(0);
  const roles = ROLES.slice(0, ROLES.indexOf(viewer.role) + 1);
  const now = Date.now();

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    const name = String(f.get("name") ?? "").trim();
    const days = String(f.get("expiresInDays") ?? "").trim();
    const problems: Record<string, string> = {};
    if (!name) problems.name = "Enter a name, e.g. the script that uses it.";
    if (days && !(/^\d+$/.test(days) && Number(days) >= 1)) problems.expiresInDays = "Enter a number of days (at least 1), or leave empty.";
    setErrors(problems);
    setFailure(undefined);
    if (Object.keys(problems).length) return;
    try {
      const { createApiToken } = await request(CREATE_TOKEN, {
        name,
        role: String(f.get("role")) as Role,
        expiresInDays: days ? Number(days) : null,
      });
      setCreated({ name: createApiToken.apiToken.name, token: createApiToken.token });
      setFormKey((k) => k + 1);
      refetch();
    } catch (e) {
      const fields = fieldErrorsOf(e);
      setErrors(fields);
      setFailure(Object.keys(fields).length ? new Error(`Check the highlighted fields: ${messageOf(e)}`) : e);
    }
  }

  async function revoke(token: ApiToken) {
    if (!(await confirm({ title: `Revoke token ${token.name}?`, message: "Scripts using it stop working at once.", confirmLabel: "Revoke token" }))) return;
    try {
      await request(REVOKE_TOKEN, { id: token.id });
      refetch();
    } catch (e) {
      setFailure(new Error(messageOf(e)));
    }
  }

  return (
    <>
      {created && (
        <div role="status" className="ok-box" aria-label="New token">
          <p>
            Token <strong>{created.name}</strong> created. Copy it now: it is not shown again.
          </p>
          <code className="token" data-testid="new-token">
            {created.token}
          </code>
          <div className="form-actions">
            <button type="button" onClick={() => void navigator.clipboard?.writeText(created.token)}>
              Copy
            </button>
            <button type="button" onClick={() => setCreated(undefined)}>
              Done
            </button>
          </div>
        </div>
      )}
      <ErrorMessage error={failure} />
      <section className="panel" aria-labelledby="new-token-heading">
        <h2 id="new-token-heading">Create a token</h2>
        <form key={formKey} className="edit-form" onSubmit={create} noValidate>
          <TextField label="Token name" name="name" autoComplete="off" error={errors.name} />
          <SelectField
            label="Token role"
            name="role"
            defaultValue={roles[0]}
            options={roles.map((r) => ({ value: r, label: roleLabel(r) }))}
            hint="At most your own role."
          />
          <TextField
            label="Expires in days"
            name="expiresInDays"
            inputMode="numeric"
            error={errors.expiresInDays}
            hint="Empty = never. Scripts are safer with a token that expires."
          />
          <div className="form-actions">
            <button type="submit" className="primary">
              Create token
            </button>
          </div>
        </form>
      </section>
      {!data ? (
        error ? (
          <ErrorMessage error={error} />
        ) : (
          <Loading what="Loading tokens" />
        )
      ) : data.apiTokens.length === 0 ? (
        <Empty>No API tokens yet.</Empty>
      ) : (
        <div className="table-wrap panel">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Role</th>
                <th scope="col">Owner</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.apiTokens.map((t) => (
                <tr key={t.id} data-testid={`token-${t.name}`}>
                  <td>{t.name}</td>
                  <td className="mono">{t.prefix}…</td>
                  <td>{roleLabel(t.role)}</td>
                  <td>{t.user.username}</td>
                  <td>{formatDateTime(t.lastUsedAt)}</td>
                  <td>{t.expiresAt ? formatDateTime(t.expiresAt) : "never"}</td>
                  <td>{stateOf(t, now)}</td>
                  <td>
                    {!t.revokedAt && (
                      <button type="button" className="danger" onClick={() => revoke(t)} aria-label={`Revoke ${t.name}`}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
