import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../scheduler/clock.ts";
import { createServer, dataOf, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { createMariadbSample, dropMariadbDatabase, mariadbExec, uniqueName } from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";
import { selfSignedCert, startHttpReceiver, startSmtpPeer } from "./testing/peers.ts";

type Client = Awaited<ReturnType<Awaited<ReturnType<typeof createTestApp>>["as"]>>;

/**
 * Grouping against the real MariaDB and real dumps: a database whose view lost its table (the
 * real mariadb-dump fails on it, every run) sends exactly
 * one FAILURE per channel (an EMAIL channel through a real SMTP server, a SLACK channel to an HTTP
 * receiver) within the quiet period, one reminder after it, and the first success closes the
 * group with exactly one RECOVERY per channel. A healthy database beside it sends nothing.
 */
describe("failures of one database are grouped per channel; a recovery closes the group", () => {
  const clock = new ManualClock(new Date());
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Client;
  let operator: Client;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let http: Awaited<ReturnType<typeof startHttpReceiver>>;
  let tls: ReturnType<typeof selfSignedCert>;
  let serverId: number;
  const broken = uniqueName("notifyserver_grp");
  const healthy = uniqueName("notifyserver_ok");
  const slackPath = "/services/T0/B0/grouping";

  beforeAll(async () => {
    tls = selfSignedCert();
    smtp = await startSmtpPeer({ key: tls.key, cert: tls.cert, user: "mailer", pass: "mailer-password" });
    http = await startHttpReceiver();
    app = await createTestApp({
      clock,
      limits: { maxAttempts: 1 },
      publicUrl: "https://sqlguard.example.net/",
      notifications: { delivery: { baseDelayMs: 20 }, smtpTls: { ca: tls.cert } },
    });
    admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    serverId = await createServer(admin, { name: "maria-grouping", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
    await createMariadbSample(broken, { rows: 5 });
    await createMariadbSample(healthy, { rows: 5 });
    const channel = async (input: Record<string, unknown>) => {
      const id = Number(
        (
          dataOf(await admin(`mutation($input: CreateNotificationChannelInput!) { createNotificationChannel(input: $input) { id } }`, { input })) as {
            createNotificationChannel: { id: number };
          }
        ).createNotificationChannel.id,
      );
      dataOf(
        await admin(`mutation($input: CreateNotificationRuleInput!) { createNotificationRule(input: $input) { id quietMinutes } }`, {
          input: { channelId: id, events: ["FAILURE", "RECOVERY"], serverSelector: { names: ["maria-grouping"] }, quietMinutes: 60 },
        }),
      );
      return id;
    };
    await channel({
      name: "grouping-mail",
      kind: "EMAIL",
      smtp: { host: "127.0.0.1", port: smtp.port, username: "mailer", password: "mailer-password", from: "sqlguard@example.net", to: ["dba@example.net"] },
    });
    await channel({ name: "grouping-slack", kind: "SLACK", url: `${http.base}${slackPath}` });
  });

  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await http?.close();
    await dropMariadbDatabase(broken);
    await dropMariadbDatabase(healthy);
    if (tls) fs.rmSync(tls.dir, { recursive: true, force: true });
  });

  /** One real backup run of both databases; waits for both and for every notification of it. */
  async function run(): Promise<Record<string, { id: number; status: string; error: string | null }>> {
    const created = await runBackup(operator, { serverId, databases: [broken, healthy] });
    const done = await Promise.all(created.map((b) => waitForBackup(operator, b.id)));
    await app.services.notifier.idle();
    return Object.fromEntries(done.map((b) => [b.database, b]));
  }
  const slack = () => http.received.filter((r) => r.path === slackPath).map((r) => r.json.text as string);
  const mails = () => smtp.mails.map((m) => m.subject);

  it("a run of failures: exactly one FAILURE per channel within the quiet period", { timeout: 120_000 }, async () => {
    const first = await run();
    expect([first[broken]!.status, first[healthy]!.status]).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    expect([mails(), slack()]).toEqual([[], []]);

    // The view customer_files loses a table it reads: the real mariadb-dump fails on it (error 1356).
    await mariadbExec(["DROP TABLE files"], broken);
    const failures: Array<{ id: number; error: string | null }> = [];
    for (let i = 0; i < 4; i++) {
      const r = await run();
      expect(r[broken]!.status).toBe("FAILED");
      expect(r[healthy]!.status).toBe("SUCCEEDED");
      failures.push(r[broken]!);
      await clock.advance(10 * 60_000); // 40 minutes in all: inside the 60-minute quiet period
    }
    expect(failures[0]!.error).toMatch(/references invalid table|1356/);
    expect(mails()).toEqual([`[SQLGuard] Backup of ${broken} on maria-grouping failed`]);
    expect(slack()).toEqual([`Backup of ${broken} on maria-grouping failed`]);
    // The first failure's message names that backup.
    expect(smtp.mails[0]!.text).toContain(`https://sqlguard.example.net/backups/detail/?id=${failures[0]!.id}`);

    const incidents = await app.db.prisma.notificationIncident.findMany({ orderBy: { id: "asc" } });
    expect(incidents).toHaveLength(2);
    for (const i of incidents) expect(i).toMatchObject({ database: broken, failures: 4, heldBack: 3, closedAt: null, firstBackupId: failures[0]!.id });
    const log = await app.db.prisma.notificationDelivery.groupBy({ by: ["status"], where: { event: "FAILURE" }, _count: true });
    expect(Object.fromEntries(log.map((g) => [g.status, g._count]))).toEqual({ SENT: 2, SUPPRESSED: 6 });
  });

  it("after the quiet period, one reminder per channel that it is still failing", { timeout: 60_000 }, async () => {
    await clock.advance(25 * 60_000); // 65 minutes after the first message
    expect((await run())[broken]!.status).toBe("FAILED");
    expect(mails()).toHaveLength(2);
    expect(mails()[1]).toBe(`[SQLGuard] Backup of ${broken} on maria-grouping is still failing`);
    expect(smtp.mails[1]!.text).toContain("(5 failures in a row)");
    expect(slack()).toEqual([`Backup of ${broken} on maria-grouping failed`, `Backup of ${broken} on maria-grouping is still failing`]);
    // The reminder restarts the quiet period.
    await clock.advance(5 * 60_000);
    expect((await run())[broken]!.status).toBe("FAILED");
    expect([mails().length, slack().length]).toEqual([2, 2]);
  });

  it("the first success closes the group with exactly one RECOVERY per channel; the next failure opens a new one", { timeout: 90_000 }, async () => {
    await mariadbExec(["CREATE TABLE files (id INT PRIMARY KEY, customer_id INT NOT NULL, data LONGBLOB)"], broken);
    const ok = await run();
    expect(ok[broken]!.status).toBe("SUCCEEDED");
    expect(mails()).toHaveLength(3);
    expect(mails()[2]).toBe(`[SQLGuard] Backup of ${broken} on maria-grouping recovered`);
    expect(smtp.mails[2]!.text).toContain("succeeded again after 6 failures");
    expect(slack()).toHaveLength(3);
    expect(slack()[2]).toBe(`Backup of ${broken} on maria-grouping recovered`);
    const incidents = await app.db.prisma.notificationIncident.findMany();
    expect(incidents.every((i) => i.closedAt !== null && i.openKey === null)).toBe(true);

    // More successes: nothing.
    await run();
    expect([mails().length, slack().length]).toEqual([3, 3]);

    // A new failure is a new group: sent at once, though the last message was minutes ago.
    await mariadbExec(["DROP TABLE files"], broken);
    expect((await run())[broken]!.status).toBe("FAILED");
    expect(mails()).toHaveLength(4);
    expect(mails()[3]).toBe(`[SQLGuard] Backup of ${broken} on maria-grouping failed`);
    expect(slack()).toHaveLength(4);
    expect(await app.db.prisma.notificationIncident.count({ where: { closedAt: null } })).toBe(2);
    // Nothing at any time about the healthy database.
    expect([...mails(), ...slack()].some((s) => s.includes(healthy))).toBe(false);
  });
});
