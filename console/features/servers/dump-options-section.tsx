"use client";

import { useState } from "react";
import { request } from "@/lib/graphql";
import { useQuery } from "@/lib/use-query";
import { useConfirm } from "@/components/ui/confirm-dialog";
import { Empty, ErrorMessage, Loading } from "@/components/ui/states";
import { useViewer } from "@/features/shell/viewer";
import { compressionLabel } from "@/lib/labels";
import { DumpOptionsForm } from "./dump-options-form";
import { DELETE_DUMP_OPTIONS, DUMP_OPTIONS_PROFILES, type DumpOptions, type Server } from "./queries";

type Panel = { kind: "none" } | { kind: "create" } | { kind: "edit"; profile: DumpOptions };

/** What a profile changes from the built-in defaults, in a few words. */
function summary(p: DumpOptions): string {
  const parts = [`${compressionLabel(p.compression)}${p.compression === "NONE" ? "" : ` ${p.compressionLevel}`}`];
  if (p.engine === "PARALLEL") parts.push(`parallel${p.threads ? `, ${p.threads} threads` : ""}${p.chunkRows ? `, ${p.chunkRows} rows per chunk` : ""}`);
  if (!p.singleTransaction) parts.push("no single transaction");
  for (const key of ["routines", "triggers", "events"] as const) if (!p[key]) parts.push(`no ${key}`);
  if (p.pgFormat === "CUSTOM") parts.push("pg custom format");
  if (p.encryption === "AGE") parts.push("age-encrypted");
  const extra = [...p.mysqlExtraFlags, ...p.pgExtraFlags];
  if (extra.length) parts.push(extra.join(" "));
  return parts.join(", ");
}

/**
 * Dump option profiles on the Servers page: the list with the servers using each (from the page's
 * own server list, so it follows server edits), and (admins) add, edit and delete. `onChange` runs
 * after every change so the server form sees the new list.
 */
export function DumpOptionsSection({ servers, onChange }: { servers: ReadonlyArray<Pick<Server, "id" | "name" | "dumpOptionsId">>; onChange: () => void }) {
  const viewer = useViewer();
  const confirm = useConfirm();
  const { data, error, refetch } = useQuery(DUMP_OPTIONS_PROFILES);
  const [panel, setPanel] = useState<Panel>({ kind: "none" });
  const [notice, setNotice] = useState<string>();
  const [failure, setFailure] = useState<unknown>();

  function changed(message: string) {
    setNotice(message);
    setPanel({ kind: "none" });
    refetch();
    onChange();
  }

  const usersOf = (p: DumpOptions) => servers.filter((s) => s.dumpOptionsId === p.id).map((s) => s.name);

  async function remove(p: DumpOptions) {
    const names = usersOf(p);
    const users = names.length ? `${names.join(", ")} fall${names.length === 1 ? "s" : ""} back to the built-in defaults.` : "No server uses it.";
    if (!(await confirm({ title: `Delete profile ${p.name}?`, message: users, confirmLabel: "Delete profile" }))) return;
    setFailure(undefined);
    try {
      await request(DELETE_DUMP_OPTIONS, { id: p.id });
      changed(`Deleted profile ${p.name}.`);
    } catch (e) {
      setFailure(e);
    }
  }

  return (
    <section className="panel" aria-labelledby="dump-options-heading">
      <div className="page-header">
        <h2 id="dump-options-heading">Dump option profiles</h2>
        {viewer.canEdit && panel.kind === "none" && (
          <div className="actions">
            <button type="button" onClick={() => setPanel({ kind: "create" })}>
              Add profile
            </button>
          </div>
        )}
      </div>
      {notice && (
        <p role="status" className="ok-box">
          {notice}
        </p>
      )}
      <ErrorMessage error={failure ?? error} />
      {panel.kind !== "none" && (
        <DumpOptionsForm
          key={panel.kind === "edit" ? panel.profile.id : "new"}
          profile={panel.kind === "edit" ? panel.profile : undefined}
          onCancel={() => setPanel({ kind: "none" })}
          onSaved={(saved) => changed(`Saved profile ${saved.name}.`)}
        />
      )}
      {!data ? (
        !error && <Loading what="Loading dump option profiles" />
      ) : data.dumpOptionsProfiles.length === 0 ? (
        <Empty>
          No profiles: every server dumps with the built-in defaults.{viewer.canEdit ? " Add a profile to share other options between servers." : ""}
        </Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Options</th>
                <th scope="col">Used by</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.dumpOptionsProfiles.map((p) => (
                <tr key={p.id} data-testid={`profile-${p.name}`}>
                  <td>
                    <strong>{p.name}</strong>
                    {p.description && <div className="small muted">{p.description}</div>}
                  </td>
                  <td className="small mono">{summary(p)}</td>
                  <td className="small">{usersOf(p).join(", ") || <span className="muted">no server</span>}</td>
                  <td>
                    {viewer.canEdit && (
                      <div className="row-actions">
                        <button type="button" onClick={() => setPanel({ kind: "edit", profile: p })} aria-label={`Edit profile ${p.name}`}>
                          Edit
                        </button>
                        <button type="button" className="danger" onClick={() => remove(p)} aria-label={`Delete profile ${p.name}`}>
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
      )}
    </section>
  );
}
