// Issue 13, item 11 as a user sees it: the dashboard and a backup's page open the per-database page,
// which shows its status, copies per target, backups (times to the second with the zone), drills and
// the RPO and RTO charts; once the server is deleted, the Databases page still finds its backups by
// the server's name. The page is usable at 390 px (tables scroll inside their box).
import { expect, test } from "./fixtures/server.ts";
import { createServerViaApi, gqlOk, signIn, snapshot, unique, waitForBackup } from "./fixtures/helpers.ts";

test.use({ timezoneId: "UTC", locale: "en-US" });

async function waitForDrill(page: import("@playwright/test").Page, id: number): Promise<string> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const { restoreDrills } = await gqlOk<{ restoreDrills: { nodes: Array<{ id: number; status: string }> } }>(
      page.request,
      "query { restoreDrills(first: 50) { nodes { id status } } }",
    );
    const status = restoreDrills.nodes.find((d) => d.id === id)?.status ?? "UNKNOWN";
    if (status !== "RUNNING" || Date.now() > deadline) return status;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Fails when the page scrolls sideways (its own tables may scroll inside their box). */
async function expectNoPageOverflow(page: import("@playwright/test").Page): Promise<void> {
  const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  expect(scroll, "horizontal page overflow").toBeLessThanOrEqual(client);
}

test("the per-database page shows backups, copies, drills, RPO and RTO, and outlives its server", async ({ page, sampleDatabase }, testInfo) => {
  test.setTimeout(240_000);
  await signIn(page);
  const name = unique("dbpage");
  const serverId = await createServerViaApi(page, name, sampleDatabase);
  const ids: number[] = [];
  for (let i = 0; i < 2; i++) {
    const { runBackup } = await gqlOk<{ runBackup: Array<{ id: number }> }>(
      page.request,
      "mutation($input: RunBackupInput!) { runBackup(input: $input) { id } }",
      {
        input: { serverId, databases: [sampleDatabase] },
      },
    );
    const id = runBackup[0]!.id;
    expect((await waitForBackup(page.request, id)).status).toBe("SUCCEEDED");
    ids.push(id);
  }
  const { runRestoreDrill } = await gqlOk<{ runRestoreDrill: { id: number } }>(
    page.request,
    "mutation($b: ID!, $s: ID!) { runRestoreDrill(backupId: $b, serverId: $s) { id } }",
    {
      b: ids[1],
      s: serverId,
    },
  );
  expect(await waitForDrill(page, runRestoreDrill.id)).toBe("PASSED");

  // The dashboard's row links to the page.
  await page.goto("/");
  const row = page.getByTestId("db-row").filter({ hasText: name });
  await row.getByRole("link", { name: `${name} / ${sampleDatabase}` }).click();
  await expect(page).toHaveURL(/\/databases\/detail\/\?server=/);
  await expect(page.getByRole("heading", { level: 1, name: `${name} / ${sampleDatabase}` })).toBeVisible();
  await expect(page.getByTestId("database-status")).toContainText("OK");
  await expect(page.getByTestId("database-status").locator("[data-status]")).toHaveAttribute("data-status", "OK");
  const summary = page.getByTestId("database-summary");
  await expect(summary).toContainText("MariaDB");
  await expect(summary).toContainText("2 points");

  // Backups newest first, each with its time to the second and the zone, and its copy per target.
  const backups = page.getByTestId("database-backup");
  await expect(backups).toHaveCount(2);
  await expect(backups.first()).toContainText(`#${ids[1]}`);
  await expect(backups.first()).toContainText(/\d{1,2}:\d{2}:\d{2}\s?[AP]M UTC/);
  await expect(backups.first()).toContainText("Succeeded");
  await expect(backups.first().getByTestId("backup-copy")).toHaveText([/local\s*Stored/]);
  await expect(page.getByTestId("target-copies").filter({ hasText: "local" }).locator("td").nth(1)).toHaveText("2");

  // The drill, and the charts: one RTO bar (the drill), an RPO bar per gap plus now, with a unit on the axis.
  const drill = page.getByTestId("database-drill");
  await expect(drill).toHaveCount(1);
  await expect(drill).toContainText("Passed");
  await expect(drill).toContainText(`#${ids[1]}`);
  await expect(drill.getByTestId("database-drill-kind")).toHaveText("Dump");
  const rto = page.getByTestId("rto-chart").getByRole("img");
  await expect(rto).toHaveAttribute("aria-label", /RTO: restore time of each drill: 1 values, max \d/);
  await expect(rto.locator("rect")).toHaveCount(1);
  const rpo = page.getByTestId("rpo-chart").getByRole("img");
  await expect(rpo).toHaveAttribute("aria-label", /RPO: age of the newest good backup: 2 values/);
  await expect(rpo.locator("text.axis-label").first()).toHaveText(/^0 (s|min|h|d)$/);
  await expect(rpo.locator("line.reference-line")).toHaveCount(1);
  await snapshot(page, testInfo, "database-page");

  // The backup's page links back to it.
  await backups
    .first()
    .getByRole("link", { name: `#${ids[1]}` })
    .click();
  await expect(page).toHaveURL(new RegExp(`/backups/detail/\\?id=${ids[1]}`));
  await page.getByRole("link", { name: sampleDatabase, exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: `${name} / ${sampleDatabase}` })).toBeVisible();

  // At 390 px the page does not scroll sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(backups).toHaveCount(2);
  await expectNoPageOverflow(page);
  await snapshot(page, testInfo, "database-page-390");
  await page.setViewportSize({ width: 1280, height: 800 });

  // The server is deleted: the Databases page still finds its backups by the server's name.
  await gqlOk(page.request, "mutation($id: ID!) { deleteServer(id: $id) { id } }", { id: serverId });
  await page.goto("/");
  await page.getByRole("link", { name: "Databases", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Databases" })).toBeVisible();
  await page.getByLabel("Find by server or database name").fill(name);
  const known = page.getByTestId("known-database");
  await expect(known).toHaveCount(1);
  await expect(known).toContainText("Server deleted");
  await expect(known.locator("td").nth(1)).toHaveText("2");
  await page.getByLabel("Find by server or database name").fill(`${name}-nothing`);
  await expect(known).toHaveCount(0);
  await expect(page.getByText(`No database matches "${name}-nothing".`)).toBeVisible();
  await page.getByLabel("Find by server or database name").fill(name);
  await snapshot(page, testInfo, "databases-search");
  await known.getByRole("link", { name: `${name} / ${sampleDatabase}` }).click();
  await expect(page.getByTestId("database-status")).toContainText("Server deleted");
  await expect(page.getByTestId("database-summary")).toContainText("deleted: its backups keep the name");
  await expect(page.getByTestId("database-backup")).toHaveCount(2);
  await expect(page.getByTestId("database-drill")).toHaveCount(1);
  await snapshot(page, testInfo, "database-page-deleted-server");
});
