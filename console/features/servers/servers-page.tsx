"use client";

import { Fragment, useState } from "react";
import { request } from "@/lib/graphql";
import { useQuery } from "@/lib/use-query";
import { useRowTests } from "@/lib/use-row-tests";
import { useConfirm } from "@/components/ui/confirm-dialog";
import { Empty, ErrorMessage, Loading, PageHeader } from "@/components/ui/states";
import { useViewer } from "@/features/shell/viewer";
import { engineLabel } from "@/lib/labels";
import { ConnectionResult } from "./connection-result";
import { DumpOptionsSection } from "./dump-options-section";
import { DELETE_SERVER, SERVERS, TEST_SERVER, type Server } from "./queries";
import { RunBackupForm } from "./run-backup-form";
import { ServerForm } from "./server-form";

type Panel = { kind: "none" } | { kind: "create" } | { kind: "edit"; server: Server } | { kind: "run"; server: Server };

/** Servers: list, add, edit, delete, test the connection, back up now; dump option profiles below. */
export function ServersPage() {
  const confirm = useConfirm();
  const viewer = useViewer();
  const { data, error, refetch } = useQuery(SERVERS);
  const [panel, setPanel] = useState<Panel>({ kind: "none" });
  const { tests, run: runTest } = useRowTests(async (id) => (await request(TEST_SERVER, { id })).testServerConnection);
  const [notice, setNotice] = useState<string>();
  const [failure, setFailure] = useState<unknown>();

  const testConnection = (server: Server) => runTest(server.id);

  async function remove(server: Server) {
    if (!(await confirm({ title: `Delete server ${server.name}?`, message: "Its backups stay in the history.", confirmLabel: "Delete server" }))) return;
    setFailure(undefined);
    try {
      await request(DELETE_SERVER, { id: server.id });
      setNotice(`Deleted server ${server.name}.`);
      refetch();
    } catch (error) {
      setFailure(error);
    }
  }

  if (!data) return <>{error ? <ErrorMessage error={error} /> : <Loading what="Loading servers" />}</>;

  return (
    <>
      <PageHeader title="Servers">
        {viewer.canEdit && panel.kind === "none" && (
          <button type="button" className="primary" onClick={() => setPanel({ kind: "create" })}>
            Add server
          </button>
        )}
      </PageHeader>
      {notice && (
        <p role="status" className="ok-box">
          {notice}
        </p>
      )}
      <ErrorMessage error={failure} />
      {(panel.kind === "create" || panel.kind === "edit") && (
        <ServerForm
          key={panel.kind === "edit" ? panel.server.id : "new"}
          server={panel.kind === "edit" ? panel.server : undefined}
          profiles={data.dumpOptionsProfiles}
          onCancel={() => setPanel({ kind: "none" })}
          onSaved={(saved) => {
            setNotice(`Saved server ${saved.name}.`);
            setPanel({ kind: "none" });
            refetch();
          }}
        />
      )}
      {panel.kind === "run" && <RunBackupForm server={panel.server} targets={data.storageTargets} onClose={() => setPanel({ kind: "none" })} />}

      {data.servers.length === 0 ? (
        <Empty>No servers yet.{viewer.canEdit ? " Add the first database server to back up." : ""}</Empty>
      ) : (
        <div className="table-wrap panel">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Engine</th>
                <th scope="col">Address</th>
                <th scope="col">User</th>
                <th scope="col">Databases</th>
                <th scope="col">Enabled</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.servers.map((s) => {
                const test = tests[s.id];
                return (
                  <Fragment key={s.id}>
                    <tr data-testid={`server-${s.name}`}>
                      <td>
                        <strong>{s.name}</strong>
                      </td>
                      <td>{engineLabel(s.engine)}</td>
                      <td className="mono nowrap">
                        {s.host}:{s.port}
                        {s.tls ? " (TLS)" : ""}
                      </td>
                      <td>{s.username}</td>
                      <td className="small">
                        {s.includeDatabases.length ? s.includeDatabases.join(", ") : "all"}
                        {s.excludeDatabases.length ? ` except ${s.excludeDatabases.join(", ")}` : ""}
                      </td>
                      <td>{s.enabled ? "yes" : "no"}</td>
                      <td>
                        <div className="row-actions">
                          {viewer.canOperate && (
                            <>
                              <button type="button" onClick={() => testConnection(s)} aria-label={`Test connection to ${s.name}`} disabled={test === "testing"}>
                                {test === "testing" ? "Testing…" : "Test connection"}
                              </button>
                              <button type="button" onClick={() => setPanel({ kind: "run", server: s })} aria-label={`Back up ${s.name} now`}>
                                Back up now
                              </button>
                            </>
                          )}
                          {viewer.canEdit && (
                            <>
                              <button type="button" onClick={() => setPanel({ kind: "edit", server: s })} aria-label={`Edit ${s.name}`}>
                                Edit
                              </button>
                              <button type="button" className="danger" onClick={() => remove(s)} aria-label={`Delete ${s.name}`}>
                                Delete
                              </button>
                            </>
                          )}
                        </div>
                      </td>
                    </tr>
                    {test && test !== "testing" && (
                      <tr>
                        <td colSpan={7}>{test instanceof Error ? <ErrorMessage error={test} /> : <ConnectionResult serverName={s.name} result={test} />}</td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <DumpOptionsSection servers={data.servers} onChange={refetch} />
    </>
  );
}
