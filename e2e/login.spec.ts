import type { Page, TestInfo } from "@playwright/test";
import { ADMIN_PASSWORD, expect, test } from "./fixtures/server.ts";

/** Saves a full-page screenshot under test-results and attaches it to the report. */
async function snapshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const file = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(name, { path: file, contentType: "image/png" });
}

test("signs in from the home page", async ({ page }, testInfo) => {
  await page.goto("/");
  await expect(page).toHaveTitle("SQLGuard");
  await expect(page.getByRole("heading", { name: "SQLGuard" })).toBeVisible();
  await snapshot(page, testInfo, "01-home");

  await page.getByRole("link", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/login\/$/);
  await expect(page.getByRole("heading", { name: "Sign in to SQLGuard" })).toBeVisible();
  await snapshot(page, testInfo, "02-login");

  // Scoped to <main>: Next's route announcer is also an ARIA alert.
  const alert = page.getByRole("main").getByRole("alert");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(alert).toBeVisible();
  await expect(alert).not.toBeEmpty();
  await expect(page.getByText(/Signed in as/)).toHaveCount(0);
  await snapshot(page, testInfo, "03-login-error");

  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByText("Signed in as admin (ADMIN)")).toBeVisible();
  await expect(alert).toHaveCount(0);
  await snapshot(page, testInfo, "04-signed-in");
});

test("serves the login page and health endpoints directly", async ({ page, request }) => {
  expect((await request.get("/healthz")).status()).toBe(200);
  expect((await request.get("/readyz")).status()).toBe(200);

  await page.goto("/login/");
  await expect(page).toHaveTitle("Sign in · SQLGuard");
  await expect(page.getByLabel("Username")).toBeVisible();
  await expect(page.getByLabel("Password")).toBeVisible();
});
