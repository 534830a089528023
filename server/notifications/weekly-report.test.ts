import fs from "node:fs";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, parseConfig, parseWeeklyReportConfig } from "../config/env.ts";
import { CronerDriver, ManualCronDriver } from "../scheduler/cron-driver.ts";
import { createServer, dataOf, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { createMariadbSample, dropMariadbDatabase, mariadbExec, uniqueName } from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";
import { memoryLogger } from "../testing/test-db.ts";
import { SERIES_COLORS } from "./report/chart.ts";
import { dayLabel, rpoCompliance } from "./report/weekly-data.ts";
import { formatBytes } from "./report/weekly-mail.ts";
import { type ReceivedMail, selfSignedCert, startSmtpPeer } from "./testing/peers.ts";

type Client = Awaited<ReturnType<Awaited<ReturnType<typeof createTestApp>>["as"]>>;
const DAY = 86_400_000;
const H = 3_600_000;

describe("weekly report: pure parts", () => {
  const from = new Date("2026-11-23T08:00:00Z");
  const to = new Date("2026-11-30T08:00:00Z");
  it.each([
    {
      name: "a point every hour, RPO 2 h: always met",
      starts: Array.from({ length: 24 * 8 }, (_, i) => new Date(from.getTime() - DAY + i * H)),
      rpo: 2 * H,
      want: 1,
    },
    { name: "one point as the week starts, RPO 1 d: met the first day only", starts: [from], rpo: DAY, want: 1 / 7 },
    { name: "no point at all: never met", starts: [], rpo: DAY, want: 0 },
    {
      name: "a daily point that skipped Wednesday (RPO 1 d + 1 h)",
      starts: [0, 1, 3, 4, 5, 6].map((d) => new Date(from.getTime() + d * DAY)),
      rpo: DAY + H,
      want: (6 * DAY + H) / (7 * DAY),
    },
  ])("RPO compliance: $name", ({ starts, rpo, want }) => {
    expect(rpoCompliance(starts, rpo, from, to)).toBeCloseTo(want, 9);
  });

  it("RPO compliance of a database first backed up mid-week counts from its first run", () => {
    const first = new Date(to.getTime() - 2 * DAY);
    expect(rpoCompliance([first], DAY, from, to, first)).toBeCloseTo(0.5, 9);
  });

  it("day labels follow the report's time zone", () => {
    expect(dayLabel(new Date("2026-11-29T23:30:00Z"), "UTC")).toBe("Sun 2026-11-29");
    expect(dayLabel(new Date("2026-11-29T23:30:00Z"), "Europe/Berlin")).toBe("Mon 2026-11-30");
  });

  it("the schedule's variables are checked at boot, each problem naming its variable", () => {
    expect(parseWeeklyReportConfig({})).toEqual({ expression: "0 8 * * 1", timezone: "UTC" });
    expect(parseWeeklyReportConfig({ SQLGUARD_WEEKLY_REPORT_CRON: "30 7 * * 5", SQLGUARD_WEEKLY_REPORT_TIMEZONE: "Europe/Berlin" })).toEqual({
      expression: "30 7 * * 5",
      timezone: "Europe/Berlin",
    });
    const bad = () => parseConfig({ SQLGUARD_WEEKLY_REPORT_CRON: "every monday", SQLGUARD_WEEKLY_REPORT_TIMEZONE: "Mars/Olympus" });
    expect(bad).toThrow(ConfigError);
    try {
      bad();
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([
        expect.stringMatching(/^SQLGUARD_WEEKLY_REPORT_CRON: must be a cron expression/),
        expect.stringMatching(/^SQLGUARD_WEEKLY_REPORT_TIMEZONE: must be an IANA time zone/),
      ]);
    }
  });

  it("croner puts the job on Monday 08:00 in the configured zone", () => {
    const { logger } = memoryLogger();
    const cron = new CronerDriver(logger);
    cron.set("weekly-report", { expression: "0 8 * * 1", timezone: "Europe/Berlin" }, async () => {});
    const next = cron.nextRun("weekly-report")!;
    cron.stopAll();
    expect(new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Berlin", weekday: "long", hour: "2-digit", minute: "2-digit" }).format(next)).toBe(
      "Monday 08:00",
    );
  });
});

/**
 * The weekly report end to end: real backups of the real MariaDB (one database good, one whose
 * dump fails), restore drill rows, copies stored on different days; the report mail received
 * through a real SMTP server (STARTTLS + AUTH), its table, and the inline PNG chart decoded.
 */
describe("weekly report by e-mail", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Client;
  let operator: Client;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let tls: ReturnType<typeof selfSignedCert>;
  let serverId: number;
  let optedIn: number;
  let notOptedIn: number;
  let slack: number;
  const good = uniqueName("notifyserver_wr_good");
  const bad = uniqueName("notifyserver_wr_bad");
  let storedBytes = 0;

  beforeAll(async () => {
    tls = selfSignedCert();
    smtp = await startSmtpPeer({ key: tls.key, cert: tls.cert, user: "reports", pass: "report-password" });
    app = await createTestApp({
      limits: { maxAttempts: 1 },
      publicUrl: "https://backups.example.org",
      notifications: { delivery: { baseDelayMs: 20 }, smtpTls: { ca: tls.cert } },
      weeklyReport: { expression: "0 8 * * 1", timezone: "Europe/Berlin" },
    });
    admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    serverId = await createServer(admin, { name: "maria-report", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
    await createMariadbSample(good, { rows: 20 });
    await createMariadbSample(bad, { rows: 5 });
    await mariadbExec(["DROP TABLE files"], bad); // its view now fails the real dump

    const email = async (name: string, weeklyReport: boolean) =>
      Number(
        (
          dataOf(
            await admin(`mutation($input: CreateNotificationChannelInput!) { createNotificationChannel(input: $input) { id weeklyReport } }`, {
              input: {
                name,
                kind: "EMAIL",
                weeklyReport,
                smtp: {
                  host: "127.0.0.1",
                  port: smtp.port,
                  username: "reports",
                  password: "report-password",
                  from: "sqlguard@example.org",
                  to: [`${name}@example.org`],
                },
              },
            }),
          ) as { createNotificationChannel: { id: number } }
        ).createNotificationChannel.id,
      );
    optedIn = await email("auditors", true);
    notOptedIn = await email("dba", false);
    slack = Number(
      (
        dataOf(
          await admin(`mutation($input: CreateNotificationChannelInput!) { createNotificationChannel(input: $input) { id } }`, {
            input: { name: "report-slack", kind: "SLACK", url: "http://127.0.0.1:9/hook" },
          }),
        ) as { createNotificationChannel: { id: number } }
      ).createNotificationChannel.id,
    );

    // Three days ago: one good backup (its copy stored then); now: another, and a failing one.
    const run = async (database: string) => {
      const [b] = await runBackup(operator, { serverId, databases: [database] });
      return waitForBackup(operator, b!.id);
    };
    const first = await run(good);
    expect(first.status).toBe("SUCCEEDED");
    const past = new Date(Date.now() - 3 * DAY);
    await app.db.prisma.backup.update({
      where: { id: Number(first.id) },
      data: { createdAt: past, startedAt: past, finishedAt: new Date(past.getTime() + 5000) },
    });
    await app.db.prisma.backupArtifact.updateMany({ where: { backupId: Number(first.id) }, data: { storedAt: past, createdAt: past } });
    expect((await run(good)).status).toBe("SUCCEEDED");
    expect((await run(bad)).status).toBe("FAILED");
    const artifacts = await app.db.prisma.backupArtifact.findMany({ where: { status: "STORED" } });
    storedBytes = artifacts.reduce((n, a) => n + Number(a.sizeBytes), 0);
    expect(artifacts).toHaveLength(2);

    // Restore drills of the good database: two this week (one passed), one ten days ago (not in the report).
    const drill = (status: "PASSED" | "FAILED", daysAgo: number) =>
      app.db.prisma.restoreDrill.create({
        data: {
          serverName: "maria-report",
          sourceServerName: "maria-report",
          database: good,
          scratchDatabase: `${good}_drill`,
          trigger: "CRON",
          status,
          requestedBy: "scheduler",
          startedAt: new Date(Date.now() - daysAgo * DAY),
          finishedAt: new Date(Date.now() - daysAgo * DAY + 1000),
        },
      });
    await drill("PASSED", 2);
    await drill("FAILED", 1);
    await drill("PASSED", 10);
    await app.services.notifier.idle();
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await dropMariadbDatabase(good);
    await dropMariadbDatabase(bad);
    if (tls) fs.rmSync(tls.dir, { recursive: true, force: true });
  });

  const send = async (client: Client, id: number) => client(`mutation { sendWeeklyReport(channelId: ${id}) { ok status error } }`);

  it("sendWeeklyReport mails the report now: per-database table, storage growth, and an inline PNG chart by cid", { timeout: 60_000 }, async () => {
    const before = smtp.mails.length;
    const r = dataOf(await send(admin, notOptedIn)) as { sendWeeklyReport: { ok: boolean; error: string | null } };
    expect(r.sendWeeklyReport).toEqual({ ok: true, status: null, error: null });
    const mail = (await smtp.waitFor(before + 1))[before]!;
    expect(mail).toMatchObject({ secure: true, user: "reports", to: ["dba@example.org"] });
    expect(mail.subject).toBe("[SQLGuard] Weekly backup report: 1 of 2 databases need attention");
    expectReport(mail);

    const log = await app.db.prisma.notificationDelivery.findMany({ where: { channelId: notOptedIn } });
    expect(log).toMatchObject([{ event: "WEEKLY_REPORT", status: "SENT", summary: "SQLGuard weekly backup report" }]);
  });

  function expectReport(mail: ReceivedMail): void {
    const row = (db: string) => {
      const m = new RegExp(`<tr><td[^>]*>maria-report / ${db}</td>(.*?)</tr>`).exec(mail.html);
      expect(m, `a row for ${db}`).not.toBeNull();
      return [...m![1]!.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1]);
    };
    // Status, last good backup, RPO, RPO met, backups OK / finished, drills passed / run.
    const g = row(good);
    expect(g[0]).toBe("OK");
    expect(g[1]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    expect(g[2]).toBe("1 h"); // the hourly default schedule covers every server
    expect(g[3]).toMatch(/^\d+(\.\d)?%$/);
    expect(g.slice(4)).toEqual(["2 / 2", "1 / 2"]);
    const b = row(bad);
    expect(b.slice(0, 2)).toEqual(["NEVER", "never"]);
    expect(b.slice(3)).toEqual(["0%", "0 / 1", "0 / 0"]);
    expect(mail.html).toContain("2 databases: 1 OK, 1 need attention. Backups this week: 2 succeeded, 1 failed. Restore drills: 1 of 2 passed.");
    // Storage: the default local target holds both copies; all of it is this week's growth.
    const storage = /<tr><td[^>]*><span[^>]*><\/span> local \(LOCAL\)<\/td><td[^>]*>(.*?)<\/td><td[^>]*>(.*?)<\/td><\/tr>/.exec(mail.html);
    expect(storage?.slice(1)).toEqual([formatBytes(storedBytes), `+${formatBytes(storedBytes)}`]);
    expect(mail.text).toContain(`- maria-report / ${good}: OK;`);
    expect(mail.text).toContain(`- local (LOCAL): ${formatBytes(storedBytes)}; +${formatBytes(storedBytes)}`);
    expect(mail.html).toContain('<a href="https://backups.example.org/">Open SQLGuard</a>');
    // Times in the configured zone.
    expect(mail.html).toMatch(/<p>\d{4}-\d\d-\d\d \d\d:\d\d to \d{4}-\d\d-\d\d \d\d:\d\d \(Europe\/Berlin\)<\/p>/);

    // The chart: referenced by cid from the HTML, attached inline as a valid PNG.
    const cid = /<img src="cid:([^"]+)"/.exec(mail.html)?.[1];
    expect(cid).toBe("storage-chart@sqlguard");
    const part = mail.inline.get(cid!)!;
    expect(part.contentType).toBe("image/png");
    expect(part.headers["content-disposition"]).toMatch(/^inline/);
    const png = decodePng(part.body);
    expect([png.width, png.height]).toEqual([560, 200]);
    // Bars of the first series (local): this week's three most recent days hold copies, the oldest days none.
    const color = SERIES_COLORS[0]!;
    const columns = new Set<number>();
    for (let y = 0; y < png.height; y++)
      for (let x = 0; x < png.width; x++) {
        const i = y * png.width * 3 + x * 3;
        if (png.rgb[i] === color[0] && png.rgb[i + 1] === color[1] && png.rgb[i + 2] === color[2]) columns.add(x);
      }
    expect(columns.size).toBeGreaterThan(0);
    // Seven day groups across the plot (12 px margins): days 0-2 have nothing, day 3 has the first copy.
    const group = (560 - 24) / 7;
    expect(Math.min(...columns)).toBeGreaterThan(12 + 3 * group);
    expect(Math.min(...columns)).toBeLessThan(12 + 4 * group);
    expect(Math.max(...columns)).toBeGreaterThan(12 + 6 * group);
  }

  it("sendWeeklyReport: EMAIL channels only (the error names channelId); admins only", async () => {
    const r = await send(admin, slack);
    expect(r.errors?.[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT", field: "channelId" } });
    expect(r.errors?.[0]?.message).toContain("EMAIL channels only");
    const forbidden = await send(operator, optedIn);
    expect(forbidden.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const missing = await send(admin, 999_999);
    expect(missing.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });

  it("at the cron due time only the opted-in channel gets it, once per due time, whatever the instances", { timeout: 60_000 }, async () => {
    let now = new Date("2026-11-29T12:00:00Z"); // a Sunday
    const cron = new ManualCronDriver(() => now);
    app.services.weeklyReport.start(cron);
    expect(cron.nextRun("weekly-report")).toEqual(new Date("2026-11-30T07:00:00Z")); // Monday 08:00 in Berlin
    const before = smtp.mails.length;
    now = new Date("2026-11-30T07:00:01Z");
    expect(await cron.runDue()).toBe(1);
    const mail = (await smtp.waitFor(before + 1))[before]!;
    expect(mail.to).toEqual(["auditors@example.org"]);
    expectReport(mail);
    // Another instance firing for the same due time finds the channel claimed.
    expect(await app.services.weeklyReport.runDue(new Date("2026-11-30T07:00:00Z"))).toEqual([]);
    const row = await app.db.prisma.notificationChannel.findUniqueOrThrow({ where: { id: optedIn } });
    expect(row.lastWeeklyReportAt).toEqual(new Date("2026-11-30T07:00:00Z"));
    // A week later it goes out again.
    now = new Date("2026-12-07T07:00:05Z");
    expect(await cron.runDue()).toBe(1);
    await smtp.waitFor(before + 2);
    await app.services.notifier.idle();
    expect(smtp.mails.slice(before).map((m) => m.to)).toEqual([["auditors@example.org"], ["auditors@example.org"]]);
    cron.stopAll();
  });

  it("the weekly report can be turned on only for EMAIL channels", async () => {
    const r = await admin(`mutation { updateNotificationChannel(id: ${slack}, input: { weeklyReport: true }) { id } }`);
    expect(r.errors?.[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT", field: "weeklyReport" } });
  });
});

/** Decodes an 8-bit RGB, non-interlaced PNG (what the chart writes), checking signature, chunk CRCs and filters. */
function decodePng(buf: Buffer): { width: number; height: number; rgb: Buffer } {
  expect(buf.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  let offset = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  const types: string[] = [];
  while (offset < buf.length) {
    const length = buf.readUInt32BE(offset);
    const type = buf.toString("ascii", offset + 4, offset + 8);
    const data = buf.subarray(offset + 8, offset + 8 + length);
    expect(buf.readUInt32BE(offset + 8 + length), `${type} CRC`).toBe(zlib.crc32(buf.subarray(offset + 4, offset + 8 + length)));
    types.push(type);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([...data.subarray(8)]).toEqual([8, 2, 0, 0, 0]);
    } else if (type === "IDAT") idat.push(data);
    offset += 12 + length;
  }
  expect(types[0]).toBe("IHDR");
  expect(types.at(-1)).toBe("IEND");
  const raw = zlib.inflateSync(Buffer.concat(idat));
  expect(raw.length).toBe((width * 3 + 1) * height);
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * 3 + 1)]).toBe(0);
    raw.copy(rgb, y * width * 3, y * (width * 3 + 1) + 1, (y + 1) * (width * 3 + 1));
  }
  return { width, height, rgb };
}
