"use client";

import { useState } from "react";
import { formatInstant } from "@/lib/format";
import { useQuery } from "@/lib/use-query";
import { Empty, ErrorMessage, Loading } from "@/components/ui/states";
import { AUDIT_LOG } from "./queries";

const PAGE = 50;

/**
 * A readable name for the entity of an audit entry, from its recorded state: ids outlive nothing
 * once the entity is deleted. "server / database" for backups and restores, else its name or user.
 */
export function entityName(state: string | null | undefined): string | null {
  if (!state) return null;
  let row: Record<string, unknown>;
  try {
    row = JSON.parse(state) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (!row || typeof row !== "object") return null;
  const text = (key: string) => (typeof row[key] === "string" && row[key] ? (row[key] as string) : null);
  const server = text("server") ?? text("serverName");
  const database =
    text("database") ?? (Array.isArray(row.databases) ? (row.databases as unknown[]).filter((d) => typeof d === "string").join(", ") || null : null);
  if (server || database) return [server, database].filter(Boolean).join(" / ");
  return text("name") ?? text("username");
}

/** The audit log (admins only), newest first, older pages by id. */
export function AuditPanel() {
  const [cursors, setCursors] = useState<string[]>([]);
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
              {entries.map((e) => {
                const name = entityName(e.after ?? e.before);
                return (
                  <tr key={e.id} data-testid="audit-row">
                    <td>{formatInstant(e.at)}</td>
                    <td>{e.actor}</td>
                    <td>{e.action}</td>
                    <td data-testid="audit-entity">
                      {e.entityType}
                      {e.entityId ? ` ${e.entityId}` : ""}
                      {name && <span className="muted"> · {name}</span>}
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
                );
              })}
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
