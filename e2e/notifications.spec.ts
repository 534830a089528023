// Settings → Notifications against real receivers: an HTTP receiver on 127.0.0.1 for Slack, and the
// smtp-server peer of the server's own tests (STARTTLS + AUTH) for e-mail. The worker's SQLGuard
// trusts that peer's self-signed certificate through NODE_EXTRA_CA_CERTS.
import fs from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { selfSignedCert, startSmtpPeer } from "../server/notifications/testing/peers.ts";
import { gqlOk, signIn, snapshot, unique } from "./fixtures/helpers.ts";
import { expect, test } from "./fixtures/server.ts";

// Made when this file loads in the worker, before the worker's server starts with it.
const cert = selfSignedCert();
test.use({ sqlguardEnv: { NODE_EXTRA_CA_CERTS: path.join(cert.dir, "cert.pem") } });
test.afterAll(() => fs.rmSync(cert.dir, { recursive: true, force: true }));

/** An HTTP receiver that records every request and answers `status` (changeable). */
async function startReceiver() {
  const received: Array<{ method: string; path: string; json: any }> = [];
  const state = { status: 200 };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        json = null;
      }
      received.push({ method: req.method!, path: req.url!, json });
      res.writeHead(state.status, { "content-type": "text/plain" }).end(state.status === 200 ? "ok" : "receiver broke");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, received, state, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

test("an admin adds a Slack channel, tests it, retries a failed delivery and routes events with a rule", async ({ page }, testInfo) => {
  const receiver = await startReceiver();
  try {
    await signIn(page);
    await page.goto("/settings/");
    await page.getByRole("tab", { name: "Notifications" }).click();

    const name = unique("slack");
    // The token part of a Slack URL is a secret: it must never come back.
    const url = `${receiver.base}/services/T000/B000/e2eSecretToken`;
    const form = page.getByRole("form", { name: "New channel" });
    await form.getByLabel("Channel name").fill(name);
    await form.getByLabel("Kind").selectOption("SLACK");
    await form.getByLabel("Webhook URL").fill(url);
    await form.getByRole("button", { name: "Add channel" }).click();
    await expect(page.getByRole("status").filter({ hasText: `Added channel ${name}.` })).toBeVisible();
    const row = page.getByTestId(`channel-${name}`);
    await expect(row).toContainText("Slack");
    await expect(row).toContainText(new URL(receiver.base).host);
    await expect(row).toContainText("none yet");
    await expect(page.getByText("e2eSecretToken")).toHaveCount(0);

    // Send test: a Block Kit payload arrives and the row says so.
    await page.getByRole("button", { name: `Send a test to ${name}` }).click();
    await expect(page.getByRole("status", { name: `Test of ${name}` })).toContainText("Test: delivered (HTTP 200)");
    expect(receiver.received).toHaveLength(1);
    const sent = receiver.received[0]!;
    expect(sent.method).toBe("POST");
    expect(sent.path).toBe("/services/T000/B000/e2eSecretToken");
    expect(typeof sent.json.text).toBe("string");
    expect(Array.isArray(sent.json.blocks)).toBe(true);
    expect(sent.json.blocks.length).toBeGreaterThan(0);
    for (const block of sent.json.blocks) expect(typeof block.type).toBe("string");
    expect(JSON.stringify(sent.json.blocks)).toMatch(/[Tt]est/);
    await expect(row.locator("[data-status]")).toHaveAttribute("data-status", "SENT");

    // Editing shows the URL as "set" (its host only) and a Change button, never the URL itself.
    await page.getByRole("button", { name: `Edit channel ${name}` }).click();
    const edit = page.getByRole("form", { name: `Edit channel ${name}` });
    await expect(edit.getByTestId("secret-url")).toContainText(`set (${new URL(receiver.base).host})`);
    await expect(edit.getByRole("button", { name: "Change Webhook URL" })).toBeVisible();
    await expect(edit.getByLabel("Kind")).toBeDisabled();
    await expect(page.getByText("e2eSecretToken")).toHaveCount(0);
    await edit.getByRole("button", { name: "Cancel" }).click();

    // Changing the URL (a rotated token) replaces it; the next test goes there.
    await page.getByRole("button", { name: `Edit channel ${name}` }).click();
    await edit.getByRole("button", { name: "Change Webhook URL" }).click();
    await edit.getByLabel("Webhook URL").fill(`${receiver.base}/services/T000/B000/rotatedToken`);
    await edit.getByRole("button", { name: "Save channel" }).click();
    await expect(page.getByRole("status").filter({ hasText: `Saved channel ${name}.` })).toBeVisible();
    await page.getByRole("button", { name: `Send a test to ${name}` }).click();
    await expect(page.getByRole("status", { name: `Test of ${name}` })).toContainText("Test: delivered (HTTP 200)");
    expect(receiver.received.map((r) => r.path)).toEqual(["/services/T000/B000/e2eSecretToken", "/services/T000/B000/rotatedToken"]);

    // A receiver answering 500: the test and the delivery log say FAILED with the error.
    receiver.state.status = 500;
    await page.getByRole("button", { name: `Send a test to ${name}` }).click();
    await expect(page.getByRole("status", { name: `Test of ${name}` })).toContainText("Test: not delivered (HTTP 500)");
    await expect(row.locator("[data-status]")).toHaveAttribute("data-status", "FAILED");
    const log = page.getByRole("region", { name: "Delivery log" });
    const newest = log.locator("tbody tr").first();
    await expect(newest).toContainText(name);
    await expect(newest).toContainText("Test message");
    await expect(newest.locator("[data-status]")).toHaveAttribute("data-status", "FAILED");
    await expect(newest).toContainText("500");
    // Time with seconds and a time zone.
    await expect(newest.locator("time")).toHaveText(/\d{1,2}:\d{2}:\d{2}.*(UTC|GMT|[A-Z]{2,5})/);

    // Fixed receiver, Retry: a new delivery, SENT, on top of the log.
    receiver.state.status = 200;
    await newest.getByRole("button", { name: /^Retry delivery/ }).click();
    await expect(log.getByRole("status", { name: "Retry" })).toContainText("delivered");
    await expect(log.locator("tbody tr").first().locator("[data-status]")).toHaveAttribute("data-status", "SENT");
    await expect(log.locator("tbody tr").first()).toContainText(name);
    expect(receiver.received.map((r) => r.path)).toHaveLength(4);
    expect(receiver.received[3]!.path).toBe("/services/T000/B000/rotatedToken");
    await expect(row.locator("[data-status]")).toHaveAttribute("data-status", "SENT");

    // A rule: bad labels are refused at the field, good ones listed in words.
    const ruleForm = page.getByRole("form", { name: "New rule" });
    await ruleForm.getByRole("group", { name: "Channels" }).getByLabel(name).check();
    await ruleForm.getByRole("group", { name: "Events" }).getByLabel("Restore drill failed").check();
    await ruleForm.getByLabel("Servers", { exact: true }).selectOption("labels");
    await ruleForm.getByLabel("Server labels").fill("production");
    await ruleForm.getByRole("button", { name: "Add rule" }).click();
    await expect(ruleForm.getByLabel("Server labels")).toHaveAccessibleDescription(/key=value/);
    await ruleForm.getByLabel("Server labels").fill("env=prod, team=db");
    await ruleForm.getByLabel("Quiet minutes").fill("15");
    await ruleForm.getByRole("button", { name: "Add rule" }).click();
    await expect(page.getByRole("status").filter({ hasText: "Added a rule." })).toBeVisible();
    const rules = page.getByRole("region", { name: "Rules" });
    const rule = rules.locator("tbody tr").filter({ hasText: name });
    await expect(rule).toContainText("Backup failed, Recovered, Backup overdue, Restore drill failed");
    await expect(rule).toContainText("labelled env=prod, team=db");
    await expect(rule).toContainText("every backup");
    await expect(rule).toContainText("15 min");
    const api = await gqlOk<{ notificationRules: Array<{ events: string[]; quietMinutes: number; serverSelector: { matchLabels: unknown[] } }> }>(
      page.request,
      "{ notificationRules { events quietMinutes serverSelector { matchLabels { key value } } } }",
    );
    expect(api.notificationRules).toContainEqual({
      events: ["FAILURE", "RECOVERY", "OVERDUE", "DRILL_FAILED"],
      quietMinutes: 15,
      serverSelector: {
        matchLabels: [
          { key: "env", value: "prod" },
          { key: "team", value: "db" },
        ],
      },
    });
    await snapshot(page, testInfo, "settings-notifications");

    // Editing the rule: every failure is sent from now on, for every server.
    await rule.getByRole("button", { name: /^Edit rule/ }).click();
    const ruleEdit = page.getByRole("form", { name: "Edit rule" });
    await expect(ruleEdit.getByLabel("Server labels")).toHaveValue("env=prod, team=db");
    await ruleEdit.getByLabel("Servers", { exact: true }).selectOption("all");
    await ruleEdit.getByLabel("Quiet minutes").fill("0");
    await ruleEdit.getByRole("button", { name: "Save rule" }).click();
    await expect(page.getByRole("status").filter({ hasText: "Saved the rule." })).toBeVisible();
    await expect(rule).toContainText("every server");
    await expect(rule).toContainText("off");

    // Delete with confirmation: the channel and its rule go.
    await page.getByRole("button", { name: `Delete channel ${name}` }).click();
    await page
      .getByRole("dialog", { name: `Delete channel ${name}?` })
      .getByRole("button", { name: "Delete channel" })
      .click();
    await expect(row).toHaveCount(0);
    await expect(rule).toHaveCount(0);
  } finally {
    await receiver.close();
  }
});

test("an e-mail channel made in the form reaches a real SMTP server over STARTTLS", async ({ page }, testInfo) => {
  const smtp = await startSmtpPeer({ key: cert.key, cert: cert.cert, user: "mailer", pass: "smtp-pass-e2e" });
  try {
    await signIn(page);
    await page.goto("/settings/");
    await page.getByRole("tab", { name: "Notifications" }).click();
    const name = unique("mail");
    const form = page.getByRole("form", { name: "New channel" });
    await form.getByLabel("Channel name").fill(name);
    await form.getByLabel("Kind").selectOption("EMAIL");
    // The API's problems land at their fields (smtp.host, smtp.from, smtp.to).
    await form.getByLabel("From", { exact: true }).fill("not-an-address");
    await form.getByRole("button", { name: "Add channel" }).click();
    await expect(form.getByLabel("SMTP host")).toHaveAttribute("aria-invalid", "true");
    await expect(form.getByLabel("SMTP host")).toHaveAccessibleDescription(/must not be empty/);
    await expect(form.getByLabel("From", { exact: true })).toHaveAccessibleDescription(/must be an e-mail address/);
    await expect(form.getByLabel("To", { exact: true })).toHaveAccessibleDescription(/needs at least one address/);
    await expect(form.getByLabel("Channel name")).not.toHaveAttribute("aria-invalid", "true");

    await form.getByLabel("SMTP host").fill("127.0.0.1");
    await form.getByLabel("SMTP port").fill(String(smtp.port));
    await form.getByLabel("Security").selectOption("starttls");
    await form.getByLabel("SMTP username").fill("mailer");
    await form.getByLabel("SMTP password").fill("smtp-pass-e2e");
    await form.getByLabel("From", { exact: true }).fill("sqlguard@example.com");
    await form.getByLabel("To", { exact: true }).fill("dba@example.com, oncall@example.com");
    await form.getByLabel("Send the weekly report here").check();
    await form.getByRole("button", { name: "Add channel" }).click();
    const row = page.getByTestId(`channel-${name}`);
    await expect(row).toContainText("E-mail");
    await expect(row).toContainText("weekly report");
    await expect(row).toContainText(`dba@example.com, oncall@example.com via 127.0.0.1:${smtp.port}`);

    await page.getByRole("button", { name: `Send a test to ${name}` }).click();
    await expect(page.getByRole("status", { name: `Test of ${name}` })).toContainText("Test: delivered.");
    const [mail] = await smtp.waitFor(1);
    expect(mail!.subject).toBe("[SQLGuard] Test notification from SQLGuard");
    expect(mail!.secure).toBe(true);
    expect(mail!.user).toBe("mailer");
    expect(mail!.from).toBe("sqlguard@example.com");
    expect(mail!.to).toEqual(["dba@example.com", "oncall@example.com"]);

    await page.getByRole("button", { name: `Send the weekly report to ${name}` }).click();
    await expect(page.getByRole("status", { name: `Test of ${name}` })).toContainText("Weekly report: delivered.");
    const mails = await smtp.waitFor(2);
    expect(mails[1]!.subject).toMatch(/^\[SQLGuard\] Weekly backup report/);

    // The password is write-only: "set" with a Change button, the value nowhere on the page.
    await page.getByRole("button", { name: `Edit channel ${name}` }).click();
    const edit = page.getByRole("form", { name: `Edit channel ${name}` });
    await expect(edit.getByTestId("secret-smtp.password")).toContainText("set");
    await expect(edit.getByLabel("SMTP host")).toHaveValue("127.0.0.1");
    expect(await page.content()).not.toContain("smtp-pass-e2e");
    await snapshot(page, testInfo, "settings-notifications-email");

    // Saving without touching the password keeps it: the next test still signs in.
    await edit.getByLabel("To", { exact: true }).fill("dba@example.com");
    await edit.getByRole("button", { name: "Save channel" }).click();
    await expect(page.getByRole("status").filter({ hasText: `Saved channel ${name}.` })).toBeVisible();
    await expect(row).toContainText(`dba@example.com via 127.0.0.1:${smtp.port}`);
    await page.getByRole("button", { name: `Send a test to ${name}` }).click();
    await expect(page.getByRole("status", { name: `Test of ${name}` })).toContainText("Test: delivered.");
    const third = (await smtp.waitFor(3))[2]!;
    expect(third.to).toEqual(["dba@example.com"]);
    expect(third.user).toBe("mailer");
    expect(smtp.authFailures).toEqual([]);
  } finally {
    await smtp.close();
  }
});

test("the Telegram form names the fields the API refuses", async ({ page }) => {
  await signIn(page);
  await page.goto("/settings/");
  await page.getByRole("tab", { name: "Notifications" }).click();
  const form = page.getByRole("form", { name: "New channel" });
  await form.getByLabel("Channel name").fill(unique("tg"));
  await form.getByLabel("Kind").selectOption("TELEGRAM");
  await expect(form.getByLabel("Webhook URL")).toHaveCount(0);
  await form.getByLabel("Bot token").fill("not-a-token");
  await form.getByLabel("Chat ID").fill("not a chat");
  await form.getByRole("button", { name: "Add channel" }).click();
  await expect(form.getByLabel("Bot token")).toHaveAccessibleDescription(/must be a bot token/);
  await expect(form.getByLabel("Chat ID")).toHaveAccessibleDescription(/must be a chat id/);
  await expect(form.getByRole("alert")).toContainText("Check the highlighted fields");
});

test("operators and viewers do not see the Notifications tab", async ({ page, browser, baseURL }) => {
  await signIn(page);
  for (const role of ["VIEWER", "OPERATOR"]) {
    const username = unique(role.toLowerCase());
    const password = "role-password-1";
    await gqlOk(page.request, "mutation($input: UserInput!) { createUser(input: $input) { id } }", { input: { username, password, role } });
    const context = await browser.newContext({ baseURL });
    try {
      const other = await context.newPage();
      await signIn(other, username, password);
      await other.goto("/settings/");
      await expect(other.getByRole("tab", { name: "API tokens" })).toBeVisible();
      await expect(other.getByRole("tab", { name: "Notifications" })).toHaveCount(0);
    } finally {
      await context.close();
    }
  }
  await page.goto("/settings/");
  await expect(page.getByRole("tab", { name: "Notifications" })).toBeVisible();
});
