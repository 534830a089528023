import { expect, test } from "./fixtures/server.ts";
import { gql, signIn, snapshot, unique } from "./fixtures/helpers.ts";

test("an admin adds a viewer, who sees everything but cannot edit", async ({ page, browser, baseURL }, testInfo) => {
  await signIn(page);
  await page.goto("/settings/");
  await page.getByRole("tab", { name: "Users and roles" }).click();
  const username = unique("viewer");
  const password = "viewer-password-1";
  const form = page.getByRole("region", { name: "Add a user" });
  await form.getByLabel("Password").fill("short");
  await form.getByRole("button", { name: "Add user" }).click();
  await expect(form.getByText("Enter a username.")).toBeVisible();
  await expect(form.getByText("Use at least 8 characters.")).toBeVisible();
  await form.getByLabel("Username").fill(username);
  await form.getByLabel("Password").fill(password);
  await form.getByLabel("Role").selectOption("VIEWER");
  await form.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Added user ${username} (VIEWER).` })).toBeVisible();
  await expect(page.getByLabel(`Role of ${username}`)).toHaveValue("VIEWER");
  await snapshot(page, testInfo, "settings-users");

  // A separate browser context: the viewer's own session.
  const context = await browser.newContext({ baseURL });
  const viewer = await context.newPage();
  try {
    await viewer.goto("/login/");
    await viewer.getByLabel("Username").fill(username);
    await viewer.getByLabel("Password").fill(password);
    await viewer.getByRole("button", { name: "Sign in" }).click();
    await expect(viewer.getByRole("heading", { name: "Dashboard" })).toBeVisible();
    await expect(viewer.getByRole("navigation", { name: "Main" })).toContainText("VIEWER");

    await viewer.getByRole("link", { name: "Servers" }).click();
    await expect(viewer.getByRole("heading", { name: "Servers", level: 1 })).toBeVisible();
    await expect(viewer.getByRole("button", { name: "Add server" })).toHaveCount(0);
    await expect(viewer.getByRole("button", { name: /^(Edit|Delete|Test connection|Back up)/ })).toHaveCount(0);
    await expect(viewer.getByTestId("profile-default")).toBeVisible();
    await expect(viewer.getByRole("button", { name: "Add profile" })).toHaveCount(0);

    await viewer.getByRole("link", { name: "Storage" }).click();
    await expect(viewer.getByRole("heading", { name: "Storage", level: 1 })).toBeVisible();
    await expect(viewer.getByTestId("target-local")).toBeVisible();
    await expect(viewer.getByRole("button", { name: /Add storage target|^Edit|^Delete|^Test/ })).toHaveCount(0);

    await viewer.getByRole("link", { name: "Schedules" }).click();
    await expect(viewer.getByTestId("schedule-daily")).toBeVisible();
    await expect(viewer.getByRole("link", { name: "Add schedule" })).toHaveCount(0);
    await expect(viewer.getByRole("button", { name: /^(Run|Delete)/ })).toHaveCount(0);
    await viewer.getByRole("link", { name: "View daily" }).click();
    await expect(viewer.getByLabel("Cron expression")).toBeDisabled();
    await expect(viewer.getByRole("button", { name: /Save|Edit retention/ })).toHaveCount(0);
    await expect(viewer.getByTestId("retention-local").getByTestId("retention-preview")).toContainText("Would delete");

    await viewer.getByRole("link", { name: "Settings" }).click();
    await expect(viewer.getByRole("tab", { name: "API tokens" })).toBeVisible();
    await expect(viewer.getByRole("tab", { name: "Users and roles" })).toHaveCount(0);
    await expect(viewer.getByRole("tab", { name: "Audit log" })).toHaveCount(0);
    await expect(viewer.getByRole("tab", { name: "Notifications" })).toHaveCount(0);
    await snapshot(viewer, testInfo, "viewer-settings");

    // The API refuses anyway.
    const refused = await gql(viewer.request, 'mutation { createStorageTarget(input: { name: "nope", kind: LOCAL, path: "/tmp/nope" }) { id } }');
    expect(refused.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  } finally {
    await context.close();
  }
});
