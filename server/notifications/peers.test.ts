import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, dataOf, runBackup, waitForBackup } from "../testing/backup-helpers.ts";
import { createMariadbSample, dropMariadbDatabase, uniqueName } from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";
import { type ReceivedMail, type ReceivedRequest, selfSignedCert, startHttpReceiver, startSmtpPeer } from "./testing/peers.ts";

type Client = Awaited<ReturnType<Awaited<ReturnType<typeof createTestApp>>["as"]>>;

const PUBLIC_URL = "https://backups.example.com";
const SMTP_USER = "sqlguard-mailer";
const SMTP_PASS = "smtp-pass-never-returned-7Hq";
const BOT_TOKEN = "7012345678:AAFakeTelegramTokenNeverReturned_x9";
const NTFY_TOKEN = "tk_ntfytokenneverreturned42";
const SLACK_PATH = "/services/T00SLACK/B00HOOK/slackPathSecretNeverReturned";
const TEAMS_PATH = "/workflows/a1b2c3/triggers/manual/paths/invoke?sig=teamsSigNeverReturned";
const DISCORD_PATH = "/api/webhooks/112233/discordTokenNeverReturned";
const SECRETS = [SMTP_PASS, BOT_TOKEN, NTFY_TOKEN, "slackPathSecretNeverReturned", "teamsSigNeverReturned", "discordTokenNeverReturned"];

const CHANNEL_FIELDS = `id name kind enabled urlSet urlHost secretSet weeklyReport lastWeeklyReportAt
  smtp { host port secure username passwordSet from to } telegram { chatId botTokenSet } rules { id events quietMinutes }`;

/**
 * The channels against real local peers: a real SMTP server (smtp-server, STARTTLS and AUTH
 * required) and an HTTP receiver standing in for Slack, Teams, Discord, Telegram and ntfy; each
 * payload is checked against the service's documented shape, each message for what people need:
 * server, database, since when, the error, the link to the backup (SQLGUARD_PUBLIC_URL).
 */
describe("notification channels against real peers", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Client;
  let operator: Client;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let smtps: Awaited<ReturnType<typeof startSmtpPeer>>;
  let http: Awaited<ReturnType<typeof startHttpReceiver>>;
  let tls: ReturnType<typeof selfSignedCert>;
  let serverId: number;
  const channels: Record<string, number> = {};
  const database = uniqueName("notifyserver_peers");

  beforeAll(async () => {
    tls = selfSignedCert();
    smtp = await startSmtpPeer({ key: tls.key, cert: tls.cert, user: SMTP_USER, pass: SMTP_PASS });
    smtps = await startSmtpPeer({ key: tls.key, cert: tls.cert, user: SMTP_USER, pass: SMTP_PASS, secure: true });
    http = await startHttpReceiver();
    app = await createTestApp({
      limits: { maxAttempts: 1 },
      publicUrl: PUBLIC_URL,
      notifications: { delivery: { baseDelayMs: 20, maxAttempts: 2 }, smtpTls: { ca: tls.cert } },
    });
    admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    serverId = await createServer(admin, { name: "maria-peers", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
  });

  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await smtps?.close();
    await http?.close();
    await dropMariadbDatabase(database);
    if (tls) fs.rmSync(tls.dir, { recursive: true, force: true });
  });

  async function createChannel(input: Record<string, unknown>): Promise<number> {
    const r = await admin(`mutation($input: CreateNotificationChannelInput!) { createNotificationChannel(input: $input) { id } }`, { input });
    const id = Number((dataOf(r) as { createNotificationChannel: { id: number } }).createNotificationChannel.id);
    dataOf(
      await admin(`mutation($input: CreateNotificationRuleInput!) { createNotificationRule(input: $input) { id } }`, {
        input: { channelId: id, events: ["FAILURE", "RECOVERY"], serverSelector: { names: ["maria-peers"] }, quietMinutes: 60 },
      }),
    );
    return id;
  }

  async function backup(): Promise<{ id: number; status: string; error: string | null }> {
    const [created] = await runBackup(operator, { serverId, databases: [database] });
    return waitForBackup(operator, created!.id);
  }

  it("creates one channel of each kind; GraphQL returns no secret, only hosts and set flags", async () => {
    channels.email = await createChannel({
      name: "dba-mail",
      kind: "EMAIL",
      smtp: {
        host: "127.0.0.1",
        port: smtp.port,
        secure: false,
        username: SMTP_USER,
        password: SMTP_PASS,
        from: "sqlguard@example.com",
        to: ["dba@example.com", "oncall@example.com"],
      },
    });
    channels.slack = await createChannel({ name: "slack", kind: "SLACK", url: `${http.base}/slack${SLACK_PATH}` });
    channels.teams = await createChannel({ name: "teams", kind: "TEAMS", url: `${http.base}/teams${TEAMS_PATH}` });
    channels.discord = await createChannel({ name: "discord", kind: "DISCORD", url: `${http.base}/discord${DISCORD_PATH}` });
    channels.telegram = await createChannel({
      name: "telegram",
      kind: "TELEGRAM",
      url: http.base,
      telegram: { botToken: BOT_TOKEN, chatId: "-1001234567890" },
    });
    channels.ntfy = await createChannel({ name: "ntfy", kind: "NTFY", url: `${http.base}/sqlguard-alerts`, secret: NTFY_TOKEN });

    const listed = dataOf(await admin(`{ notificationChannels { ${CHANNEL_FIELDS} } }`)) as { notificationChannels: Array<Record<string, any>> };
    const text = JSON.stringify(listed);
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    const byName = Object.fromEntries(listed.notificationChannels.map((c) => [c.name, c]));
    expect(byName["dba-mail"]!.smtp).toEqual({
      host: "127.0.0.1",
      port: smtp.port,
      secure: false,
      username: SMTP_USER,
      passwordSet: true,
      from: "sqlguard@example.com",
      to: ["dba@example.com", "oncall@example.com"],
    });
    expect(byName.slack).toMatchObject({ urlSet: true, urlHost: new URL(http.base).host, secretSet: false });
    expect(byName.telegram!.telegram).toEqual({ chatId: "-1001234567890", botTokenSet: true });
    expect(byName.ntfy).toMatchObject({ urlSet: true, secretSet: true });
    // No field of the type can carry a secret: the schema has none that would.
    const type = dataOf(await admin(`{ __type(name: "NotificationChannel") { fields { name } } }`)) as { __type: { fields: Array<{ name: string }> } };
    expect(type.__type.fields.map((f) => f.name)).not.toContain("url");
    expect(type.__type.fields.map((f) => f.name)).not.toContain("secret");
    // The audit log and the server log carry none either.
    const audit = JSON.stringify(await app.db.prisma.auditLog.findMany({ where: { entityType: "NotificationChannel" } }));
    for (const secret of SECRETS) {
      expect(audit).not.toContain(secret);
      expect(app.logLines.join("\n")).not.toContain(secret);
    }
    // The database holds them sealed only.
    const rows = JSON.stringify(await app.db.prisma.notificationChannel.findMany());
    for (const secret of SECRETS) expect(rows).not.toContain(secret);
  });

  it("a failing database: one FAILURE mail through STARTTLS and AUTH, and one documented-shape payload per chat service", { timeout: 90_000 }, async () => {
    const failed = await backup(); // the database does not exist: the real dump fails
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toMatch(/does not exist|Unknown database/);
    const link = `${PUBLIC_URL}/backups/detail/?id=${failed.id}`;

    const [mail] = await smtp.waitFor(1);
    expectMail(mail!, { database, subject: `[SQLGuard] Backup of ${database} on maria-peers failed`, link, error: failed.error! });
    expect(mail!.html).toMatch(/<th[^>]*>Since<\/th><td[^>]*>\d{4}-\d\d-\d\dT/);

    expectSlack((await http.at(`/slack${SLACK_PATH}`, 1))[0]!, { title: `Backup of ${database} on maria-peers failed`, link, error: failed.error! });
    expectTeams((await http.at(`/teams${new URL(`http://x${TEAMS_PATH}`).pathname}`, 1))[0]!, { link, error: failed.error! });
    expectDiscord((await http.at(`/discord${DISCORD_PATH}`, 1))[0]!, { link, error: failed.error!, color: 0xd93025 });
    expectTelegram((await http.at(`/bot${BOT_TOKEN}/sendMessage`, 1))[0]!, { link, error: failed.error! });
    expectNtfy((await http.at("/", 1))[0]!, { link, error: failed.error!, priority: 4 });

    // A second failure inside the quiet period: nothing more to anyone, only SUPPRESSED rows in the log.
    expect((await backup()).status).toBe("FAILED");
    await app.services.notifier.idle();
    expect(smtp.mails).toHaveLength(1);
    expect(http.received).toHaveLength(5);
    const held = await app.db.prisma.notificationDelivery.count({ where: { status: "SUPPRESSED", event: "FAILURE" } });
    expect(held).toBe(6);
  });

  it("the database backs up again: one RECOVERY mail and one recovery payload per chat service", { timeout: 90_000 }, async () => {
    await createMariadbSample(database, { rows: 5 });
    const ok = await backup();
    expect(ok.status).toBe("SUCCEEDED");
    const link = `${PUBLIC_URL}/backups/detail/?id=${ok.id}`;
    const [, mail] = await smtp.waitFor(2);
    expect(mail!.subject).toBe(`[SQLGuard] Backup of ${database} on maria-peers recovered`);
    expect(mail!.text).toContain("succeeded again after 2 failures");
    expect(mail!.text).toMatch(/Failing since: \d{4}-\d\d-\d\dT/);
    expect(mail!.text).toContain(`Open in SQLGuard: ${link}`);
    expect(mail!.html).toContain(`href="${link}"`);
    const slack = (await http.at(`/slack${SLACK_PATH}`, 2))[1]!;
    expect(slack.json.text).toBe(`Backup of ${database} on maria-peers recovered`);
    expect(JSON.stringify(slack.json.blocks)).toContain("Failing since");
    const discord = (await http.at(`/discord${DISCORD_PATH}`, 2))[1]!;
    expect(discord.json.embeds[0]).toMatchObject({ color: 0x188038, url: link });
    const tg = (await http.at(`/bot${BOT_TOKEN}/sendMessage`, 2))[1]!;
    expect(tg.json.text).toContain("recovered");
    const ntfy = (await http.at("/", 2))[1]!;
    expect(ntfy.json).toMatchObject({ priority: 3, click: link });
    expect(ntfy.json.tags).toContain("white_check_mark");
    const teams = http.received.filter((r) => r.path.startsWith("/teams"));
    expect(teams).toHaveLength(2);
    expect(teams[1]!.json.attachments[0].content.body[0]).toMatchObject({ text: `Backup of ${database} on maria-peers recovered`, color: "Good" });

    // A further success is no event for these rules (FAILURE and RECOVERY only).
    expect((await backup()).status).toBe("SUCCEEDED");
    await app.services.notifier.idle();
    expect(smtp.mails).toHaveLength(2);
    expect(http.received).toHaveLength(10);
  });

  it("Send test per channel: a TEST message reaches each peer; implicit TLS (port 465 style) works; a wrong SMTP password is a definite failure", {
    timeout: 60_000,
  }, async () => {
    const test = async (id: number) =>
      // The id inline: an Int today, an ID once ids are IDs; a literal fits both.
      (
        dataOf(await admin(`mutation { testNotificationChannel(id: ${id}) { ok status error } }`)) as {
          testNotificationChannel: { ok: boolean; status: number | null; error: string | null };
        }
      ).testNotificationChannel;
    for (const [kind, id] of Object.entries(channels)) {
      const r = await test(id);
      expect({ kind, ...r }).toMatchObject({ kind, ok: true, error: null });
    }
    const mails = await smtp.waitFor(3);
    expect(mails[2]!.subject).toBe("[SQLGuard] Test notification from SQLGuard");
    expect(mails[2]!.secure).toBe(true);
    expect(
      http.received.slice(10).map((r) => r.json?.text ?? r.json?.title ?? r.json?.embeds?.[0]?.title ?? r.json?.attachments?.[0]?.content?.body?.[0]?.text),
    ).toEqual(Array(5).fill(expect.stringContaining("Test notification from SQLGuard")));

    const implicit = Number(
      (
        dataOf(
          await admin(`mutation($input: CreateNotificationChannelInput!) { createNotificationChannel(input: $input) { id } }`, {
            input: {
              name: "mail-465",
              kind: "EMAIL",
              smtp: {
                host: "127.0.0.1",
                port: smtps.port,
                secure: true,
                username: SMTP_USER,
                password: SMTP_PASS,
                from: "sqlguard@example.com",
                to: ["dba@example.com"],
              },
            },
          }),
        ) as { createNotificationChannel: { id: number } }
      ).createNotificationChannel.id,
    );
    expect(await test(implicit)).toMatchObject({ ok: true });
    const [viaTls] = await smtps.waitFor(1);
    expect(viaTls).toMatchObject({ secure: true, user: SMTP_USER, to: ["dba@example.com"] });

    dataOf(
      await admin(`mutation($input: UpdateNotificationChannelInput!) { updateNotificationChannel(id: ${implicit}, input: $input) { id } }`, {
        input: { smtp: { password: "a-wrong-password" } },
      }),
    );
    const refused = await test(implicit);
    expect(refused.ok).toBe(false);
    expect(refused.error).toMatch(/Invalid username or password|auth/i);
    expect(smtps.authFailures).toEqual([SMTP_USER]);
    const log = dataOf(await admin(`{ notificationDeliveries(channelId: ${implicit}) { nodes { event status attempts lastError } } }`)) as {
      notificationDeliveries: { nodes: Array<{ event: string; status: string; attempts: number; lastError: string | null }> };
    };
    expect(log.notificationDeliveries.nodes[0]).toMatchObject({ event: "TEST", status: "FAILED", attempts: 1 });
    expect(JSON.stringify(log)).not.toContain("a-wrong-password");
  });
});

/** A failure mail: both parts name server, database, since, the error, and link to the backup. */
function expectMail(mail: ReceivedMail, want: { database: string; subject: string; link: string; error: string }): void {
  expect(mail.secure).toBe(true); // STARTTLS happened: the peer refuses AUTH before it
  expect(mail.user).toBe(SMTP_USER);
  expect(mail.from).toBe("sqlguard@example.com");
  expect(mail.to).toEqual(["dba@example.com", "oncall@example.com"]);
  expect(mail.subject).toBe(want.subject);
  for (const line of ["Server: maria-peers", `Database: ${want.database}`, `Error: ${want.error}`, `Open in SQLGuard: ${want.link}`])
    expect(mail.text).toContain(line);
  expect(mail.text).toMatch(/Since: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
  expect(mail.html).toContain(`href="${want.link}"`);
  expect(mail.html).toContain(escapeHtml(want.error));
}

/** Slack Block Kit (api.slack.com/reference/block-kit/blocks): fallback text, header <= 150, section fields <= 10 of <= 2000, a button with a URL. */
function expectSlack(r: ReceivedRequest, want: { title: string; link: string; error: string }): void {
  expect(r.method).toBe("POST");
  expect(r.headers["content-type"]).toBe("application/json");
  const body = r.json;
  expect(Object.keys(body).sort()).toEqual(["blocks", "text"]);
  expect(body.text).toBe(want.title);
  expect(body.blocks.length).toBeLessThanOrEqual(50);
  for (const block of body.blocks) expect(["header", "section", "actions", "context", "divider"]).toContain(block.type);
  const header = body.blocks.find((b: any) => b.type === "header");
  expect(header.text).toMatchObject({ type: "plain_text", text: want.title });
  expect(header.text.text.length).toBeLessThanOrEqual(150);
  const fields = body.blocks.filter((b: any) => b.type === "section" && b.fields).flatMap((b: any) => b.fields);
  expect(fields.length).toBeGreaterThan(0);
  for (const f of fields) {
    expect(f.type).toBe("mrkdwn");
    expect(f.text.length).toBeLessThanOrEqual(2000);
  }
  const texts = fields.map((f: any) => f.text).join("\n");
  for (const label of ["*Server*\nmaria-peers", "*Database*\n", "*Since*\n", `*Error*\n${escapeHtml(want.error).replace(/&quot;/g, '"')}`])
    expect(texts).toContain(label);
  const actions = body.blocks.find((b: any) => b.type === "actions");
  expect(actions.elements[0]).toMatchObject({ type: "button", text: { type: "plain_text" }, url: want.link });
}

/** Teams Workflows webhook: a message with one Adaptive Card attachment (adaptivecards.io schema). */
function expectTeams(r: ReceivedRequest, want: { link: string; error: string }): void {
  expect(r.method).toBe("POST");
  expect(r.headers["content-type"]).toBe("application/json");
  expect(r.json.type).toBe("message");
  expect(r.json.attachments).toHaveLength(1);
  const [att] = r.json.attachments;
  expect(att.contentType).toBe("application/vnd.microsoft.card.adaptive");
  const card = att.content;
  expect(card).toMatchObject({ type: "AdaptiveCard", $schema: "http://adaptivecards.io/schemas/adaptive-card.json" });
  expect(card.version).toMatch(/^1\.[0-5]$/);
  for (const el of card.body) expect(["TextBlock", "FactSet", "ColumnSet", "Container"]).toContain(el.type);
  const facts = card.body.find((b: any) => b.type === "FactSet").facts as Array<{ title: string; value: string }>;
  const byTitle = Object.fromEntries(facts.map((f) => [f.title, f.value]));
  expect(byTitle.Server).toBe("maria-peers");
  expect(byTitle.Database).toMatch(/^sqlg_notifyserver_peers_/);
  expect(byTitle.Since).toMatch(/^\d{4}-\d\d-\d\dT/);
  expect(byTitle.Error).toBe(want.error);
  expect(card.actions).toEqual([{ type: "Action.OpenUrl", title: "Open in SQLGuard", url: want.link }]);
}

/** Discord execute-webhook (discord.com/developers/docs/resources/webhook): content or embeds; embed limits. */
function expectDiscord(r: ReceivedRequest, want: { link: string; error: string; color: number }): void {
  expect(r.headers["content-type"]).toBe("application/json");
  const body = r.json;
  expect(body.content !== undefined || Array.isArray(body.embeds)).toBe(true);
  expect(body.embeds.length).toBeLessThanOrEqual(10);
  const [embed] = body.embeds;
  expect(embed.title.length).toBeLessThanOrEqual(256);
  expect(embed.description.length).toBeLessThanOrEqual(4096);
  expect(embed.fields.length).toBeLessThanOrEqual(25);
  let total = embed.title.length + embed.description.length;
  for (const f of embed.fields) {
    expect(f.name.length).toBeLessThanOrEqual(256);
    expect(f.value.length).toBeLessThanOrEqual(1024);
    expect(f.value.length).toBeGreaterThan(0);
    total += f.name.length + f.value.length;
  }
  expect(total).toBeLessThanOrEqual(6000);
  expect(Number.isInteger(embed.color)).toBe(true);
  expect(embed.color).toBe(want.color);
  expect(new Date(embed.timestamp).toISOString()).toBe(embed.timestamp);
  expect(embed.url).toBe(want.link);
  const byName = Object.fromEntries(embed.fields.map((f: any) => [f.name, f.value]));
  expect(byName).toMatchObject({ Server: "maria-peers", Error: want.error });
  expect(byName.Since).toMatch(/^\d{4}-/);
  expect(body.allowed_mentions).toEqual({ parse: [] });
}

/** Telegram Bot API sendMessage: POST /bot<token>/sendMessage with chat_id, text (<= 4096) and parse_mode HTML (supported tags only). */
function expectTelegram(r: ReceivedRequest, want: { link: string; error: string }): void {
  expect(r.method).toBe("POST");
  expect(r.headers["content-type"]).toBe("application/json");
  expect(r.json).toMatchObject({ chat_id: "-1001234567890", parse_mode: "HTML" });
  const text: string = r.json.text;
  expect(text.length).toBeLessThanOrEqual(4096);
  for (const tag of text.match(/<\/?([a-z-]+)[^>]*>/g) ?? [])
    expect(["b", "strong", "i", "em", "u", "s", "a", "code", "pre"]).toContain(/<\/?([a-z-]+)/.exec(tag)![1]);
  expect(text).toContain("<b>Server:</b> maria-peers");
  expect(text).toMatch(/<b>Since:<\/b> \d{4}-/);
  expect(text).toContain(`<b>Error:</b> ${escapeHtml(want.error).replace(/&quot;/g, '"')}`);
  expect(text).toContain(`<a href="${want.link}">`);
}

/** ntfy JSON publishing (docs.ntfy.sh/publish/#publish-as-json): POST to the server root, topic in the body, Bearer token. */
function expectNtfy(r: ReceivedRequest, want: { link: string; error: string; priority: number }): void {
  expect(r.method).toBe("POST");
  expect(r.path).toBe("/");
  expect(r.headers.authorization).toBe(`Bearer ${NTFY_TOKEN}`);
  const body = r.json;
  expect(body.topic).toBe("sqlguard-alerts");
  expect(typeof body.title).toBe("string");
  expect(body.priority).toBe(want.priority);
  expect(body.priority >= 1 && body.priority <= 5).toBe(true);
  expect(Array.isArray(body.tags) && body.tags.every((t: unknown) => typeof t === "string")).toBe(true);
  expect(body.click).toBe(want.link);
  for (const line of ["Server: maria-peers", `Error: ${want.error}`]) expect(body.message).toContain(line);
  expect(body.message).toMatch(/Since: \d{4}-/);
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
