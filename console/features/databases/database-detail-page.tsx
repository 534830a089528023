"use client";

import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useMemo } from "react";
import { useQuery } from "@/lib/use-query";
import { formatBytes, formatInstant, formatMs } from "@/lib/format";
import { Empty, ErrorMessage, Loading, PageHeader } from "@/components/ui/states";
import { StatusBadge } from "@/components/ui/status";
import { engineLabel, statusLabel, storageKindLabel } from "@/lib/labels";
import { DatabaseCharts } from "./database-charts";
import { PitrWindow } from "./pitr-window";
import { DATABASE_DETAIL } from "./queries";

/**
 * `/databases/detail/?server=<name>&database=<name>`: one database by server name (so a deleted
 * server's backups stay readable): status, copies per target, backups, drills, RPO and RTO.
 */
export function DatabaseDetailPage() {
  const params = useSearchParams();
  const serverName = params.get("server") ?? "";
  const database = params.get("database") ?? "";
  const missing = !serverName || !database;
  const { data, error } = useQuery(DATABASE_DETAIL, { serverName, database, days: 30 }, { skip: missing });
  const now = useMemo(() => Date.now(), []);

  if (missing) return <ErrorMessage error={new Error("No server and database in the address: open a database from the dashboard or the Databases page.")} />;
  if (!data) return <>{error ? <ErrorMessage error={error} /> : <Loading what="Loading the database" />}</>;
  const d = data.databaseDetail;
  const state = data.dashboard.databases.find((x) => x.serverName === d.serverName && x.database === d.database);
  const status = !d.server ? "SERVER DELETED" : (state?.status ?? "NOT SCHEDULED");

  return (
    <>
      <p className="small">
        <Link href="/databases/">← Databases</Link>
      </p>
      <PageHeader title={`${d.serverName} / ${d.database}`}>
        <span data-testid="database-status">
          <StatusBadge status={status} />
        </span>
      </PageHeader>
      <ErrorMessage error={error} />
      <section className="panel" aria-labelledby="summary-heading">
        <h2 id="summary-heading">Summary</h2>
        <dl className="props" data-testid="database-summary">
          <dt>Server</dt>
          <dd>
            {d.server ? (
              <Link href={`/backups/?server=${d.server.id}`}>{d.serverName}</Link>
            ) : (
              <>
                {d.serverName} <span className="muted">(deleted: its backups keep the name)</span>
              </>
            )}
          </dd>
          <dt>Engine</dt>
          <dd>{d.engine ? engineLabel(d.engine) : "—"}</dd>
          <dt>Database</dt>
          <dd>{d.database}</dd>
          <dt>Status</dt>
          <dd>
            {status}
            {state && state.missingCopies.length > 0 && (
              <> · no intact copy on {state.missingCopies.map((c) => `${c.target} (${statusLabel(c.status)})`).join(", ")}</>
            )}
          </dd>
          <dt>Recoverable</dt>
          <dd>
            {d.recoverable.points} point{d.recoverable.points === 1 ? "" : "s"}
            {d.recoverable.oldest && `, ${formatInstant(d.recoverable.oldest)} to ${formatInstant(d.recoverable.newest)}`}
            <div className="muted small">Full backups: it restores to one of these points.</div>
          </dd>
          <dt>Point in time</dt>
          <dd data-testid="pitr-window">
            <PitrWindow pitr={d.server?.pitr ?? null} />
          </dd>
        </dl>
      </section>

      <section className="panel" aria-labelledby="copies-heading">
        <h2 id="copies-heading">Copies per target</h2>
        {d.copies.length === 0 ? (
          <Empty>No copy stored yet.</Empty>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Target</th>
                  <th scope="col">Stored now</th>
                  <th scope="col">Size</th>
                  <th scope="col">Newest</th>
                  <th scope="col">Damaged</th>
                  <th scope="col">Removed</th>
                </tr>
              </thead>
              <tbody>
                {d.copies.map((c) => (
                  <tr key={c.storageTargetId ?? `gone-${c.target}`} data-testid="target-copies">
                    <td>
                      {c.target}{" "}
                      {c.kind ? <span className="muted small">{storageKindLabel(c.kind)}</span> : <span className="muted small">deleted target</span>}
                    </td>
                    <td>{c.stored}</td>
                    <td>{formatBytes(c.storedBytes)}</td>
                    <td>{formatInstant(c.newestStoredAt)}</td>
                    <td className={c.damaged ? "warn-text" : undefined}>{c.damaged}</td>
                    <td>{c.deleted}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <DatabaseCharts detail={d} now={now} />

      <section className="panel" aria-labelledby="backups-heading">
        <h2 id="backups-heading">
          Backups{" "}
          <span className="muted small">
            ({d.backups.nodes.length < d.backups.totalCount ? `newest ${d.backups.nodes.length} of ` : ""}
            {d.backups.totalCount})
          </span>
        </h2>
        {d.backups.nodes.length === 0 ? (
          <Empty>No backup of this database yet.</Empty>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Backup</th>
                  <th scope="col">Time</th>
                  <th scope="col">Status</th>
                  <th scope="col">Size</th>
                  <th scope="col">Copies per target</th>
                  <th scope="col">Schedule</th>
                </tr>
              </thead>
              <tbody>
                {d.backups.nodes.map((b) => (
                  <tr key={b.id} data-testid="database-backup">
                    <td>
                      <Link href={`/backups/detail/?id=${b.id}`}>#{b.id}</Link>
                    </td>
                    <td className="nowrap">{formatInstant(b.startedAt ?? b.createdAt)}</td>
                    <td>
                      <StatusBadge status={b.status} />
                    </td>
                    <td>{formatBytes(b.storedBytes)}</td>
                    <td>
                      <ul className="plain-list small">
                        {b.artifacts.map((a) => (
                          <li key={a.id} data-testid="backup-copy">
                            {a.storageTarget?.name ?? "deleted target"} <StatusBadge status={a.status} />
                          </li>
                        ))}
                        {b.copyProblems
                          .filter((p) => !b.artifacts.some((a) => a.storageTargetId === p.storageTargetId))
                          .map((p) => (
                            <li key={`missing-${p.storageTargetId}`} data-testid="backup-copy">
                              {p.target} <StatusBadge status={p.status} />
                            </li>
                          ))}
                      </ul>
                    </td>
                    <td>
                      {b.scheduleName ?? "manual"}
                      {b.durationMs !== null && <div className="muted small">{formatMs(b.durationMs)}</div>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section className="panel" aria-labelledby="drills-heading">
        <h2 id="drills-heading">Restore drills</h2>
        {d.drills.length === 0 ? (
          <Empty>No restore drill of this database yet. Run one from a backup, or turn drills on for its schedule.</Empty>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Drill</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Started</th>
                  <th scope="col">Status</th>
                  <th scope="col">Restore time</th>
                  <th scope="col">Backup</th>
                  <th scope="col">On server</th>
                </tr>
              </thead>
              <tbody>
                {d.drills.map((r) => (
                  <tr key={r.id} data-testid="database-drill">
                    <td>#{r.id}</td>
                    <td data-testid="database-drill-kind">
                      {r.kind === "PITR" ? (
                        <>
                          Point in time
                          <div className="small">
                            to {r.pointInTime ? formatInstant(r.pointInTime) : "—"} ({r.stopAtPosition ?? "no position"})
                          </div>
                        </>
                      ) : (
                        "Dump"
                      )}
                    </td>
                    <td className="nowrap">{formatInstant(r.startedAt)}</td>
                    <td>
                      <StatusBadge status={r.status} />
                      {r.error && <div className="error-cell small">{r.error}</div>}
                    </td>
                    <td>{formatMs(r.restoreMs)}</td>
                    <td>{r.backupId !== null ? <Link href={`/backups/detail/?id=${r.backupId}`}>#{r.backupId}</Link> : "—"}</td>
                    <td>{r.serverName}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
