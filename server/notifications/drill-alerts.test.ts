import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { followDrills } from "../observability/drill-metrics.ts";
import { dataOf } from "../testing/backup-helpers.ts";
import { parsePrometheusText, sampleValue } from "../testing/prom-parse.ts";
import { createTestApp } from "../testing/test-app.ts";

const SECRET = "drill-hook-secret-123";

describe("failed restore drills", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let receiver: http.Server;
  const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];

  beforeAll(async () => {
    app = await createTestApp();
    receiver = http.createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8").on("data", (c: string) => (body += c));
      req.on("end", () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    receiver?.close();
    await app?.close();
  });

  it("send a signed DRILL_FAILED webhook and show in the drill metrics, which reload from the database", async () => {
    const admin = await app.as("ADMIN");
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/drills`;
    dataOf(
      await admin(`mutation($input: WebhookInput!) { createWebhook(input: $input) { id } }`, {
        input: { name: "drills", url, secret: SECRET, onFailure: true },
      }),
    );
    const base = { serverName: "verify", scratchDatabase: "scratch", trigger: "MANUAL" as const, requestedBy: "test", finishedAt: new Date() };
    await app.db.prisma.restoreDrill.create({ data: { ...base, sourceServerName: "prod", database: "shop", status: "PASSED", restoreMs: 4200 } });
    const stop = await followDrills(app.db.prisma, app.metrics.metrics, app.restore.events);

    app.restore.events.emit({
      type: "DRILL_FINISHED",
      drillId: 99,
      backupId: 7,
      sourceServerName: "prod",
      database: "crm",
      status: "FAILED",
      restoreMs: 1500,
      error: "table orders: 10 rows expected, 9 restored",
    });
    const deadline = Date.now() + 10_000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    const [hit] = received;
    expect(hit!.headers["x-sqlguard-event"]).toBe("DRILL_FAILED");
    expect(hit!.headers["x-sqlguard-signature"]).toBe(`sha256=${crypto.createHmac("sha256", SECRET).update(hit!.body).digest("hex")}`);
    expect(JSON.parse(hit!.body)).toMatchObject({ event: "DRILL_FAILED", server: "prod", database: "crm", drill: { id: 99, backupId: 7, restoreMs: 1500 } });

    const families = parsePrometheusText(await app.metrics.metrics.render());
    const value = (name: string, database: string) => sampleValue(families, name, { server: "prod", database });
    expect(value("sqlguard_restore_drill_status", "shop")).toBe(1);
    expect(value("sqlguard_restore_drill_restore_seconds", "shop")).toBe(4.2);
    expect(value("sqlguard_restore_drill_status", "crm")).toBe(0);
    stop();
  });
});
