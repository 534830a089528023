import { ADMIN_PASSWORD, expect, test } from "./fixtures/server.ts";
import { snapshot } from "./fixtures/helpers.ts";

test("an anonymous visitor is sent to the login page, signs in, navigates and signs out", async ({ page }, testInfo) => {
  await page.goto("/servers/");
  await expect(page).toHaveURL(/\/login\/\?next=%2Fservers%2F/);
  await expect(page.getByRole("heading", { name: "Sign in to SQLGuard" })).toBeVisible();
  await snapshot(page, testInfo, "01-login");

  // Scoped to <main>: Next's route announcer is also an ARIA alert.
  const alert = page.getByRole("main").getByRole("alert");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(alert).toBeVisible();
  await expect(alert).not.toBeEmpty();
  await snapshot(page, testInfo, "02-login-error");

  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.keyboard.press("Enter");
  // Back where the visitor wanted to go.
  await expect(page).toHaveURL(/\/servers\/$/);
  await expect(page.getByRole("heading", { name: "Servers", level: 1 })).toBeVisible();

  const nav = page.getByRole("navigation", { name: "Main" });
  for (const label of ["Dashboard", "Backups", "Servers", "Schedules", "Storage", "Settings"]) {
    await expect(nav.getByRole("link", { name: label })).toBeVisible();
  }
  await expect(nav.getByRole("link", { name: "Servers" })).toHaveAttribute("aria-current", "page");
  await expect(nav.getByText("admin", { exact: true })).toBeVisible();

  await nav.getByRole("link", { name: "Dashboard" }).click();
  await expect(page).toHaveTitle("SQLGuard");
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();

  await nav.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login\/$/);
  await page.goto("/");
  await expect(page).toHaveURL(/\/login\/\?next=/);
});

test("serves the login page and health endpoints directly", async ({ page, request }) => {
  expect((await request.get("/healthz")).status()).toBe(200);
  expect((await request.get("/readyz")).status()).toBe(200);

  await page.goto("/login/");
  await expect(page).toHaveTitle("Sign in · SQLGuard");
  await expect(page.getByLabel("Username")).toBeVisible();
  await expect(page.getByLabel("Password")).toBeVisible();
});

test("works at phone width with a menu button", async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/login/");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav).toBeHidden();
  const menu = page.getByRole("button", { name: "Menu" });
  await menu.click();
  await expect(menu).toHaveAttribute("aria-expanded", "true");
  await nav.getByRole("link", { name: "Storage" }).click();
  await expect(page.getByRole("heading", { name: "Storage", level: 1 })).toBeVisible();
  // Nothing wider than the screen: tables scroll inside their own box.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await snapshot(page, testInfo, "phone-storage");
});
