// After repeated wrong passwords the login form says how long to wait (the server's own lock, in
// server/auth/login-throttle.test.ts, also refuses the right password meanwhile), and an expiring API token
// shows when it expires. Uses a user of its own, so the worker's admin is never locked out.
import { expect, test } from "./fixtures/server.ts";
import { gqlOk, signIn, snapshot, unique } from "./fixtures/helpers.ts";

test("the login form tells a throttled user how long to wait", async ({ page }, testInfo) => {
  await signIn(page);
  const username = unique("throttled");
  await gqlOk(page.request, `mutation($u: String!) { createUser(input: { username: $u, password: "throttled-password", role: VIEWER }) { id } }`, {
    u: username,
  });
  await page.context().clearCookies();

  await page.goto("/login/");
  const alert = page.getByRole("main").getByRole("alert");
  await page.getByLabel("Username").fill(username);
  // Five free failures; from the sixth on, a lock that doubles: submit until the form shows the wait.
  let attempts = 0;
  for (; attempts < 15; attempts++) {
    await page.getByLabel("Password").fill(`wrong-${attempts}`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(alert).toContainText(/wrong username or password|Too many failed sign-ins/);
    if ((await alert.textContent())?.includes("Too many")) break;
  }
  expect(attempts).toBeGreaterThanOrEqual(6);
  await expect(alert).toContainText(/Too many failed sign-ins\. Try again in \d+ seconds?\./);
  await snapshot(page, testInfo, "login-throttled");
  await expect(page).toHaveURL(/\/login\/$/);
  expect((await page.context().cookies()).map((c) => c.name)).not.toContain("sqlguard_session");
});

test("the tokens panel creates a token that expires and shows when", async ({ page }, testInfo) => {
  await signIn(page);
  await page.goto("/settings/");
  const name = unique("expiring");
  await page.getByLabel("Token name").fill(name);
  await page.getByLabel("Expires in days").fill("30");
  await page.getByRole("button", { name: "Create token" }).click();
  await expect(page.getByTestId("new-token")).toContainText("sqlg_");
  const row = page.getByTestId(`token-${name}`);
  await expect(row).toContainText("active");
  const expected = new Date(Date.now() + 30 * 86_400_000).getFullYear();
  await expect(row).toContainText(String(expected));
  await expect(row).not.toContainText("never");
  await snapshot(page, testInfo, "token-expiring");
});
