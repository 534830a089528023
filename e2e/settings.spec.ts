import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test } from "./fixtures/server.ts";
import { gql, signIn, snapshot, unique } from "./fixtures/helpers.ts";

test("creates an API token shown once, uses it, revokes it, and finds both in the audit log", async ({ page, playwright, baseURL }, testInfo) => {
  await signIn(page);
  await page.goto("/settings/");
  await expect(page.getByRole("tab", { name: "API tokens" })).toHaveAttribute("aria-selected", "true");

  const form = page.getByRole("region", { name: "Create a token" });
  await form.getByRole("button", { name: "Create token" }).click();
  await expect(form.getByText(/Enter a name/)).toBeVisible();

  const name = unique("ci");
  await form.getByLabel("Token name").fill(name);
  await form.getByLabel("Token role").selectOption("OPERATOR");
  await form.getByRole("button", { name: "Create token" }).click();
  const shown = page.getByTestId("new-token");
  await expect(shown).toHaveText(/\S{20,}/);
  const token = (await shown.textContent())!.trim();
  const row = page.getByTestId(`token-${name}`);
  await expect(row).toContainText("OPERATOR");
  await expect(row).toContainText("active");
  await snapshot(page, testInfo, "settings-tokens");

  // Shown once: gone after "Done" and never in the list.
  await page.getByRole("button", { name: "Done" }).click();
  await expect(page.getByText(token)).toHaveCount(0);

  const api = await playwright.request.newContext({ baseURL });
  try {
    const me = await gql<{ me: { username: string } }>(api, "{ me { username } }", {}, { authorization: `Bearer ${token}` });
    expect(me.data?.me.username).toBe("admin");

    await page.getByRole("button", { name: `Revoke ${name}` }).click();
    await page
      .getByRole("dialog", { name: `Revoke token ${name}?` })
      .getByRole("button", { name: "Revoke token" })
      .click();
    await expect(row).toContainText("revoked");
    await expect(page.getByRole("button", { name: `Revoke ${name}` })).toHaveCount(0);

    const refused = await gql(api, "{ me { username } }", {}, { authorization: `Bearer ${token}` });
    expect(refused.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  } finally {
    await api.dispose();
  }

  await page.getByRole("tab", { name: "API tokens" }).focus();
  for (let i = 0; i < 3; i++) await page.keyboard.press("ArrowRight");
  await expect(page.getByRole("tab", { name: "Audit log" })).toHaveAttribute("aria-selected", "true");
  await expect(page.getByTestId("audit-row").first()).toBeVisible();
  await expect(page.getByRole("region", { name: "Audit log" })).toContainText(/token/i);
  // The entity is named, not only numbered.
  await expect(page.getByTestId("audit-entity").filter({ hasText: name }).first()).toContainText(`ApiToken`);
  await snapshot(page, testInfo, "settings-audit");
});

test("adds a signed webhook channel and sends it a test event", async ({ page }, testInfo) => {
  const received: Array<{ method?: string; body: string; signature?: string | string[] }> = [];
  const receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      received.push({ method: req.method, body, signature: req.headers["x-sqlguard-signature"] });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  try {
    await signIn(page);
    await page.goto("/settings/");
    // Webhooks are notification channels of kind WEBHOOK now.
    await expect(page.getByRole("tab", { name: "Webhooks" })).toHaveCount(0);
    await page.getByRole("tab", { name: "Notifications" }).click();
    const form = page.getByRole("form", { name: "New channel" });
    await form.getByLabel("Kind").selectOption("WEBHOOK");
    await form.getByRole("button", { name: "Add channel" }).click();
    await expect(form.getByText("Enter a name.")).toBeVisible();
    await expect(form.getByLabel("Receiver URL")).toHaveAccessibleDescription(/Enter the URL\./);
    const name = unique("ops");
    await form.getByLabel("Channel name").fill(name);
    await form.getByLabel("Receiver URL").fill(url);
    await form.getByLabel("Signing secret").fill("e2e-secret");
    await form.getByRole("button", { name: "Add channel" }).click();
    const row = page.getByTestId(`channel-${name}`);
    await expect(row).toContainText("Webhook (signed JSON)");
    await expect(row).toContainText(new URL(url).host);
    await expect(row).not.toContainText("/hook");

    await page.getByRole("button", { name: `Send a test to ${name}` }).click();
    await expect(page.getByRole("status", { name: `Test of ${name}` })).toContainText("Test: delivered (HTTP 204)");
    expect(received.length).toBeGreaterThan(0);
    expect(received[0]!.method).toBe("POST");
    expect(received[0]!.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    await expect(row.locator("[data-status]")).toHaveAttribute("data-status", "SENT");
    await snapshot(page, testInfo, "settings-webhook-channel");

    await page.getByRole("button", { name: `Delete channel ${name}` }).click();
    await page
      .getByRole("dialog", { name: `Delete channel ${name}?` })
      .getByRole("button", { name: "Delete channel" })
      .click();
    await expect(row).toHaveCount(0);
  } finally {
    await new Promise((resolve) => receiver.close(resolve));
  }
});
