"use client";

import { useEffect, useMemo } from "react";
import { TimeChart } from "@/components/ui/time-chart";
import { useQuery } from "@/lib/use-query";
import { formatBytes, formatDateTime, formatMs } from "@/lib/format";
import { graphql } from "@/lib/graphql-tada";

const HISTORY = graphql(`
  query DashboardHistory($filter: BackupFilter) {
    backups(filter: $filter, first: 200) {
      nodes {
        id
        status
        serverName
        database
        createdAt
        startedAt
        durationMs
        storedBytes
      }
    }
  }
`);

const DAYS = 14;
const DAY_MS = 86_400_000;
/** Small charts shown at most; the rest are on their database pages. */
const MAX_DATABASES = 12;

type Run = {
  id: string | number;
  status: string;
  serverName: string;
  database: string;
  createdAt: string;
  startedAt: string | null;
  durationMs: number | null;
  storedBytes: string | null;
};

/**
 * The last 14 days: the success rate per day, then one small pair of charts per database (size and
 * duration of each run that stored a copy), each scaled to its own database, with dated axes and units.
 * `version` bumps refetch it.
 */
export function HistoryCharts({
  version,
  daily,
}: {
  version: number;
  /** Per-day success from the server (dashboard.daily): the same definition as the cards. */
  daily: ReadonlyArray<{ day: string; succeeded: number; finished: number; rate: number | null }>;
}) {
  const now = useMemo(() => Date.now(), []);
  const from = now - DAYS * DAY_MS;
  const fromIso = useMemo(() => `${new Date(from).toISOString().slice(0, 13)}:00:00.000Z`, [from]);
  const { data, refetch } = useQuery(HISTORY, { filter: { from: fromIso } });
  useEffect(() => {
    if (version > 0) refetch();
  }, [version, refetch]);
  if (!data) return null;
  const runs = data.backups.nodes as ReadonlyArray<Run>;
  const finished = runs.filter((b) => !["PENDING", "RUNNING", "SKIPPED", "CANCELLED"].includes(b.status));
  if (finished.length === 0) return null;
  // Size and duration of the runs that stored a copy (SUCCEEDED or PARTIAL, still held), per database.
  const groups = new Map<string, { serverName: string; database: string; runs: Run[] }>();
  for (const b of finished) {
    if (b.status !== "SUCCEEDED" && b.status !== "PARTIAL") continue;
    const key = `${b.serverName}\u0000${b.database}`;
    const group = groups.get(key) ?? { serverName: b.serverName, database: b.database, runs: [] };
    group.runs.push(b);
    groups.set(key, group);
  }
  const databases = [...groups.values()].sort((a, b) => a.serverName.localeCompare(b.serverName) || a.database.localeCompare(b.database));
  const shown = databases.slice(0, MAX_DATABASES);
  const time = (b: Run) => new Date(b.startedAt ?? b.createdAt).getTime();
  return (
    <section className="panel" aria-labelledby="charts-heading">
      <h2 id="charts-heading">Last {DAYS} days</h2>
      <div className="charts">
        <figure className="chart">
          <figcaption>Success rate per day</figcaption>
          <TimeChart
            label="Success rate per day"
            unit="ratio"
            from={from}
            to={now}
            format={(n) => `${Math.round(n * 100)} %`}
            points={daily.map((d) => ({
              key: d.day,
              t: Date.parse(`${d.day}T12:00:00Z`),
              value: d.rate ?? 0,
              tone: d.rate === 1 ? "ok" : "bad",
              title: `${d.day}: ${d.succeeded} of ${d.finished} succeeded`,
            }))}
          />
        </figure>
      </div>
      {shown.length > 0 && (
        <>
          <h3 className="chart-group-heading">Size and duration per database</h3>
          <div className="charts">
            {shown.map((g) => {
              const name = `${g.serverName} / ${g.database}`;
              const ordered = [...g.runs].sort((a, b) => time(a) - time(b));
              return (
                <figure className="chart" key={name} data-testid="db-chart">
                  <figcaption>{name}</figcaption>
                  <TimeChart
                    label={`Backup size of ${name}`}
                    unit="bytes"
                    from={from}
                    to={now}
                    format={formatBytes}
                    testId="size-chart"
                    points={ordered.map((b) => ({
                      key: String(b.id),
                      t: time(b),
                      value: Number(b.storedBytes ?? 0),
                      title: `#${b.id} ${formatDateTime(b.startedAt ?? b.createdAt)}: ${formatBytes(b.storedBytes)}`,
                    }))}
                  />
                  <TimeChart
                    label={`Duration of ${name}`}
                    unit="ms"
                    from={from}
                    to={now}
                    format={formatMs}
                    points={ordered.map((b) => ({
                      key: String(b.id),
                      t: time(b),
                      value: b.durationMs ?? 0,
                      title: `#${b.id} ${formatDateTime(b.startedAt ?? b.createdAt)}: ${formatMs(b.durationMs)}`,
                    }))}
                  />
                </figure>
              );
            })}
          </div>
          {databases.length > shown.length && <p className="muted small">{databases.length - shown.length} more databases: open them from the table above.</p>}
        </>
      )}
    </section>
  );
}
