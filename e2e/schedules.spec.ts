import { expect, test } from "./fixtures/server.ts";
import { signIn, snapshot, unique } from "./fixtures/helpers.ts";

test("creates a schedule, previewing the next runs as the cron expression is typed", async ({ page }, testInfo) => {
  await signIn(page);
  await page.goto("/schedules/");
  await expect(page.getByRole("heading", { name: "Schedules", level: 1 })).toBeVisible();
  // The four stock schedules, each with its next runs.
  await expect(page.getByTestId("schedule-hourly").locator("td").nth(2)).not.toHaveText("—");
  await snapshot(page, testInfo, "schedules");

  await page.getByRole("link", { name: "Add schedule" }).click();
  await expect(page.getByRole("heading", { name: "New schedule" })).toBeVisible();
  const name = unique("nightly");
  await page.getByLabel("Name", { exact: true }).fill(name);

  const cron = page.getByLabel("Cron expression");
  const runs = page.getByRole("list", { name: "Next runs" }).getByRole("listitem");
  await cron.fill("61 * * * *");
  await expect(page.getByText(/Invalid cron expression/)).toBeVisible();
  await expect(runs).toHaveCount(0);

  await cron.fill("");
  await cron.pressSequentially("30 3 * * 1-5");
  await expect(runs).toHaveCount(5);
  await page.getByLabel("Time zone").fill("Europe/Berlin");
  await expect(page.getByText("Next runs (Europe/Berlin):")).toBeVisible();
  await expect(runs).toHaveCount(5);
  await expect(runs.first()).toContainText("3:30");
  await page.getByRole("checkbox", { name: "local (default)" }).check();
  await snapshot(page, testInfo, "schedule-new");

  await page.getByRole("button", { name: "Create schedule" }).click();
  await expect(page).toHaveURL(/\/schedules\/edit\/\?id=\d+/);
  await expect(page.getByRole("heading", { name: `Schedule ${name}` })).toBeVisible();
  await expect(page.getByLabel("Cron expression")).toHaveValue("30 3 * * 1-5");

  await page.getByRole("link", { name: "← Schedules" }).click();
  const row = page.getByTestId(`schedule-${name}`);
  await expect(row).toContainText("30 3 * * 1-5");
  await expect(row).toContainText("Europe/Berlin");
  await expect(row).toContainText(/in \d/);

  // A server-side error on a duplicate name.
  await page.getByRole("link", { name: "Add schedule" }).click();
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByRole("button", { name: "Create schedule" }).click();
  await expect(page.getByLabel("Name", { exact: true })).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByText(/already exists/).first()).toBeVisible();
});

test("edits a retention rule and sees what the next sweep would delete", async ({ page }, testInfo) => {
  await signIn(page);
  await page.goto("/schedules/");
  await page.getByRole("link", { name: "Edit daily" }).click();
  await expect(page.getByRole("heading", { name: "Schedule daily" })).toBeVisible();

  const rule = page.getByTestId("retention-local");
  await expect(rule.getByTestId("rule-summary")).not.toBeEmpty();
  await expect(rule.getByTestId("retention-preview")).toContainText(/Would delete \d+ and keep \d+/);

  await rule.getByRole("button", { name: "Edit retention on local" }).click();
  const form = rule.getByRole("form", { name: "Retention on local" });
  await form.getByLabel("Keep last").fill("abc");
  await form.getByRole("button", { name: "Save rule" }).click();
  await expect(form.getByText("Enter a whole number.")).toBeVisible();
  await form.getByLabel("Keep last").fill("5");
  await form.getByLabel("GFS daily").fill("7");
  await form.getByRole("button", { name: "Save rule" }).click();
  await expect(rule.getByTestId("rule-summary")).toContainText("last 5");
  await expect(rule.getByTestId("rule-summary")).toContainText("7 daily");
  await expect(rule.getByTestId("retention-preview")).toContainText(/Would delete \d+ and keep \d+/);
  await snapshot(page, testInfo, "schedule-retention");
});
