// The backups history pages through the Relay connection: 30 recorded backups of one server show as
// 25 newest first, "Next page" follows pageInfo.endCursor to the last 5, "First page" goes back.
import { expect, mariadbSql, test } from "./fixtures/server.ts";
import { createServerViaApi, signIn, unique } from "./fixtures/helpers.ts";

test("pages through the backups history with Next page and First page", async ({ page, sqlguard, sampleDatabase }) => {
  await signIn(page);
  const name = unique("paging");
  const serverId = await createServerViaApi(page, name, sampleDatabase);
  // Backup records only (no artifacts): one a minute, so newest first is a known order.
  const t0 = Date.UTC(2026, 5, 1, 12, 0, 0);
  const rows = Array.from({ length: 30 }, (_, i) => {
    const at = new Date(t0 + i * 60_000).toISOString().slice(0, 19).replace("T", " ");
    return `(${serverId}, '${name}', 'MARIADB', 'paging_${i}', 'MANUAL', 'FAILED', '${at}', 'ZSTD')`;
  });
  await mariadbSql(
    `INSERT INTO \`${sqlguard.database}\`.Backup (serverId, serverName, engine, \`database\`, \`trigger\`, status, createdAt, compression) VALUES ${rows.join(", ")}`,
  );

  await page.goto(`/backups/?server=${serverId}`);
  const history = page.getByTestId("backup-row");
  await expect(history).toHaveCount(25);
  await expect(history.first()).toContainText("paging_29");
  await expect(history.last()).toContainText("paging_5");
  const pages = page.getByRole("navigation", { name: "Pages" });
  await expect(pages.getByRole("button", { name: "First page" })).toHaveCount(0);

  await pages.getByRole("button", { name: "Next page" }).click();
  await expect(page).toHaveURL(/after=/);
  await expect(history).toHaveCount(5);
  await expect(history.first()).toContainText("paging_4");
  await expect(history.last()).toContainText("paging_0");
  await expect(pages.getByRole("button", { name: "Next page" })).toHaveCount(0);

  await pages.getByRole("button", { name: "First page" }).click();
  await expect(history).toHaveCount(25);
  await expect(history.first()).toContainText("paging_29");
});
