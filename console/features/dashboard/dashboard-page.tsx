"use client";

import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useRef, useState } from "react";
import { carries, distinctLabels, labelText, parseLabel } from "@/lib/server-labels";
import { useQuery } from "@/lib/use-query";
import { formatBytes, formatDateTime, formatPercent, formatRate, formatRelative, formatSeconds } from "@/lib/format";
import { graphql } from "@/lib/graphql-tada";
import { Empty, ErrorMessage, Loading, PageHeader } from "@/components/ui/states";
import { StatusBadge } from "@/components/ui/status";
import { useBackupEvents, type BackupEventData } from "@/features/backups/use-backup-events";
import { messageOf, request } from "@/lib/graphql";
import { useViewer } from "@/features/shell/viewer";
import { databaseHref } from "@/features/databases/links";
import { ConfigDriftBanner } from "./config-drift-banner";
import { statusLabel, storageKindLabel } from "@/lib/labels";
import { HistoryCharts } from "./history-charts";
import { PitrPanel } from "./pitr-panel";

const ACKNOWLEDGE = graphql(`
  mutation AcknowledgeDatabaseProblem($serverId: ID!, $database: String!) {
    acknowledgeDatabaseProblem(serverId: $serverId, database: $database) {
      at
    }
  }
`);

const DASHBOARD = graphql(`
  query Dashboard {
    dashboard {
      generatedAt
      databases {
        serverId
        serverName
        serverLabels {
          key
          value
        }
        database
        status
        ageSeconds
        rpoSeconds
        lastSuccessAt
        lastFailureAt
        lastError
        nextRunAt
        schedules
        missingCopies {
          target
          status
        }
        acknowledgement {
          at
          by
          note
        }
      }
      running {
        id
        serverName
        database
        status
        startedAt
        progressBytes
      }
      recentFailures {
        id
        status
        serverName
        database
        finishedAt
        createdAt
        error
      }
      components {
        kind
        id
        name
        up
        checkedAt
        latencyMs
        error
      }
      daily {
        day
        succeeded
        finished
        rate
      }
      totals {
        backups
        backups24h
        successRate24h
        successRate7d
        storage {
          target {
            id
            name
            kind
          }
          bytes
          objects
        }
      }
    }
  }
`);

type Progress = Record<string, { storedBytes: string | null; rawBytes: string | null; bytesPerSecond: number | null }>;

/** "Is every database protected?": status lights, running backups (live), failures, storage. */
export function DashboardPage() {
  const { data, error, loading, refetch } = useQuery(DASHBOARD);
  const [progress, setProgress] = useState<Progress>({});
  const [version, setVersion] = useState(0);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const onEvent = useCallback(
    (event: BackupEventData) => {
      if (event.type === "PROGRESS") {
        setProgress((p) => ({ ...p, [event.backupId]: { storedBytes: event.storedBytes, rawBytes: event.rawBytes, bytesPerSecond: event.bytesPerSecond } }));
        return;
      }
      // CREATED / STATUS: the dashboard's lists change; coalesce bursts (one per database) into one refetch.
      clearTimeout(pending.current);
      pending.current = setTimeout(() => {
        refetch();
        if (event.type === "STATUS") setVersion((v) => v + 1);
      }, 250);
    },
    [refetch],
  );
  const live = useBackupEvents(onEvent, { onOpen: refetch });
  const viewer = useViewer();
  const [ackFailure, setAckFailure] = useState<unknown>();
  // `?label=env=prod` shows only the databases of servers with that label (kept in the URL).
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const label = parseLabel(params.get("label"));

  async function acknowledge(serverId: string, database: string) {
    setAckFailure(undefined);
    try {
      await request(ACKNOWLEDGE, { serverId, database });
      refetch();
    } catch (e) {
      setAckFailure(new Error(messageOf(e)));
    }
  }

  if (!data) return <>{error ? <ErrorMessage error={error} /> : <Loading what="Loading the dashboard" />}</>;
  const d = data.dashboard;
  const labels = distinctLabels(d.databases.map((db) => db.serverLabels));
  const shown = label ? d.databases.filter((db) => carries(db.serverLabels, label)) : d.databases;
  const problems = d.databases.filter((db) => !["OK", "ACKNOWLEDGED", "DROPPED"].includes(db.status)).length;
  const down = d.components.filter((c) => !c.up).length;

  return (
    <>
      <PageHeader title="Dashboard">
        <span className={live ? "live on" : "live"} role="status">
          {live ? "Live" : "Connecting…"}
        </span>
        {loading && <span className="muted">Refreshing…</span>}
      </PageHeader>
      <ErrorMessage error={error} />
      <ErrorMessage error={ackFailure} />
      <ConfigDriftBanner />

      <section aria-label="Totals" className="stats">
        <Stat label="Databases" value={String(d.databases.length)} detail={problems ? `${problems} need attention` : "all protected"} />
        <Stat label="Backups (24 h)" value={String(d.totals.backups24h)} detail={`${d.totals.backups} in history`} />
        <Stat label="Success rate 24 h" value={formatPercent(d.totals.successRate24h)} detail={`7 days: ${formatPercent(d.totals.successRate7d)}`} />
        <Stat label="Running" value={String(d.running.length)} detail="pending or running" />
        <Stat
          label="Health"
          value={d.components.length ? `${d.components.length - down} / ${d.components.length} up` : "—"}
          detail={down ? `${down} down` : "servers and storage targets"}
        />
      </section>

      <section aria-labelledby="db-heading" className="panel">
        <div className="panel-heading">
          <h2 id="db-heading">Databases</h2>
          {(labels.length > 0 || label) && (
            <label className="inline-filter">
              Label
              <select
                value={label ? labelText(label) : ""}
                onChange={(e) => router.replace(e.currentTarget.value ? `${pathname}?label=${encodeURIComponent(e.currentTarget.value)}` : pathname)}
              >
                <option value="">All servers</option>
                {labels.map((l) => (
                  <option key={labelText(l)} value={labelText(l)}>
                    {labelText(l)}
                  </option>
                ))}
                {label && !labels.some((l) => labelText(l) === labelText(label)) && <option value={labelText(label)}>{labelText(label)}</option>}
              </select>
            </label>
          )}
          {label && (
            <span className="muted small" role="status">
              {shown.length} of {d.databases.length} databases · <Link href={`/backups/?label=${encodeURIComponent(labelText(label))}`}>their backups</Link>
            </span>
          )}
        </div>
        {d.databases.length === 0 ? (
          <Empty>
            No database is covered by a schedule yet. <Link href="/servers/">Add a server</Link> to start protecting it.
          </Empty>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Status</th>
                  <th scope="col">Server / database</th>
                  <th scope="col">Last good backup</th>
                  <th scope="col">Age / RPO</th>
                  <th scope="col">Next run</th>
                  <th scope="col">Last error</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((db) => {
                  const late = db.ageSeconds !== null && db.rpoSeconds !== null && db.ageSeconds > db.rpoSeconds;
                  return (
                    <tr key={`${db.serverId}/${db.database ?? ""}`} data-testid="db-row">
                      <td className="nowrap">
                        <StatusBadge status={db.status} />
                      </td>
                      <td>
                        {db.database !== null ? (
                          <Link href={databaseHref(db.serverName, db.database)}>
                            <strong>{db.serverName}</strong> / {db.database}
                          </Link>
                        ) : (
                          <>
                            <strong>{db.serverName}</strong> / <em>no backup yet</em>
                          </>
                        )}
                        <div className="muted small">{db.schedules.join(", ")}</div>
                      </td>
                      <td className="nowrap">{formatDateTime(db.lastSuccessAt)}</td>
                      <td className={late ? "nowrap warn-text" : "nowrap"}>
                        {formatSeconds(db.ageSeconds)} / {formatSeconds(db.rpoSeconds)}
                      </td>
                      <td className="nowrap">{db.nextRunAt ? formatRelative(db.nextRunAt) : "—"}</td>
                      <td className="error-cell">
                        {db.lastError ?? ""}
                        {db.acknowledgement && (
                          <div className="muted small">
                            Acknowledged by {db.acknowledgement.by} {formatDateTime(db.acknowledgement.at)}
                            {db.acknowledgement.note ? `: ${db.acknowledgement.note}` : ""}
                          </div>
                        )}
                        {db.status === "DROPPED" && <div className="muted small">Not found on the server at the last health check.</div>}
                        {viewer.canOperate && db.database !== null && ["FAILING", "OVERDUE", "DEGRADED"].includes(db.status) && (
                          <button
                            type="button"
                            className="small"
                            onClick={() => acknowledge(db.serverId, db.database!)}
                            aria-label={`Acknowledge the problem of ${db.serverName} / ${db.database}`}
                          >
                            Acknowledge
                          </button>
                        )}
                        {db.missingCopies.length > 0 && (
                          <div data-testid="missing-copies">
                            No intact copy on {db.missingCopies.map((c) => `${c.target} (${statusLabel(c.status)})`).join(", ")}
                          </div>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <div className="grid-2">
        <section aria-labelledby="running-heading" className="panel">
          <h2 id="running-heading">Running backups</h2>
          {d.running.length === 0 ? (
            <Empty>Nothing running.</Empty>
          ) : (
            <ul className="plain-list">
              {d.running.map((b) => {
                const p = progress[b.id];
                return (
                  <li key={b.id} data-testid="running-backup">
                    <Link href={`/backups/detail/?id=${b.id}`}>
                      {b.serverName} / {b.database}
                    </Link>{" "}
                    <StatusBadge status={b.status} />
                    <div className="muted small" aria-live="off">
                      {formatBytes(p?.storedBytes ?? b.progressBytes)} stored · {formatBytes(p?.rawBytes)} dumped · {formatRate(p?.bytesPerSecond)}
                    </div>
                  </li>
                );
              })}
            </ul>
          )}
        </section>

        <section aria-labelledby="failures-heading" className="panel">
          <h2 id="failures-heading">Recent failures</h2>
          {d.recentFailures.length === 0 ? (
            <Empty>No failed or partial backups in the past 7 days.</Empty>
          ) : (
            <ul className="plain-list">
              {d.recentFailures.map((b) => (
                <li key={b.id} data-testid="recent-failure">
                  <Link href={`/backups/detail/?id=${b.id}`}>
                    {b.serverName} / {b.database}
                  </Link>{" "}
                  <StatusBadge status={b.status} /> <span className="muted small">{formatDateTime(b.finishedAt ?? b.createdAt)}</span>
                  <div className="error-cell">{b.error ?? "failed"}</div>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>

      <section aria-labelledby="health-heading" className="panel">
        <h2 id="health-heading">Health checks</h2>
        {d.components.length === 0 ? (
          <Empty>No health check has run yet.</Empty>
        ) : (
          <ul className="plain-list">
            {d.components.map((c) => (
              <li key={`${c.kind}-${c.id}`} data-testid="health-row">
                <StatusBadge status={c.up ? "UP" : "DOWN"} /> <strong>{c.name}</strong>{" "}
                <span className="muted small">
                  {c.kind === "SERVER" ? "server" : "storage target"} · checked {formatDateTime(c.checkedAt)}
                  {c.latencyMs !== null ? ` · ${c.latencyMs} ms` : ""}
                </span>
                {c.error && <div className="error-cell">{c.error}</div>}
              </li>
            ))}
          </ul>
        )}
      </section>

      <PitrPanel />

      <section aria-labelledby="storage-heading" className="panel">
        <h2 id="storage-heading">Storage use</h2>
        {d.totals.storage.length === 0 ? (
          <Empty>No storage target yet.</Empty>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Target</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Stored</th>
                  <th scope="col">Objects</th>
                </tr>
              </thead>
              <tbody>
                {d.totals.storage.map((s) => (
                  <tr key={s.target.id}>
                    <td>{s.target.name}</td>
                    <td>{storageKindLabel(s.target.kind)}</td>
                    <td>{formatBytes(s.bytes)}</td>
                    <td>{s.objects}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <HistoryCharts version={version} daily={d.daily} />
      <p className="muted small">Updated {formatDateTime(d.generatedAt)}</p>
    </>
  );
}

function Stat({ label, value, detail }: { label: string; value: string; detail: string }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      <div className="muted small">{detail}</div>
    </div>
  );
}
