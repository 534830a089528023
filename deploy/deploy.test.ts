// The ready-made monitoring files parse, and query only series SQLGuard exposes (and `up`).
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { SqlguardMetrics } from "../server/observability/metrics.ts";

const read = (file: string) => fs.readFileSync(new URL(file, import.meta.url), "utf8");
const KNOWN = new Set([...new SqlguardMetrics().names(), "up"]);
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"]);

/**
 * The series names a PromQL expression selects: what is left once strings, label matchers,
 * ranges, grouping clauses, Grafana variables and function calls are taken out.
 */
function seriesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\$\{?\w+\}?/g, " ");
  return [...stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?!\s*\()/g)]
    .filter((m) => !/[a-zA-Z0-9_:]/.test(stripped[m.index! + m[0].length] ?? "") && !/[0-9.]/.test(stripped[m.index! - 1] ?? ""))
    .map((m) => m[0])
    .filter((name) => !KEYWORDS.has(name.toLowerCase()));
}

type Panel = { title?: string; type?: string; panels?: Panel[]; targets?: Array<{ expr?: string }> };

describe("deploy/", () => {
  it("knows every metric of the issue, histograms by their series", () => {
    for (const name of [
      "sqlguard_backup_last_success_timestamp_seconds",
      "sqlguard_backup_duration_seconds_bucket",
      "sqlguard_backups_running",
      "sqlguard_schedule_next_run_timestamp_seconds",
      "up",
    ]) {
      expect(KNOWN.has(name), name).toBe(true);
    }
    expect(seriesIn('sum by (le) (increase(a_total{x="b(c)"}[5m])) / on(x) b * 3600 > 1e3 or absent(up{job="y"})')).toEqual(["a_total", "b", "up"]);
  });

  it("grafana/sqlguard.json is a dashboard whose every panel queries registered series", () => {
    const dashboard = JSON.parse(read("./grafana/sqlguard.json")) as {
      title: string;
      uid: string;
      panels: Panel[];
      templating: { list: Array<{ type: string; name: string; query: unknown }> };
    };
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    const variables = dashboard.templating.list;
    expect(variables.find((v) => v.type === "datasource")).toMatchObject({ name: "datasource", query: "prometheus" });
    for (const v of variables.filter((v) => v.type === "query")) {
      const query = (v.query as { query: string }).query;
      expect(KNOWN.has(/^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(query)?.[1] ?? ""), `variable ${v.name}: ${query}`).toBe(true);
    }
    const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== "row");
    expect(panels.length).toBeGreaterThanOrEqual(10);
    const used = new Set<string>();
    for (const panel of panels) {
      expect(panel.targets?.length, `panel ${panel.title} has no query`).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.expr, `panel ${panel.title}`).toBeTruthy();
        const series = seriesIn(target.expr!);
        expect(
          series.filter((s) => !KNOWN.has(s)),
          `panel ${panel.title}: ${target.expr}`,
        ).toEqual([]);
        for (const s of series) used.add(s);
      }
    }
    // Age against RPO, outcomes, duration, size and storage per target all have a panel.
    for (const name of [
      "sqlguard_backup_last_success_timestamp_seconds",
      "sqlguard_backup_runs_total",
      "sqlguard_backup_duration_seconds_sum",
      "sqlguard_backup_size_bytes",
      "sqlguard_storage_bytes",
    ]) {
      expect(used.has(name), name).toBe(true);
    }
  });

  it("prometheus/alerts.yml is a rule file whose every rule is complete and queries registered series", () => {
    const file = parse(read("./prometheus/alerts.yml"), { strict: true, uniqueKeys: true }) as {
      groups: Array<{ name: string; rules: Array<Record<string, any>> }>;
    };
    expect(file.groups.length).toBeGreaterThan(0);
    const alerts: string[] = [];
    for (const group of file.groups) {
      expect(group.name).toBeTruthy();
      for (const rule of group.rules) {
        expect(Object.keys(rule).sort(), JSON.stringify(rule)).toEqual(["alert", "annotations", "expr", "for", "labels"]);
        expect(rule.alert).toMatch(/^[A-Za-z][A-Za-z0-9_]*$/);
        expect(rule.for).toMatch(/^\d+[smhd]$/);
        expect(["critical", "warning", "info"]).toContain(rule.labels.severity);
        expect(typeof rule.annotations.summary).toBe("string");
        const series = seriesIn(rule.expr);
        expect(series.length, rule.alert).toBeGreaterThan(0);
        expect(
          series.filter((s) => !KNOWN.has(s)),
          `${rule.alert}: ${rule.expr}`,
        ).toEqual([]);
        alerts.push(rule.alert);
      }
    }
    expect(alerts).toEqual(
      expect.arrayContaining([
        "SQLGuardBackupFailed",
        "SQLGuardBackupOverdue",
        "SQLGuardNoRecentSuccessfulBackup",
        "SQLGuardStorageUploadErrors",
        "SQLGuardDown",
      ]),
    );
  });
});
