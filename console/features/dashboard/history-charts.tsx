"use client";

import { useEffect, useMemo } from "react";
import { useQuery } from "@/lib/use-query";
import { formatBytes, formatMs } from "@/lib/format";
import { graphql } from "@/lib/graphql-tada";

const HISTORY = graphql(`
  query DashboardHistory($filter: BackupFilter) {
    backups(filter: $filter, first: 200) {
      nodes {
        id
        status
        createdAt
        durationMs
        storedBytes
      }
    }
  }
`);

const DAYS = 14;
const W = 280;
const H = 64;

/** A small bar chart; `label` names it for assistive technology and the table below repeats the figures. */
function Bars({
  label,
  values,
  format,
  tone,
}: {
  label: string;
  values: Array<{ key: string; value: number; title: string }>;
  format: (n: number) => string;
  tone: string;
}) {
  const max = Math.max(1, ...values.map((v) => v.value));
  const bw = values.length ? W / values.length : W;
  return (
    <figure className="chart">
      <figcaption>
        {label} <span className="muted small">(max {format(max)})</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${label}: ${values.length} values, max ${format(max)}`} preserveAspectRatio="none">
        {values.map((v, i) => {
          const h = (v.value / max) * (H - 2);
          return (
            <rect key={v.key} x={i * bw + 1} y={H - h} width={Math.max(1, bw - 2)} height={h} className={tone}>
              <title>{v.title}</title>
            </rect>
          );
        })}
      </svg>
    </figure>
  );
}

/** Backup size and duration over time, and the success rate per day, for the last 14 days; `version` bumps refetch it. */
export function HistoryCharts({
  version,
  daily,
}: {
  version: number;
  /** Per-day success from the server (dashboard.daily): the same definition as the cards. */
  daily: ReadonlyArray<{ day: string; succeeded: number; finished: number; rate: number | null }>;
}) {
  const from = useMemo(() => `${new Date(Date.now() - DAYS * 86_400_000).toISOString().slice(0, 13)}:00:00.000Z`, []);
  const { data, refetch } = useQuery(HISTORY, { filter: { from } });
  useEffect(() => {
    if (version > 0) refetch();
  }, [version, refetch]);
  if (!data) return null;
  const finished = data.backups.nodes.filter((b) => !["PENDING", "RUNNING", "SKIPPED", "CANCELLED"].includes(b.status)).reverse();
  if (finished.length === 0) return null;
  // Size and duration of the runs that stored a copy (SUCCEEDED or PARTIAL, still held).
  const ok = finished.filter((b) => b.status === "SUCCEEDED" || b.status === "PARTIAL");
  return (
    <section className="panel" aria-labelledby="charts-heading">
      <h2 id="charts-heading">Last {DAYS} days</h2>
      <div className="charts">
        <Bars
          label="Backup size"
          tone="bar-info"
          format={formatBytes}
          values={ok.map((b) => ({ key: String(b.id), value: Number(b.storedBytes ?? 0), title: `#${b.id}: ${formatBytes(b.storedBytes)}` }))}
        />
        <Bars
          label="Duration"
          tone="bar-info"
          format={formatMs}
          values={ok.map((b) => ({ key: String(b.id), value: b.durationMs ?? 0, title: `#${b.id}: ${formatMs(b.durationMs)}` }))}
        />
        <Bars
          label="Success rate per day"
          tone="bar-ok"
          format={(n) => `${Math.round(n * 100)} %`}
          values={daily.map((d) => ({ key: d.day, value: d.rate ?? 0, title: `${d.day}: ${d.succeeded} of ${d.finished} succeeded` }))}
        />
      </div>
    </section>
  );
}
