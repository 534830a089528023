// The audit log pages through its Relay connection: 60 recorded entries show as 50 newest first,
// "Older" follows pageInfo.endCursor to the next 10 (and whatever is older), "Newer" goes back.
import { expect, mariadbSql, test } from "./fixtures/server.ts";
import { signIn, unique } from "./fixtures/helpers.ts";

test("pages through the audit log with Older and Newer", async ({ page, sqlguard }) => {
  await signIn(page);
  const actor = unique("audit-paging");
  const rows = Array.from({ length: 60 }, (_, i) => `('${actor}', 'paging.touch', 'PagingThing', 'paging_${i}')`);
  await mariadbSql(`INSERT INTO \`${sqlguard.database}\`.AuditLog (actor, action, entityType, entityId) VALUES ${rows.join(", ")}`);

  await page.goto("/settings/");
  await page.getByRole("tab", { name: "Audit log" }).click();
  const log = page.getByRole("region", { name: "Audit log" });
  const entries = log.getByTestId("audit-row");
  await expect(entries).toHaveCount(50);
  await expect(entries.first()).toContainText("paging_59");
  await expect(entries.last()).toContainText("paging_10");
  await expect(log.getByRole("button", { name: "Newer" })).toHaveCount(0);

  await log.getByRole("button", { name: "Older" }).click();
  await expect(entries.first()).toContainText("paging_9");
  await expect(entries.filter({ hasText: actor })).toHaveCount(10);
  await expect(entries.filter({ hasText: "paging_0" })).toHaveCount(1);

  await log.getByRole("button", { name: "Newer" }).click();
  await expect(entries).toHaveCount(50);
  await expect(entries.first()).toContainText("paging_59");
});
