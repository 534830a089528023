// Issue 14, item 2 as a user sees it: the dashboard and the backup history filter by server label,
// so "how is prod doing" is one choice, and the dashboard hands the filter on to the history.
import { expect, test } from "./fixtures/server.ts";
import { gqlOk, signIn, snapshot, unique, waitForBackup } from "./fixtures/helpers.ts";

test("the dashboard and the backup history show only the servers with the chosen label", async ({ page, sampleDatabase }, testInfo) => {
  test.setTimeout(120_000);
  await signIn(page);
  const env = unique("env");
  const server = async (name: string, value: string) =>
    (
      await gqlOk<{ createServer: { id: number } }>(page.request, "mutation($input: ServerInput!) { createServer(input: $input) { id } }", {
        input: {
          name,
          engine: "MARIADB",
          host: "127.0.0.1",
          port: 3306,
          username: "root",
          includeDatabases: [sampleDatabase],
          labels: [{ key: env, value }],
        },
      })
    ).createServer.id;
  const prodName = unique("prod");
  const devName = unique("dev");
  const prod = await server(prodName, "prod");
  const dev = await server(devName, "dev");
  // A schedule that selects both by the label key's values, so the dashboard lists their databases.
  for (const value of ["prod", "dev"]) {
    await gqlOk(page.request, "mutation($input: ScheduleInput!) { createSchedule(input: $input) { id } }", {
      input: { name: unique(`nightly-${value}`), cronExpression: "0 3 * * *", serverLabels: [{ key: env, value }] },
    });
  }
  const backups: Record<string, number> = {};
  for (const [name, id] of [
    [prodName, prod],
    [devName, dev],
  ] as const) {
    const { runBackup } = await gqlOk<{ runBackup: Array<{ id: number }> }>(
      page.request,
      "mutation($input: RunBackupInput!) { runBackup(input: $input) { id } }",
      {
        input: { serverId: id, databases: [sampleDatabase] },
      },
    );
    backups[name] = runBackup[0]!.id;
    expect((await waitForBackup(page.request, runBackup[0]!.id)).status).toBe("SUCCEEDED");
  }

  await page.goto("/");
  const databases = page.getByRole("region", { name: "Databases" });
  const rows = databases.getByTestId("db-row");
  await expect(rows.filter({ hasText: prodName })).toHaveCount(1);
  await expect(rows.filter({ hasText: devName })).toHaveCount(1);
  await databases.getByLabel("Label").selectOption(`${env}=prod`);
  await expect(page).toHaveURL(new RegExp(`\\?label=${encodeURIComponent(`${env}=prod`)}`));
  await expect(rows.filter({ hasText: devName })).toHaveCount(0);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(prodName);
  await expect(databases.getByRole("status")).toContainText("1 of");
  await snapshot(page, testInfo, "dashboard-label-filter");

  // A reload keeps the filter (it is in the URL), and the link opens the history filtered alike.
  await page.reload();
  await expect(databases.getByLabel("Label")).toHaveValue(`${env}=prod`);
  await expect(rows).toHaveCount(1);
  await databases.getByRole("link", { name: "their backups" }).click();
  await expect(page).toHaveURL(/\/backups\/\?label=/);
  const history = page.getByRole("region", { name: "Backup history" });
  await expect(history.getByRole("status")).toHaveText("1 backup match");
  await expect(history.getByRole("row").filter({ hasText: prodName })).toHaveCount(1);
  await expect(history.getByRole("row").filter({ hasText: devName })).toHaveCount(0);
  await expect(page.getByRole("search", { name: "Filter backups" }).getByLabel("Label")).toHaveValue(`${env}=prod`);

  // The history's own label filter: the other value.
  const filters = page.getByRole("search", { name: "Filter backups" });
  await filters.getByLabel("Label").selectOption(`${env}=dev`);
  await filters.getByRole("button", { name: "Apply filters" }).click();
  await expect(history.getByRole("status")).toHaveText("1 backup match");
  await expect(history.getByRole("row").filter({ hasText: devName })).toHaveCount(1);
  await expect(history.getByRole("row").filter({ hasText: prodName })).toHaveCount(0);
  await snapshot(page, testInfo, "history-label-filter");

  // Back to everything.
  await page.goto("/");
  await databases.getByLabel("Label").selectOption("");
  await expect(page).toHaveURL(/\/$/);
  await expect(rows.filter({ hasText: devName })).toHaveCount(1);
});
