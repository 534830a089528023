import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretBox } from "../secrets/secret-box.ts";
import { createServer, createTarget, dataOf, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { createMariadbSample, dropMariadbDatabase, uniqueName } from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";

type Received = { path: string; query: URLSearchParams; headers: http.IncomingHttpHeaders; body: string; json: Record<string, any> };
type Client = Awaited<ReturnType<Awaited<ReturnType<typeof createTestApp>>["as"]>>;

const SECRET = "hmac-secret-for-the-test";

/** A webhook receiver on localhost: records every request; a path in `failOnce` answers 500 once. */
async function startReceiver() {
  const received: Received[] = [];
  const failOnce = new Set<string>();
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (c: string) => (body += c));
    req.on("end", () => {
      const url = new URL(req.url!, "http://receiver");
      received.push({ path: url.pathname, query: url.searchParams, headers: req.headers, body, json: JSON.parse(body || "null") });
      if (failOnce.delete(url.pathname)) res.writeHead(500).end("try again");
      else res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  /** Waits until `count` requests reached `pathname`, and returns them. */
  async function at(pathname: string, count: number): Promise<Received[]> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const hits = received.filter((r) => r.path === pathname);
      if (hits.length >= count) return hits;
      if (Date.now() > deadline) throw new Error(`${pathname}: ${hits.length} of ${count} requests`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return { base, received, failOnce, at, close: () => server.close() };
}

describe("webhook notifications", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let admin: Client;
  let operator: Client;
  let serverId: number;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-hooks-"));
  const database = uniqueName("hook");

  beforeAll(async () => {
    app = await createTestApp({ limits: { maxAttempts: 1 } });
    receiver = await startReceiver();
    admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    serverId = await createServer(admin, { name: "maria-hook", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
  });

  afterAll(async () => {
    await app?.close();
    receiver?.close();
    await dropMariadbDatabase(database);
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function createWebhook(input: Record<string, unknown>): Promise<{ id: number; secretSet: boolean }> {
    return (
      dataOf(await admin(`mutation($input: WebhookInput!) { createWebhook(input: $input) { id secretSet } }`, { input })) as {
        createWebhook: { id: number; secretSet: boolean };
      }
    ).createWebhook;
  }

  async function backup(databases: string[], storageTargetIds?: number[]): Promise<{ id: number; status: string }> {
    const [created] = await runBackup(operator, { serverId, databases, storageTargetIds });
    return waitForBackup(operator, created!.id);
  }

  function expectSigned(r: Received, event: string): void {
    expect(r.headers["content-type"]).toBe("application/json");
    expect(r.headers["x-sqlguard-event"]).toBe(event);
    const expected = `sha256=${crypto.createHmac("sha256", SECRET).update(r.body).digest("hex")}`;
    expect(crypto.timingSafeEqual(Buffer.from(String(r.headers["x-sqlguard-signature"])), Buffer.from(expected))).toBe(true);
    expect(r.json.event).toBe(event);
    expect(r.headers["x-sqlguard-delivery"]).toBe(r.json.deliveryId);
  }

  it("signs a failure event after a failed backup, then a recovery event once the database backs up again", { timeout: 60_000 }, async () => {
    const hook = await createWebhook({ name: "ops", url: `${receiver.base}/hook`, secret: SECRET });
    expect(hook.secretSet).toBe(true);
    const flaky = await createWebhook({ name: "flaky", url: `${receiver.base}/flaky`, onSuccess: true, onFailure: false });
    expect(flaky.secretSet).toBe(false);

    const failed = await backup([database]); // the database does not exist yet
    expect(failed.status).toBe("FAILED");
    const [failure] = await receiver.at("/hook", 1);
    expectSigned(failure!, "FAILURE");
    expect(failure!.json).toMatchObject({
      version: 1,
      server: "maria-hook",
      database,
      schedule: null,
      previous: null,
      overdue: null,
      backup: { id: failed.id, status: "FAILED", trigger: "MANUAL", storedBytes: null },
    });
    expect(failure!.json.backup.error).toContain("does not exist");
    expect(failure!.json.summary).toContain(`Backup of ${database} on maria-hook failed`);

    await createMariadbSample(database, { rows: 10 });
    receiver.failOnce.add("/flaky");
    const recovered = await backup([database]);
    expect(recovered.status).toBe("SUCCEEDED");
    const [, recovery] = await receiver.at("/hook", 2);
    expectSigned(recovery!, "RECOVERY");
    expect(recovery!.json).toMatchObject({ database, backup: { id: recovered.id, status: "SUCCEEDED" }, previous: { id: failed.id, status: "FAILED" } });
    expect(recovery!.json.backup.storedBytes).toBeGreaterThan(0);

    // "flaky" wants successes (a recovery is one): it answered 500 once, then got the same delivery again.
    const [first, retry] = await receiver.at("/flaky", 2);
    expect(first!.headers["x-sqlguard-signature"]).toBeUndefined();
    expect([first!.json.event, retry!.json.event]).toEqual(["RECOVERY", "RECOVERY"]);
    expect(retry!.body).toBe(first!.body);
    await app.services.notifications.idle();
    expect(app.logLines.some((l) => l.includes('"msg":"webhook delivered"') && l.includes('"webhook":"flaky"') && l.includes('"attempts":2'))).toBe(true);

    // A plain success: "flaky" hears of it, "ops" (failures and recoveries only) does not.
    const again = await backup([database]);
    const [, , success] = await receiver.at("/flaky", 3);
    expect(success!.json).toMatchObject({ event: "SUCCESS", backup: { id: again.id }, previous: null });
    await app.services.notifications.idle();
    expect(receiver.received.filter((r) => r.path === "/hook")).toHaveLength(2);

    // Neither the logs nor the audit log carry the secret or the sealed secret.
    const audit = JSON.stringify(await app.db.prisma.auditLog.findMany({ where: { entityType: "Webhook" } }));
    const sealed = (await app.db.prisma.webhook.findUniqueOrThrow({ where: { id: Number(hook.id) } })).secretEnc!;
    for (const text of [app.logLines.join("\n"), audit]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(sealed.slice(3, 40));
    }
    expect(audit).toContain('"secretSet":true');
    expect(new SecretBox(app.secretKey).open(sealed)).toBe(SECRET);
  });

  it("pings healthchecks-style URLs (start, success, fail) for its schedule's backups only", { timeout: 60_000 }, async () => {
    const localId = await createTarget(admin, { name: "hook-local", kind: "LOCAL", path: path.join(work, "local") });
    fs.writeFileSync(path.join(work, "a-file"), "not a directory");
    const brokenId = await createTarget(admin, { name: "hook-broken", kind: "LOCAL", path: path.join(work, "a-file", "below") });
    const hcServer = await createServer(admin, {
      name: "maria-hc",
      engine: "MARIADB",
      host: "127.0.0.1",
      port: 3306,
      username: "root",
      includeDatabases: [database],
    });
    const scheduleId = (
      dataOf(
        await admin(`mutation($input: ScheduleInput!) { createSchedule(input: $input) { id } }`, {
          input: { name: "hc-nightly", cronExpression: "0 3 * * *", serverIds: [hcServer], storageTargetIds: [localId] },
        }),
      ) as { createSchedule: { id: number } }
    ).createSchedule.id;
    await createWebhook({ name: "hc", url: `${receiver.base}/ping/3f0c2a/`, format: "HEALTHCHECKS", scheduleId, secret: SECRET });

    const runSchedule = async () => {
      const [run] = (dataOf(await operator(`mutation($id: ID!) { runSchedule(id: $id) { id } }`, { id: scheduleId })) as { runSchedule: Array<{ id: number }> })
        .runSchedule;
      return waitForBackup(operator, run!.id);
    };
    const ok = await runSchedule();
    expect(ok.status).toBe("SUCCEEDED");
    const start = (await receiver.at("/ping/3f0c2a/start", 1))[0]!;
    const success = (await receiver.at("/ping/3f0c2a", 1))[0]!;
    const rid = `00000000-0000-4000-8000-${ok.id.toString(16).padStart(12, "0")}`;
    expect([start.query.get("rid"), success.query.get("rid")]).toEqual([rid, rid]);
    expect(start.json).toMatchObject({ event: "STARTED", schedule: "hc-nightly", database });
    expectSigned(success, "SUCCESS");

    // A manual backup of the same database is outside the webhook's schedule.
    expect((await backup([database], [localId])).status).toBe("SUCCEEDED");
    dataOf(
      await admin(`mutation($id: ID!, $input: ScheduleInput!) { updateSchedule(id: $id, input: $input) { id } }`, {
        id: scheduleId,
        input: { storageTargetIds: [brokenId] },
      }),
    );
    const broken = await runSchedule();
    expect(broken.status).toBe("FAILED");
    const [fail] = await receiver.at("/ping/3f0c2a/fail", 1);
    expect(fail!.query.get("rid")).toBe(`00000000-0000-4000-8000-${broken.id.toString(16).padStart(12, "0")}`);
    expect(fail!.json).toMatchObject({ event: "FAILURE", backup: { id: broken.id, status: "FAILED" } });
    await app.services.notifications.idle();
    // Each run's end comes after its start, and the manual backup pinged nothing.
    expect(receiver.received.filter((r) => r.path.startsWith("/ping/")).map((r) => r.path)).toEqual([
      "/ping/3f0c2a/start",
      "/ping/3f0c2a",
      "/ping/3f0c2a/start",
      "/ping/3f0c2a/fail",
    ]);
  });

  it("sends OVERDUE once per expected-by time, for the scheduler to call", async () => {
    const expectedBy = new Date("2026-11-23T04:00:00Z");
    const notify = () => app.services.notifications.notifyOverdue("maria-hook", database, { expectedBy, lastSuccessAt: null, lateSchedules: ["daily"] });
    await Promise.all([notify(), notify()]);
    const hits = receiver.received.filter((r) => r.path === "/hook" && r.json.event === "OVERDUE");
    expect(hits).toHaveLength(1);
    expectSigned(hits[0]!, "OVERDUE");
    expect(hits[0]!.json).toMatchObject({
      server: "maria-hook",
      database,
      backup: null,
      overdue: { expectedBy: expectedBy.toISOString(), lastSuccessAt: null, lateSchedules: ["daily"] },
    });
  });

  it("keeps webhooks admin-only, validated and audited, never returns the secret, and tests one on demand", async () => {
    const viewer = await app.as("VIEWER");
    for (const client of [operator, viewer]) {
      expect((await client(`{ webhooks { id } }`)).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      expect((await client(`mutation { createWebhook(input: { name: "x", url: "https://example.com" }) { id } }`)).errors?.[0]?.extensions?.code).toBe(
        "FORBIDDEN",
      );
    }
    expect((await admin(`{ webhooks { secret } }`)).errors?.[0]?.message).toContain('Cannot query field "secret"');
    const invalid = await admin(`mutation($input: WebhookInput!) { createWebhook(input: $input) { id } }`, {
      input: { name: "bad one", url: "https://user:pw@example.com/x", scheduleId: 999_999 },
    });
    expect(invalid.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT" });
    expect(invalid.errors?.[0]?.message).toMatch(/name: .*url: must be an http\(s\) URL without credentials/);
    expect((await admin(`mutation { createWebhook(input: { name: "ops", url: "https://example.com" }) { id } }`)).errors?.[0]?.extensions?.code).toBe(
      "CONFLICT",
    );
    expect(
      (await admin(`mutation { createWebhook(input: { name: "lost", url: "https://example.com", scheduleId: 999999 }) { id } }`)).errors?.[0]?.message,
    ).toBe("scheduleId: no schedule with id 999999");

    const fields = `id name url format onFailure onRecovery onOverdue onSuccess scheduleId schedule { name } enabled secretSet`;
    const { webhooks } = dataOf(await admin(`{ webhooks { ${fields} } }`)) as { webhooks: Array<Record<string, any>> };
    expect(webhooks.map((w) => [w.name, w.format, w.scheduleId !== null, w.secretSet])).toEqual([
      ["flaky", "GENERIC", false, false],
      ["hc", "HEALTHCHECKS", true, true],
      ["ops", "GENERIC", false, true],
    ]);
    const ops = webhooks.find((w) => w.name === "ops")!;
    expect(ops).toMatchObject({
      url: `${receiver.base}/hook`,
      onFailure: true,
      onRecovery: true,
      onOverdue: true,
      onSuccess: false,
      enabled: true,
      schedule: null,
    });
    expect(webhooks.find((w) => w.name === "hc")!.schedule).toEqual({ name: "hc-nightly" });

    const tested = dataOf(await admin(`mutation($id: ID!) { testWebhook(id: $id) { ok status error } }`, { id: ops.id })) as {
      testWebhook: Record<string, unknown>;
    };
    expect(tested.testWebhook).toEqual({ ok: true, status: 200, error: null });
    expectSigned(receiver.received.at(-1)!, "TEST");

    const updated = dataOf(
      await admin(`mutation($id: ID!) { updateWebhook(id: $id, input: { secret: null, enabled: false }) { ${fields} } }`, { id: ops.id }),
    ) as { updateWebhook: Record<string, unknown> };
    expect(updated.updateWebhook).toMatchObject({ secretSet: false, enabled: false, url: `${receiver.base}/hook` });
    dataOf(await admin(`mutation($id: ID!) { deleteWebhook(id: $id) { id } }`, { id: ops.id }));
    expect((await admin(`query($id: ID!) { webhook(id: $id) { id } }`, { id: ops.id })).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const actions = (await app.db.prisma.auditLog.findMany({ where: { entityType: "Webhook", entityId: String(ops.id) }, orderBy: { id: "asc" } })).map(
      (a) => a.action,
    );
    expect(actions).toEqual(["webhook.create", "webhook.update", "webhook.delete"]);

    // A schedule's webhooks go with it.
    const hc = webhooks.find((w) => w.name === "hc")!;
    dataOf(await admin(`mutation($id: ID!) { deleteSchedule(id: $id) { id } }`, { id: hc.scheduleId }));
    expect(await app.db.prisma.webhook.findUnique({ where: { id: Number(hc.id) } })).toBeNull();
  });
});
