"use client";

import { TimeChart } from "@/components/ui/time-chart";
import { formatInstant, formatMs, formatSeconds } from "@/lib/format";
import type { DatabaseDetail } from "./queries";

const DAY_MS = 86_400_000;

/**
 * RPO and RTO over the page's `days`: the age of the newest good backup just before each recovery
 * point (and now), against the target RPO of its schedules; and the restore time of each drill.
 */
export function DatabaseCharts({ detail, now }: { detail: DatabaseDetail; now: number }) {
  const from = now - detail.days * DAY_MS;
  const target = detail.targetRpoSeconds;
  const newest = detail.rpo.at(-1);
  // The age now: what would be lost if the database were lost this minute.
  const current = newest ? Math.max(0, Math.round((now - Date.parse(newest.at)) / 1000)) : null;
  const rpoPoints = [
    ...detail.rpo
      .filter((p) => p.gapSeconds !== null)
      .map((p) => ({
        key: String(p.backupId),
        t: Date.parse(p.at),
        value: p.gapSeconds!,
        tone: target !== null && p.gapSeconds! > target ? ("bad" as const) : ("ok" as const),
        title: `Before #${p.backupId} (${formatInstant(p.at)}): newest good backup was ${formatSeconds(p.gapSeconds)} old`,
      })),
    ...(current !== null
      ? [
          {
            key: "now",
            t: now,
            value: current,
            tone: target !== null && current > target ? ("bad" as const) : ("info" as const),
            title: `Now: newest good backup is ${formatSeconds(current)} old`,
          },
        ]
      : []),
  ];
  return (
    <section className="panel" aria-labelledby="rpo-rto-heading">
      <h2 id="rpo-rto-heading">RPO and RTO, last {detail.days} days</h2>
      <div className="charts">
        <figure className="chart" data-testid="rpo-chart">
          <figcaption>RPO: age of the newest good backup</figcaption>
          <TimeChart
            label="RPO: age of the newest good backup"
            unit="seconds"
            from={from}
            to={now}
            format={formatSeconds}
            points={rpoPoints}
            reference={target !== null ? { value: target, label: `Target RPO ${formatSeconds(target)}` } : null}
          />
          <p className="muted small">
            {current !== null ? `Now ${formatSeconds(current)}` : "No good backup yet"}
            {target !== null ? ` · target ${formatSeconds(target)} (dashed)` : " · no schedule sets a target"}
          </p>
        </figure>
        <figure className="chart" data-testid="rto-chart">
          <figcaption>RTO: restore time of each drill</figcaption>
          <TimeChart
            label="RTO: restore time of each drill"
            unit="ms"
            from={from}
            to={now}
            format={formatMs}
            points={detail.rto.map((p) => ({
              key: String(p.drillId),
              t: Date.parse(p.at),
              value: p.restoreMs,
              tone: p.status === "PASSED" ? "ok" : "bad",
              title: `Drill #${p.drillId} (${formatInstant(p.at)}): restored in ${formatMs(p.restoreMs)}, ${p.status}`,
            }))}
          />
          <p className="muted small">{detail.rto.length ? `${detail.rto.length} drill${detail.rto.length === 1 ? "" : "s"}` : "No drill yet"}</p>
        </figure>
      </div>
    </section>
  );
}
