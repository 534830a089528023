// A small time-series chart with real axes: dates along the bottom, values with their unit up the
// side, scaled to its own data (so a 73 KiB database fills its chart like a 135 MiB one fills its own).

export type ChartUnit = "bytes" | "ms" | "seconds" | "ratio";

export type ChartPoint = { key: string; t: number; value: number; title: string; tone?: "ok" | "bad" | "info" };

const W = 320;
const H = 150;
const M = { left: 52, right: 8, top: 8, bottom: 22 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;
const DAY_MS = 86_400_000;

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** The unit a maximum is best read in, and its size in the value's own terms. */
function scaleUnit(unit: ChartUnit, max: number): { name: string; size: number } {
  if (unit === "ratio") return { name: "%", size: 0.01 };
  if (unit === "bytes") {
    let i = 0;
    while (i < BYTE_UNITS.length - 1 && max >= 1024 ** (i + 1)) i++;
    return { name: BYTE_UNITS[i]!, size: 1024 ** i };
  }
  const seconds = unit === "ms" ? max / 1000 : max;
  const perSecond = unit === "ms" ? 1000 : 1;
  if (seconds < 120) return { name: "s", size: perSecond };
  if (seconds < 7200) return { name: "min", size: 60 * perSecond };
  if (seconds < 2 * 86400) return { name: "h", size: 3600 * perSecond };
  return { name: "d", size: 86400 * perSecond };
}

/** The smallest of 1, 2, 2.5, 5 × 10^k at or above n (n > 0). */
function niceCeil(n: number): number {
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= n - 1e-9) return m * p;
  return 10 * p;
}

function trim(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(2)));
}

/** "Dec 3" in the browser's locale. */
function dayLabel(t: number): string {
  return new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" }).format(new Date(t));
}

/** Local midnights between from and to, about `count` of them, evenly stepped in whole days. */
function dayTicks(from: number, to: number, count: number): number[] {
  const days = Math.max(1, Math.round((to - from) / DAY_MS));
  const step = Math.max(1, Math.ceil(days / count));
  const start = new Date(from);
  start.setHours(0, 0, 0, 0);
  const ticks: number[] = [];
  for (let d = new Date(start); d.getTime() <= to; d.setDate(d.getDate() + step)) if (d.getTime() >= from) ticks.push(d.getTime());
  return ticks;
}

/**
 * Bars (or dots) over a time range, each at its time. `label` names it for assistive technology
 * ("<label>: N values, max X"); every mark carries a title with its exact figure. A reference line
 * (a target RPO) is drawn dashed and counted into the scale.
 */
export function TimeChart({
  label,
  points,
  from,
  to,
  unit,
  format,
  reference,
  testId,
}: {
  label: string;
  points: ChartPoint[];
  from: number;
  to: number;
  unit: ChartUnit;
  format: (n: number) => string;
  reference?: { value: number; label: string } | null;
  testId?: string;
}) {
  const dataMax = Math.max(0, ...points.map((p) => p.value));
  const top = Math.max(dataMax, reference?.value ?? 0);
  const u = scaleUnit(unit, top);
  const niceTop = unit === "ratio" ? 100 : top > 0 ? niceCeil(top / u.size) : 1;
  const yMax = niceTop * u.size;
  const y = (v: number) => M.top + PH - (v / yMax) * PH;
  const span = Math.max(1, to - from);
  const x = (t: number) => M.left + ((Math.min(to, Math.max(from, t)) - from) / span) * PW;
  const days = Math.max(1, span / DAY_MS);
  const barW = Math.max(2, Math.min(14, PW / Math.max(points.length, days) - 2));
  const yTicks = [0, niceTop / 2, niceTop];
  return (
    <svg
      viewBox={`0 0 ${W} ${H}`}
      className="time-chart"
      role="img"
      aria-label={`${label}: ${points.length} values, max ${format(dataMax)}`}
      data-testid={testId}
    >
      {yTicks.map((tick) => (
        <g key={tick}>
          <line x1={M.left} x2={W - M.right} y1={y(tick * u.size)} y2={y(tick * u.size)} className="grid-line" />
          <text x={M.left - 4} y={y(tick * u.size) + 3} textAnchor="end" className="axis-label">
            {`${trim(tick)} ${u.name}`}
          </text>
        </g>
      ))}
      {dayTicks(from, to, 4).map((t) => (
        <g key={t}>
          <line x1={x(t)} x2={x(t)} y1={M.top + PH} y2={M.top + PH + 3} className="axis-line" />
          <text x={x(t)} y={H - 6} textAnchor="middle" className="axis-label">
            {dayLabel(t)}
          </text>
        </g>
      ))}
      <line x1={M.left} x2={M.left} y1={M.top} y2={M.top + PH} className="axis-line" />
      <line x1={M.left} x2={W - M.right} y1={M.top + PH} y2={M.top + PH} className="axis-line" />
      {reference && (
        <line x1={M.left} x2={W - M.right} y1={y(reference.value)} y2={y(reference.value)} className="reference-line">
          <title>{reference.label}</title>
        </line>
      )}
      {points.map((p) => {
        // A value above zero is never drawn thinner than 2 units, so it stays visible.
        const h = p.value > 0 ? Math.max(2, (p.value / yMax) * PH) : 0;
        return (
          <rect key={p.key} x={x(p.t) - barW / 2} y={M.top + PH - h} width={barW} height={h} className={`bar-${p.tone ?? "info"}`} data-value={p.value}>
            <title>{p.title}</title>
          </rect>
        );
      })}
    </svg>
  );
}
