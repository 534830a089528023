import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, createTarget, dataOf } from "../testing/backup-helpers.ts";
import { createTestApp } from "../testing/test-app.ts";
import { startHttpReceiver } from "./testing/peers.ts";

type Client = Awaited<ReturnType<Awaited<ReturnType<typeof createTestApp>>["as"]>>;

/**
 * STORAGE_UNREACHABLE from the periodic health checks (a real LOCAL target that cannot be
 * written): once per outage, to the rules whose servers and schedules write to that target.
 */
describe("a storage target found unreachable by the health checks", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Client;
  let http: Awaited<ReturnType<typeof startHttpReceiver>>;
  let targetId: number;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-notifyserver-st-"));
  const brokenPath = path.join(work, "a-file", "below");

  beforeAll(async () => {
    http = await startHttpReceiver();
    app = await createTestApp({ publicUrl: "https://backups.example.com" });
    admin = await app.as("ADMIN");
    fs.writeFileSync(path.join(work, "a-file"), "not a directory");
    const serverId = await createServer(admin, { name: "maria-st", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
    await createServer(admin, { name: "maria-elsewhere", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
    targetId = await createTarget(admin, { name: "st-nas", kind: "LOCAL", path: brokenPath });
    dataOf(
      await admin(`mutation($input: ScheduleInput!) { createSchedule(input: $input) { id } }`, {
        input: { name: "st-nightly", cronExpression: "0 3 * * *", serverIds: [serverId], storageTargetIds: [targetId] },
      }),
    );
    const channel = async (name: string, rule: Record<string, unknown>) => {
      const id = Number(
        (
          dataOf(
            await admin(`mutation($input: CreateNotificationChannelInput!) { createNotificationChannel(input: $input) { id } }`, {
              input: { name, kind: "SLACK", url: `${http.base}/${name}` },
            }),
          ) as { createNotificationChannel: { id: number } }
        ).createNotificationChannel.id,
      );
      dataOf(
        await admin(`mutation($input: CreateNotificationRuleInput!) { createNotificationRule(input: $input) { id } }`, {
          input: { channelId: id, events: ["STORAGE_UNREACHABLE"], ...rule },
        }),
      );
    };
    await channel("everything", { quietMinutes: 0 });
    await channel("mine", { serverSelector: { names: ["maria-st"] }, quietMinutes: 60 });
    await channel("elsewhere", { serverSelector: { names: ["maria-elsewhere"] } });
    await channel("failures-only", { events: ["FAILURE"] });
  });

  afterAll(async () => {
    await app?.close();
    await http?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const texts = (name: string) => http.received.filter((r) => r.path === `/${name}`).map((r) => r.json.text as string);
  async function check() {
    const results = await app.healthMonitor.checkAll();
    await app.services.notifier.idle();
    return results.find((r) => r.kind === "STORAGE_TARGET" && r.id === targetId)!;
  }

  it("one message per outage to the rules covering the target's servers", { timeout: 60_000 }, async () => {
    const down = await check();
    expect(down.up).toBe(false);
    expect(texts("everything")).toEqual(["Storage target st-nas is unreachable"]);
    expect(texts("mine")).toEqual(["Storage target st-nas is unreachable"]);
    expect(texts("elsewhere")).toEqual([]); // no schedule of maria-elsewhere writes to st-nas
    expect(texts("failures-only")).toEqual([]);
    const fields = JSON.stringify(http.received[0]!.json.blocks);
    expect(fields).toContain("*Storage target*\\nst-nas");
    expect(fields).toContain("*Error*");
    expect(fields).toContain(down.error!.slice(0, 20).replace(/"/g, '\\"'));

    // Still down at the next check: no transition, no message.
    expect((await check()).up).toBe(false);
    expect(http.received).toHaveLength(2);

    // Back up, then down again: a new outage; "mine" holds it back for its quiet period.
    const good = path.join(work, "good");
    fs.mkdirSync(good);
    dataOf(await admin(`mutation($input: StorageTargetInput!) { updateStorageTarget(id: ${targetId}, input: $input) { id } }`, { input: { path: good } }));
    expect((await check()).up).toBe(true);
    dataOf(
      await admin(`mutation($input: StorageTargetInput!) { updateStorageTarget(id: ${targetId}, input: $input) { id } }`, { input: { path: brokenPath } }),
    );
    expect((await check()).up).toBe(false);
    expect(texts("everything")).toHaveLength(2);
    expect(texts("mine")).toHaveLength(1);
    const held = await app.db.prisma.notificationDelivery.findMany({ where: { status: "SUPPRESSED", event: "STORAGE_UNREACHABLE" } });
    expect(held).toHaveLength(1);
    expect(held[0]!.lastError).toContain("storage target st-nas");
  });
});
