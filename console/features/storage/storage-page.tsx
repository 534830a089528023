"use client";

import { Fragment, useState } from "react";
import { request } from "@/lib/graphql";
import { formatBytes } from "@/lib/format";
import { useQuery } from "@/lib/use-query";
import { useRowTests } from "@/lib/use-row-tests";
import { useConfirm } from "@/components/ui/confirm-dialog";
import { Empty, ErrorMessage, Loading, PageHeader } from "@/components/ui/states";
import { useViewer } from "@/features/shell/viewer";
import { storageKindLabel } from "@/lib/labels";
import { DELETE_TARGET, STORAGE, TEST_TARGET, type StorageTarget } from "./queries";
import { StorageForm } from "./storage-form";

type Panel = { kind: "none" } | { kind: "create" } | { kind: "edit"; target: StorageTarget };

function location(t: StorageTarget): string {
  if (t.kind === "LOCAL") return `${t.path ?? ""}${t.prefix ? ` (prefix ${t.prefix})` : ""}`;
  return `s3://${t.bucket ?? ""}/${t.prefix}${t.endpoint ? ` at ${t.endpoint}` : ""}`;
}

/** Storage targets: list with usage, add, edit, delete, test. */
export function StoragePage() {
  const confirm = useConfirm();
  const viewer = useViewer();
  const { data, error, refetch } = useQuery(STORAGE);
  const [panel, setPanel] = useState<Panel>({ kind: "none" });
  const { tests, run: runTest } = useRowTests(async (id) => (await request(TEST_TARGET, { id })).testStorageTarget);
  const [notice, setNotice] = useState<string>();
  const [failure, setFailure] = useState<unknown>();

  const test = (target: StorageTarget) => runTest(target.id);

  async function remove(target: StorageTarget) {
    if (
      !(await confirm({
        title: `Delete storage target ${target.name}?`,
        message: "A target that still holds stored backups cannot be deleted: disable it instead.",
        confirmLabel: "Delete target",
      }))
    )
      return;
    setFailure(undefined);
    try {
      await request(DELETE_TARGET, { id: target.id });
      setNotice(`Deleted storage target ${target.name}.`);
      refetch();
    } catch (error) {
      setFailure(error);
    }
  }

  if (!data) return <>{error ? <ErrorMessage error={error} /> : <Loading what="Loading storage targets" />}</>;
  const usage = new Map(data.dashboard.totals.storage.map((u) => [u.target.id, u]));

  return (
    <>
      <PageHeader title="Storage">
        {viewer.canEdit && panel.kind === "none" && (
          <button type="button" className="primary" onClick={() => setPanel({ kind: "create" })}>
            Add storage target
          </button>
        )}
      </PageHeader>
      {notice && (
        <p role="status" className="ok-box">
          {notice}
        </p>
      )}
      <ErrorMessage error={failure} />
      {panel.kind !== "none" && (
        <StorageForm
          key={panel.kind === "edit" ? panel.target.id : "new"}
          target={panel.kind === "edit" ? panel.target : undefined}
          onCancel={() => setPanel({ kind: "none" })}
          onSaved={(saved) => {
            setNotice(`Saved storage target ${saved.name}.`);
            setPanel({ kind: "none" });
            refetch();
          }}
        />
      )}
      {data.storageTargets.length === 0 ? (
        <Empty>No storage targets yet.</Empty>
      ) : (
        <div className="table-wrap panel">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Location</th>
                <th scope="col">Usage</th>
                <th scope="col">Flags</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.storageTargets.map((t) => {
                const result = tests[t.id];
                const u = usage.get(t.id);
                return (
                  <Fragment key={t.id}>
                    <tr data-testid={`target-${t.name}`}>
                      <td>
                        <strong>{t.name}</strong>
                      </td>
                      <td>{storageKindLabel(t.kind)}</td>
                      <td className="mono">{location(t)}</td>
                      <td>{u ? `${formatBytes(u.bytes)} in ${u.objects} object${u.objects === 1 ? "" : "s"}` : "—"}</td>
                      <td className="small">
                        {[t.isDefault && "default", !t.enabled && "disabled", t.kind === "S3" && (t.secretAccessKeySet ? "secret set" : "no secret")]
                          .filter(Boolean)
                          .join(", ")}
                      </td>
                      <td>
                        <div className="row-actions">
                          {viewer.canOperate && (
                            <button type="button" onClick={() => test(t)} aria-label={`Test ${t.name}`} disabled={result === "testing"}>
                              {result === "testing" ? "Testing…" : "Test"}
                            </button>
                          )}
                          {viewer.canEdit && (
                            <>
                              <button type="button" onClick={() => setPanel({ kind: "edit", target: t })} aria-label={`Edit ${t.name}`}>
                                Edit
                              </button>
                              <button type="button" className="danger" onClick={() => remove(t)} aria-label={`Delete ${t.name}`}>
                                Delete
                              </button>
                            </>
                          )}
                        </div>
                      </td>
                    </tr>
                    {result && result !== "testing" && (
                      <tr>
                        <td colSpan={6}>
                          {result instanceof Error ? (
                            <ErrorMessage error={result} />
                          ) : result.ok ? (
                            <p role="status" className="ok-box" aria-label={`Test of ${t.name}`}>
                              {t.name} works: a probe object was written, read back and deleted in {result.latencyMs ?? "?"} ms.
                            </p>
                          ) : (
                            <p role="alert" className="error-box" aria-label={`Test of ${t.name}`}>
                              {t.name} failed: {result.error}
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
    </>
  );
}
