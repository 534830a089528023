import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventOf } from "../notifications/webhook-payload.ts";
import { dataOf } from "../testing/backup-helpers.ts";
import { parsePrometheusText } from "../testing/prom-parse.ts";
import { createTestApp } from "../testing/test-app.ts";
import { isSuccess, runOutcome, successRate, tally } from "./outcome.ts";

/** Statuses of today's runs, with the error text each carries (a PARTIAL run, and its DELETED form, keep theirs). */
const RUNS: Array<{ status: "SUCCEEDED" | "PARTIAL" | "FAILED" | "DELETED" | "CANCELLED" | "SKIPPED"; error: string | null }> = [
  { status: "SUCCEEDED", error: null },
  { status: "SUCCEEDED", error: null },
  { status: "DELETED", error: null }, // a success retention removed
  { status: "DELETED", error: null },
  { status: "DELETED", error: "target 2: connect ECONNREFUSED" }, // a partial run retention removed
  { status: "PARTIAL", error: "target 2: connect ECONNREFUSED" },
  { status: "FAILED", error: "the dump exited with code 2" },
  { status: "CANCELLED", error: "cancelled" },
  { status: "SKIPPED", error: null },
];

/**
 * Issue 13 item 3: one definition of success (outcome.ts), checked once against every consumer:
 * the dashboard's cards and its daily chart, the Prometheus metrics and the webhook events. Runs
 * retention removed keep their outcome and are never counted as failures.
 */
describe("one definition of success", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let httpServer: http.Server;

  beforeAll(async () => {
    app = await createTestApp();
    const p = app.db.prisma;
    const server = await p.server.create({
      data: { name: "outcome-srv", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", labels: {}, includeDatabases: [], excludeDatabases: [] },
    });
    const now = Date.now();
    let i = 0;
    for (const run of RUNS) {
      const at = new Date(now - (RUNS.length - i++) * 60_000);
      await p.backup.create({
        data: {
          serverId: server.id,
          serverName: server.name,
          engine: "MARIADB",
          database: "outcome_db",
          trigger: "MANUAL",
          status: run.status,
          error: run.error,
          compression: "ZSTD",
          createdAt: at,
          startedAt: at,
          finishedAt: new Date(at.getTime() + 1000),
        },
      });
    }
    await app.metrics.start();
    httpServer = http.createServer(app.app.handle).listen(0, "127.0.0.1");
    await new Promise((r) => httpServer.once("listening", r));
  });

  afterAll(async () => {
    httpServer?.close();
    await app?.close();
  });

  it("the cards, the daily chart, the metrics and the webhooks count the same runs as succeeded", async () => {
    // The definition: 4 successes (2 SUCCEEDED, 2 DELETED successes) of 7 finished runs.
    const expected = tally(RUNS.map((r) => ({ ...r, n: 1 })));
    expect(expected).toEqual({ succeeded: 4, finished: 7 });

    const viewer = await app.as("VIEWER");
    const { dashboard } = dataOf(await viewer("{ dashboard { totals { successRate24h successRate7d } daily { day succeeded finished rate } } }")) as {
      dashboard: {
        totals: { successRate24h: number; successRate7d: number };
        daily: Array<{ day: string; succeeded: number; finished: number; rate: number }>;
      };
    };
    expect(dashboard.totals.successRate24h).toBeCloseTo(4 / 7);
    expect(dashboard.totals.successRate7d).toBeCloseTo(4 / 7);
    // The chart's figures come from the server (the console draws dashboard.daily).
    const today = dashboard.daily.reduce((n, d) => ({ succeeded: n.succeeded + d.succeeded, finished: n.finished + d.finished }), {
      succeeded: 0,
      finished: 0,
    });
    expect(today).toEqual(expected);
    for (const d of dashboard.daily) expect(d.rate).toBeCloseTo(successRate(d)!);

    const { port } = httpServer.address() as AddressInfo;
    const families = parsePrometheusText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    const runs = families.get("sqlguard_backup_runs_total")!.samples.filter((s) => s.labels.server === "outcome-srv");
    const count = (status: string) => runs.filter((s) => s.labels.status === status).reduce((n, s) => n + s.value, 0);
    expect(count("succeeded")).toBe(expected.succeeded);
    expect(count("succeeded") + count("partial") + count("failed")).toBe(expected.finished);
    // The newest finished run was FAILED: the last-status gauge says not succeeded, as the definition does.
    const last = families.get("sqlguard_backup_last_status")!.samples.find((s) => s.labels.server === "outcome-srv");
    expect(last?.value).toBe(0);

    // Webhooks: a run is a SUCCESS (or RECOVERY) event exactly when the definition calls it a success.
    for (const run of RUNS.filter((r) => r.status !== "DELETED")) {
      const event = eventOf(run.status, null);
      const outcome = runOutcome(run.status, run.error);
      if (outcome === null) expect(event).toBeNull();
      else expect(event === "SUCCESS" || event === "RECOVERY").toBe(isSuccess(outcome));
    }
    expect(eventOf("SUCCEEDED", "PARTIAL")).toBe("RECOVERY");
    // A run retention removes is not an event at all (it ended long before).
    expect(eventOf("DELETED", "SUCCEEDED")).toBeNull();
  });
});
