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
import { ErrorMessage, Loading } from "@/components/ui/states";
import { useViewer } from "@/features/shell/viewer";
import { CREATE_USER, DELETE_USER, UPDATE_USER, USERS } from "./queries";

type User = ResultOf<typeof USERS>["users"][number];

/** Users and roles (admins only): add, change role, disable, delete. */
export function UsersPanel() {
  const confirm = useConfirm();
  const viewer = useViewer();
  const { data, error, refetch } = useQuery(USERS);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>();
  const [notice, setNotice] = useState<string>();
  const [formKey, setFormKey] = useState(0);

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    const username = String(f.get("username") ?? "").trim();
    const password = String(f.get("password") ?? "");
    const role = String(f.get("role") ?? "VIEWER") as Role;
    const problems: Record<string, string> = {};
    if (!username) problems.username = "Enter a username.";
    if (password.length < 8) problems.password = "Use at least 8 characters.";
    setErrors(problems);
    setFailure(undefined);
    if (Object.keys(problems).length) return;
    try {
      await request(CREATE_USER, { input: { username, password, role } });
      setNotice(`Added user ${username} (${roleLabel(role)}).`);
      setFormKey((k) => k + 1);
      refetch();
    } catch (e) {
      const fields = fieldErrorsOf(e);
      setErrors(fields);
      setFailure(Object.keys(fields).length ? new Error(`Check the highlighted fields: ${messageOf(e)}`) : e);
    }
  }

  async function update(user: User, input: Record<string, unknown>, what: string) {
    setFailure(undefined);
    try {
      await request(UPDATE_USER, { id: user.id, input });
      setNotice(`${user.username}: ${what}.`);
      refetch();
    } catch (e) {
      setFailure(new Error(messageOf(e)));
    }
  }

  async function remove(user: User) {
    if (!(await confirm({ title: `Delete user ${user.username}?`, message: "Their sessions and API tokens stop working.", confirmLabel: "Delete user" })))
      return;
    try {
      await request(DELETE_USER, { id: user.id });
      setNotice(`Deleted user ${user.username}.`);
      refetch();
    } catch (e) {
      setFailure(new Error(messageOf(e)));
    }
  }

  if (!data) return <>{error ? <ErrorMessage error={error} /> : <Loading what="Loading users" />}</>;
  return (
    <>
      {notice && (
        <p role="status" className="ok-box">
          {notice}
        </p>
      )}
      <ErrorMessage error={failure} />
      <div className="table-wrap panel">
        <table>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">State</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {data.users.map((u) => (
              <tr key={u.id}>
                <td>{u.username}</td>
                <td>
                  <label className="sr-only" htmlFor={`role-${u.id}`}>
                    Role of {u.username}
                  </label>
                  <select
                    id={`role-${u.id}`}
                    value={u.role}
                    onChange={(e) => update(u, { role: e.target.value }, `role set to ${roleLabel(e.target.value as Role)}`)}
                  >
                    {ROLES.map((r) => (
                      <option key={r} value={r}>
                        {roleLabel(r)}
                      </option>
                    ))}
                  </select>
                </td>
                <td>{u.disabled ? "disabled" : "active"}</td>
                <td>{formatDateTime(u.createdAt)}</td>
                <td>
                  {u.id !== viewer.id && (
                    <div className="row-actions">
                      <button type="button" onClick={() => update(u, { disabled: !u.disabled }, u.disabled ? "enabled" : "disabled")}>
                        {u.disabled ? "Enable" : "Disable"}
                      </button>
                      <button type="button" className="danger" onClick={() => remove(u)} aria-label={`Delete user ${u.username}`}>
                        Delete
                      </button>
                    </div>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <section className="panel" aria-labelledby="add-user-heading">
        <h2 id="add-user-heading">Add a user</h2>
        <form key={formKey} className="edit-form" onSubmit={create} noValidate>
          <TextField label="Username" name="username" autoComplete="off" error={errors.username} />
          <TextField label="Password" name="password" type="password" autoComplete="new-password" error={errors.password} hint="At least 8 characters." />
          <SelectField label="Role" name="role" defaultValue="VIEWER" options={ROLES.map((r) => ({ value: r, label: roleLabel(r) }))} error={errors.role} />
          <div className="form-actions">
            <button type="submit" className="primary">
              Add user
            </button>
          </div>
        </form>
      </section>
    </>
  );
}
