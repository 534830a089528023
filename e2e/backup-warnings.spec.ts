import { randomBytes } from "node:crypto";
import { expect, mariadbSql, test } from "./fixtures/server.ts";
import { createServerViaApi, gqlOk, signIn, snapshot, unique, waitForBackup } from "./fixtures/helpers.ts";

test("a backup that misses objects says so: its warnings on the detail page, a marker in the history", async ({ page }, testInfo) => {
  await signIn(page);
  // A MyISAM table is outside the single-transaction snapshot: the backup succeeds, with a warning.
  const database = `e2e_warn_${randomBytes(4).toString("hex")}`;
  await mariadbSql(
    [
      `CREATE DATABASE \`${database}\``,
      `CREATE TABLE \`${database}\`.orders (id INT PRIMARY KEY) ENGINE=InnoDB`,
      `CREATE TABLE \`${database}\`.legacy_log (id INT PRIMARY KEY) ENGINE=MyISAM`,
    ].join(";"),
  );
  try {
    const serverId = await createServerViaApi(page, unique("warn"), database);
    const { runBackup } = await gqlOk<{ runBackup: Array<{ id: number }> }>(
      page.request,
      "mutation($input: RunBackupInput!) { runBackup(input: $input) { id } }",
      { input: { serverId, databases: [database] } },
    );
    const id = runBackup[0]!.id;
    expect((await waitForBackup(page.request, id)).status).toBe("SUCCEEDED");

    await page.goto(`/backups/?server=${serverId}`);
    const row = page.getByTestId("backup-row");
    await expect(row).toHaveCount(1);
    await expect(row.getByTestId("backup-warning-marker")).toHaveText("1 warning");
    await expect(row.getByTestId("backup-warning-marker")).toHaveAttribute("title", /MyISAM tables have no transactions.*"legacy_log"/);
    await snapshot(page, testInfo, "backups-with-warning");

    await row.getByRole("link", { name: `Backup ${id}:` }).click();
    await expect(page.getByTestId("backup-status")).toContainText("Succeeded");
    const warnings = page.getByRole("region", { name: "Warning: this backup may miss objects" });
    await expect(warnings).toBeVisible();
    await expect(warnings.getByRole("listitem")).toHaveText([
      /MyISAM tables have no transactions, so the single-transaction snapshot does not cover "legacy_log"/,
    ]);
    await snapshot(page, testInfo, "backup-detail-warning");
  } finally {
    await mariadbSql(`DROP DATABASE IF EXISTS \`${database}\``);
  }
});
