import { formatBytes, formatMs, formatInstant } from "@/lib/format";
import type { Restore } from "./queries";
import { StatusBadge } from "@/components/ui/status";

/** The restores of one backup, oldest first: where to, by whom, how it ended. */
export function RestoresTable({ restores }: { restores: ReadonlyArray<Restore> }) {
  return (
    <section className="panel" aria-labelledby="restores-heading">
      <h2 id="restores-heading">Restores</h2>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Status</th>
              <th scope="col">Into</th>
              <th scope="col">By</th>
              <th scope="col">Started</th>
              <th scope="col">Duration</th>
              <th scope="col">Restored</th>
            </tr>
          </thead>
          <tbody>
            {restores.map((r) => (
              <tr key={r.id} data-testid="restore-row">
                <td>{r.id}</td>
                <td>
                  <StatusBadge status={r.status} />
                  {r.targetState && r.targetState !== "CREATED" && r.targetState !== "REPLACED" && (
                    <div className="small">
                      target <StatusBadge status={r.targetState} />
                    </div>
                  )}
                  {r.error && <div className="error-cell">{r.error}</div>}
                </td>
                <td>
                  <span className="mono">{r.database}</span> on {r.serverName}
                  {r.overwrite ? " (replaced)" : ""}
                </td>
                <td>{r.requestedBy}</td>
                <td>{formatInstant(r.startedAt ?? r.createdAt)}</td>
                <td>{formatMs(r.durationMs)}</td>
                <td>{formatBytes(r.rawBytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
