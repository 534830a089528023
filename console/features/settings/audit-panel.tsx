"use client";

import { useState } from "react";
import { formatDateTime } from "@/lib/format";
import { useQuery } from "@/lib/use-query";
import { Empty, ErrorMessage, Loading } from "@/components/ui/states";
import { AUDIT_LOG } from "./queries";

const PAGE = 50;

/** The audit log (admins only), newest first, older pages by id. */
export function AuditPanel() {
  const [cursors, setCursors] = useState<number[]>([]);
  const beforeId = cursors.at(-1);
  const { data, error } = useQuery(AUDIT_LOG, { beforeId, limit: PAGE });

  if (!data) return <>{error ? <ErrorMessage error={error} /> : <Loading what="Loading the audit log" />}</>;
  const entries = data.auditLog;
  return (
    <section className="panel" aria-label="Audit log">
      {entries.length === 0 ? (
        <Empty>No changes recorded.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Entity</th>
                <th scope="col">Change</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.id} data-testid="audit-row">
                  <td>{formatDateTime(e.at)}</td>
                  <td>{e.actor}</td>
                  <td>{e.action}</td>
                  <td>
                    {e.entityType}
                    {e.entityId ? ` ${e.entityId}` : ""}
                  </td>
                  <td>
                    {(e.before || e.after) && (
                      <details>
                        <summary>Before / after</summary>
                        {e.before && <pre className="log">{e.before}</pre>}
                        {e.after && <pre className="log">{e.after}</pre>}
                      </details>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="form-actions">
        {cursors.length > 0 && (
          <button type="button" onClick={() => setCursors((c) => c.slice(0, -1))}>
            Newer
          </button>
        )}
        {entries.length === PAGE && (
          <button type="button" onClick={() => setCursors((c) => [...c, entries.at(-1)!.id])}>
            Older
          </button>
        )}
      </div>
    </section>
  );
}
