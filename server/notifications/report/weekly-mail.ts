import type { Mail } from "../channels/email.ts";
import { barChartPng, hex, SERIES_COLORS } from "./chart.ts";
import type { ReportDatabase, WeeklyReport } from "./weekly-data.ts";

/** The Content-ID of the inline storage chart (the HTML refers to it as cid:…). */
export const CHART_CID = "storage-chart@sqlguard";

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const STATUS_COLOR: Record<string, string> = { OK: "#188038", ACKNOWLEDGED: "#5f6368", DROPPED: "#5f6368", NEVER: "#e37400" };

/** 1536 -> "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${n < 0 ? "-" : ""}${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** 86400 -> "1 d", 3600 -> "1 h", 90 -> "2 min". */
export function formatSeconds(s: number): string {
  if (s >= 86_400 && s % 86_400 === 0) return `${s / 86_400} d`;
  if (s >= 3600) return `${Math.round((s / 3600) * 10) / 10} h`;
  return `${Math.round(s / 60)} min`;
}

const when = (d: Date | null, timezone: string) =>
  d
    ? `${new Intl.DateTimeFormat("sv-SE", { timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(d)}`
    : "never";
const percent = (v: number | null) => (v == null ? "n/a" : `${Math.floor(v * 1000) / 10}%`);

/**
 * The weekly report as a mail: a summary, one table row per database (status, last good backup,
 * RPO and its compliance over the week, runs, drills), storage per target with its growth, and a
 * bar chart of storage per target per day as an inline PNG (cid:storage-chart@sqlguard).
 */
export function weeklyReportMail(r: WeeklyReport, publicUrl?: string): Mail {
  const tz = r.timezone;
  const period = `${when(r.from, tz)} to ${when(r.to, tz)} (${tz})`;
  const t = r.totals;
  const summary = `${t.databases} databases: ${t.ok} OK, ${t.problems} need attention. Backups this week: ${t.succeeded} succeeded, ${t.failed} failed. Restore drills: ${t.drillsPassed} of ${t.drillsRun} passed.`;
  const name = (d: ReportDatabase) => (d.database ? `${d.server} / ${d.database}` : `${d.server} (no database yet)`);
  const th = (s: string) => `<th align="left" style="padding:4px 10px;border-bottom:1px solid #dadce0">${s}</th>`;
  const td = (s: string, style = "") => `<td style="padding:4px 10px;border-bottom:1px solid #f1f3f4;${style}">${s}</td>`;
  const rows = r.databases
    .map(
      (d) =>
        `<tr>${td(esc(name(d)))}${td(esc(d.status), `color:${STATUS_COLOR[d.status] ?? "#d93025"};font-weight:600`)}${td(esc(when(d.lastGoodAt, tz)))}${td(d.rpoSeconds == null ? "n/a" : esc(formatSeconds(d.rpoSeconds)))}${td(percent(d.rpoCompliance))}${td(`${d.succeeded} / ${d.succeeded + d.failed}`)}${td(`${d.drillsPassed} / ${d.drillsRun}`)}</tr>`,
    )
    .join("");
  const storageRows = r.storage
    .map(
      (s, i) =>
        `<tr>${td(`<span style="display:inline-block;width:10px;height:10px;background:${hex(SERIES_COLORS[i % SERIES_COLORS.length]!)}"></span> ${esc(s.target)} (${esc(s.kind)})`)}${td(esc(formatBytes(s.days[6]!.bytes)))}${td(`${s.growthBytes >= 0 ? "+" : ""}${esc(formatBytes(s.growthBytes))}`)}</tr>`,
    )
    .join("");
  const max = Math.max(0, ...r.storage.flatMap((s) => s.days.map((d) => d.bytes)));
  const days = r.storage[0]?.days.map((d) => d.label) ?? [];
  const chart = barChartPng(r.storage.map((s) => ({ name: s.target, values: s.days.map((d) => d.bytes) })));
  const link = publicUrl ? `<p><a href="${esc(publicUrl.replace(/\/+$/, ""))}/">Open SQLGuard</a></p>` : "";
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#202124">
<h2>SQLGuard weekly backup report</h2>
<p>${esc(period)}</p>
<p>${esc(summary)}</p>
<h3>Databases</h3>
<table style="border-collapse:collapse;font-size:14px"><tr>${th("Database")}${th("Status")}${th("Last good backup")}${th("RPO")}${th("RPO met")}${th("Backups OK")}${th("Drills passed")}</tr>${rows}</table>
<h3>Storage</h3>
<table style="border-collapse:collapse;font-size:14px"><tr>${th("Target")}${th("Stored now")}${th("Growth this week")}</tr>${storageRows}</table>
<p><img src="cid:${CHART_CID}" width="560" height="200" alt="Stored bytes per target per day"></p>
<p style="color:#5f6368;font-size:12px">Bars: stored bytes per target on each day from ${esc(days[0] ?? "")} to ${esc(days[6] ?? "")}; the tallest is ${esc(formatBytes(max))}. RPO met: the share of the week the newest good backup was younger than the database's RPO (its shortest schedule interval) plus the overdue grace.</p>
${link}<p style="color:#5f6368;font-size:12px">Sent by SQLGuard because this channel has the weekly report turned on.</p>
</body></html>`;
  const text = [
    "SQLGuard weekly backup report",
    period,
    "",
    summary,
    "",
    "Databases (status; last good backup; RPO; RPO met; backups OK; drills passed):",
    ...r.databases.map(
      (d) =>
        `- ${name(d)}: ${d.status}; ${when(d.lastGoodAt, tz)}; ${d.rpoSeconds == null ? "n/a" : formatSeconds(d.rpoSeconds)}; ${percent(d.rpoCompliance)}; ${d.succeeded}/${d.succeeded + d.failed}; ${d.drillsPassed}/${d.drillsRun}`,
    ),
    "",
    "Storage (stored now; growth this week):",
    ...r.storage.map((s) => `- ${s.target} (${s.kind}): ${formatBytes(s.days[6]!.bytes)}; ${s.growthBytes >= 0 ? "+" : ""}${formatBytes(s.growthBytes)}`),
  ].join("\n");
  return {
    subject: `[SQLGuard] Weekly backup report: ${t.problems ? `${t.problems} of ${t.databases} databases need attention` : `all ${t.databases} databases OK`}`,
    text,
    html,
    attachments: [{ filename: "storage.png", content: chart, contentType: "image/png", cid: CHART_CID }],
  };
}
