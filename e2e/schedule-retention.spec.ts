// Issue 13, item 9 as a user sees it: the create-schedule form fills in a retention rule for each
// target the schedule writes to (not "kept forever"), saves it with the schedule, and the rule's
// preview lists every backup with the reasons it is kept or deleted.
import { expect, test } from "./fixtures/server.ts";
import { createServerViaApi, gqlOk, signIn, snapshot, unique, waitForBackup } from "./fixtures/helpers.ts";

type Rule = {
  keepForever: boolean;
  keepLast: number | null;
  maxAgeDays: number | null;
  gfsDaily: number | null;
  gfsWeekly: number | null;
  gfsMonthly: number | null;
};

test("a new schedule gets a default retention per target, and the preview gives each backup's reasons", async ({ page, sampleDatabase }, testInfo) => {
  test.setTimeout(180_000);
  await signIn(page);
  const serverName = unique("ret");
  await createServerViaApi(page, serverName, sampleDatabase);

  await page.goto("/schedules/");
  await page.getByRole("link", { name: "Add schedule" }).click();
  await expect(page.getByRole("heading", { name: "New schedule" })).toBeVisible();
  const name = unique("kept");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Cron expression").fill("0 3 * * *");
  await page.getByRole("checkbox", { name: serverName, exact: true }).check();

  // No target chosen: it writes to the default target, whose retention is prefilled.
  const draft = page.getByRole("group", { name: "Retention on local" });
  await expect(draft.getByLabel("Keep last")).toHaveValue("7");
  await expect(draft.getByLabel("Daily (GFS)")).toHaveValue("7");
  await expect(draft.getByLabel("Weekly (GFS)")).toHaveValue("4");
  await expect(draft.getByLabel("Monthly (GFS)")).toHaveValue("6");
  await expect(draft.getByLabel("Max age (days)")).toHaveValue("");
  await expect(draft.getByLabel("Keep forever")).not.toBeChecked();
  // A bad value is refused in the form, naming the field; the schedule is not created.
  await draft.getByLabel("Weekly (GFS)").fill("four");
  await page.getByRole("button", { name: "Create schedule" }).click();
  await expect(draft.getByText("Enter a whole number.")).toBeVisible();
  await expect(draft.getByLabel("Weekly (GFS)")).toHaveAttribute("aria-invalid", "true");
  await expect(page).toHaveURL(/\/schedules\/edit\/$/);
  await draft.getByLabel("Weekly (GFS)").fill("4");
  await snapshot(page, testInfo, "new-schedule-retention");

  await page.getByRole("button", { name: "Create schedule" }).click();
  await expect(page).toHaveURL(/\/schedules\/edit\/\?id=\d+/);
  const id = Number(new URL(page.url()).searchParams.get("id"));
  await expect(page.getByRole("status").filter({ hasText: `Saved schedule ${name}.` })).toBeVisible();
  // No partial-save problem (an error box): the rule was accepted.
  await expect(page.locator(".error-box")).toHaveCount(0);

  // Saved with the schedule: through the API, and on the page after a reload.
  const { schedule } = await gqlOk<{ schedule: { retentionRules: Array<Rule & { storageTarget: { name: string } }> } }>(
    page.request,
    "query($id: ID!) { schedule(id: $id) { retentionRules { keepForever keepLast maxAgeDays gfsDaily gfsWeekly gfsMonthly storageTarget { name } } } }",
    { id },
  );
  expect(schedule.retentionRules).toEqual([
    { keepForever: false, keepLast: 7, maxAgeDays: null, gfsDaily: 7, gfsWeekly: 4, gfsMonthly: 6, storageTarget: { name: "local" } },
  ]);

  // Three runs, then the preview lists each with why it is kept.
  const ids: number[] = [];
  for (let i = 0; i < 3; i++) {
    const { runSchedule } = await gqlOk<{ runSchedule: Array<{ id: number }> }>(page.request, "mutation($id: ID!) { runSchedule(id: $id) { id } }", { id });
    expect(runSchedule).toHaveLength(1);
    expect((await waitForBackup(page.request, runSchedule[0]!.id)).status).toBe("SUCCEEDED");
    ids.push(runSchedule[0]!.id);
  }
  await page.reload();
  const rule = page.getByTestId("retention-local");
  await expect(rule.getByTestId("rule-summary")).toHaveText("last 7, 7 daily, 4 weekly, 6 monthly, at least 1");
  const decisions = rule.getByTestId("retention-decision");
  await expect(decisions).toHaveCount(3);
  await expect(rule.getByTestId("retention-preview")).toContainText("Would delete 0 and keep 3");
  for (const backupId of ids) {
    await expect(decisions.filter({ hasText: `#${backupId}` })).toContainText("keep: newest 7 (keepLast)");
  }
  // The newest is also today's daily, weekly and monthly keeper.
  const newest = decisions.filter({ hasText: `#${ids[2]}` });
  await expect(newest).toContainText(/keep: daily \d{4}-\d{2}-\d{2}/);
  await expect(newest).toContainText(/keep: monthly \d{4}-\d{2}/);
  await snapshot(page, testInfo, "retention-preview-kept");

  // Keep only the newest: the two older ones show as deleted, and why.
  await rule.getByRole("button", { name: "Edit retention on local" }).click();
  const form = rule.getByRole("form", { name: "Retention on local" });
  await form.getByLabel("Keep last").fill("1");
  await form.getByRole("button", { name: "Save rule" }).click();
  await expect(rule.getByTestId("retention-preview")).toContainText("Would delete 2 and keep 1");
  await expect(decisions.filter({ hasText: `#${ids[0]}` })).toContainText("Delete");
  await expect(decisions.filter({ hasText: `#${ids[0]}` })).toContainText("delete: not selected by any rule");
  await expect(decisions.filter({ hasText: `#${ids[1]}` })).toContainText("delete: not selected by any rule");
  await expect(decisions.filter({ hasText: `#${ids[2]}` })).toContainText("keep: newest 1 (keepLast)");
  await expect(decisions.filter({ hasText: `#${ids[2]}` })).toContainText("Keep");

  // Usable at 390 px: the preview table scrolls inside its box, not the page.
  await page.setViewportSize({ width: 390, height: 844 });
  const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  expect(scroll, "horizontal page overflow").toBeLessThanOrEqual(client);
  await snapshot(page, testInfo, "retention-preview-390");
});
