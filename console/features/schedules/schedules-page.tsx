"use client";

import Link from "next/link";
import { useState } from "react";
import { messageOf, request } from "@/lib/graphql";
import { useQuery } from "@/lib/use-query";
import { formatDateTime, formatRelative } from "@/lib/format";
import { useConfirm } from "@/components/ui/confirm-dialog";
import { Empty, ErrorMessage, Loading, PageHeader } from "@/components/ui/states";
import { useViewer } from "@/features/shell/viewer";
import { DELETE_SCHEDULE, RUN_SCHEDULE, SCHEDULES, type Schedule } from "./queries";

/** Schedules: list with their next runs; run now, edit, delete. */
export function SchedulesPage() {
  const confirm = useConfirm();
  const viewer = useViewer();
  const { data, error, refetch } = useQuery(SCHEDULES);
  const [notice, setNotice] = useState<string>();
  const [failure, setFailure] = useState<unknown>();

  async function run(s: Schedule) {
    setFailure(undefined);
    try {
      const { runSchedule } = await request(RUN_SCHEDULE, { id: s.id });
      setNotice(`Schedule ${s.name}: ${runSchedule.length} backup${runSchedule.length === 1 ? "" : "s"} queued.`);
    } catch (e) {
      setFailure(new Error(messageOf(e)));
    }
  }

  async function remove(s: Schedule) {
    if (!(await confirm({ title: `Delete schedule ${s.name}?`, message: "Its backups stay in the history.", confirmLabel: "Delete schedule" }))) return;
    setFailure(undefined);
    try {
      await request(DELETE_SCHEDULE, { id: s.id });
      setNotice(`Deleted schedule ${s.name}.`);
      refetch();
    } catch (e) {
      setFailure(new Error(messageOf(e)));
    }
  }

  if (!data) return <>{error ? <ErrorMessage error={error} /> : <Loading what="Loading schedules" />}</>;
  return (
    <>
      <PageHeader title="Schedules">
        {viewer.canEdit && (
          <Link className="button primary" href="/schedules/edit/">
            Add schedule
          </Link>
        )}
      </PageHeader>
      {notice && (
        <p role="status" className="ok-box">
          {notice}
        </p>
      )}
      <ErrorMessage error={failure} />
      {data.schedules.length === 0 ? (
        <Empty>No schedules: backups run only when started by hand.</Empty>
      ) : (
        <div className="table-wrap panel">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Cron</th>
                <th scope="col">Next runs</th>
                <th scope="col">Servers</th>
                <th scope="col">Targets</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.schedules.map((s) => (
                <tr key={s.id} data-testid={`schedule-${s.name}`}>
                  <td>
                    <Link href={`/schedules/edit/?id=${s.id}`}>
                      <strong>{s.name}</strong>
                    </Link>
                    {!s.enabled && <span className="muted"> (disabled)</span>}
                    {s.description && <div className="muted small">{s.description}</div>}
                  </td>
                  <td>
                    <code>{s.cronExpression}</code> <span className="muted small">{s.timezone}</span>
                  </td>
                  <td className="small">
                    {s.nextRuns.length === 0
                      ? s.enabled
                        ? "—"
                        : "none (disabled)"
                      : s.nextRuns.map((r, i) => (
                          <div key={r}>
                            {formatDateTime(r, s.timezone)}
                            {i === 0 && <span className="muted"> ({formatRelative(r)})</span>}
                          </div>
                        ))}
                  </td>
                  <td className="small">{s.allServers ? "all enabled servers" : s.servers.map((x) => x.name).join(", ")}</td>
                  <td className="small">{s.storageTargets.length ? s.storageTargets.map((x) => x.name).join(", ") : "default targets"}</td>
                  <td>
                    <div className="row-actions">
                      {viewer.canOperate && (
                        <button type="button" onClick={() => run(s)} aria-label={`Run ${s.name} now`}>
                          Run now
                        </button>
                      )}
                      <Link className="button" href={`/schedules/edit/?id=${s.id}`} aria-label={`${viewer.canEdit ? "Edit" : "View"} ${s.name}`}>
                        {viewer.canEdit ? "Edit" : "View"}
                      </Link>
                      {viewer.canEdit && (
                        <button type="button" className="danger" onClick={() => remove(s)} aria-label={`Delete ${s.name}`}>
                          Delete
                        </button>
                      )}
                    </div>
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
