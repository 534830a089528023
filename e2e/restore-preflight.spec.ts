// Issue 13, item 8 as a user sees it: restoring as a least-privilege user a dump whose trigger,
// view, procedure and event are DEFINER=root@localhost. "Check" lists in words what that user
// lacks, "Rewrite definers to <user>" is offered, and with it ticked the restore succeeds, every
// object then defined by the restoring user.
import { randomBytes } from "node:crypto";
import { expect, mariadbQuery, mariadbSql, test } from "./fixtures/server.ts";
import { createServerViaApi, gqlOk, signIn, snapshot, unique, waitForBackup } from "./fixtures/helpers.ts";

test("the restore form checks the definers against another user, and restores with them rewritten", async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const suffix = randomBytes(4).toString("hex");
  const source = `e2e_pf_shop_${suffix}`;
  const target = `e2e_pf_app_${suffix}`;
  const user = `e2e_pf_${suffix}`;
  const password = `pw-${randomBytes(6).toString("hex")}`;
  await mariadbSql(
    [
      `CREATE DATABASE \`${source}\``,
      // As an application creates them: inside its database, names unqualified.
      `USE \`${source}\``,
      "CREATE TABLE orders (id INT PRIMARY KEY, total INT) ENGINE=InnoDB",
      "CREATE TABLE orders_log (id INT) ENGINE=InnoDB",
      "INSERT INTO orders VALUES (1, 10), (2, 20)",
      "CREATE DEFINER=root@localhost VIEW big_orders AS SELECT id FROM orders WHERE total > 15",
      "CREATE DEFINER=root@localhost TRIGGER orders_ai AFTER INSERT ON orders FOR EACH ROW INSERT INTO orders_log VALUES (NEW.id)",
      "CREATE DEFINER=root@localhost PROCEDURE order_count(OUT n INT) SELECT COUNT(*) INTO n FROM orders",
      "CREATE DEFINER=root@localhost EVENT purge_log ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM orders_log",
      // The application's own user: everything on its database, nothing else.
      `CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`,
      `GRANT ALL ON \`${target}\`.* TO '${user}'@'%'`,
    ].join(";"),
  );
  try {
    await signIn(page);
    const serverId = await createServerViaApi(page, unique("pf-maria"), source);
    const { runBackup } = await gqlOk<{ runBackup: Array<{ id: number }> }>(
      page.request,
      "mutation($input: RunBackupInput!) { runBackup(input: $input) { id } }",
      {
        input: { serverId, databases: [source] },
      },
    );
    const backupId = runBackup[0]!.id;
    expect((await waitForBackup(page.request, backupId)).status).toBe("SUCCEEDED");

    await page.goto(`/backups/detail/?id=${backupId}`);
    await page.getByRole("button", { name: "Restore…" }).click();
    const form = page.getByRole("region", { name: `Restore backup #${backupId}` });
    await form.getByLabel("Database name").fill(target);
    await form.getByLabel("Restore as another user").check();
    await form.getByLabel("User", { exact: true }).fill(user);
    await form.getByLabel("Password").fill(password);
    // No rewrite is offered before the check has found a reason for it.
    await expect(form.getByLabel(/Rewrite definers/)).toHaveCount(0);
    await form.getByRole("button", { name: "Check" }).click();

    const report = form.getByRole("region", { name: "Pre-flight" });
    await expect(report).toContainText(`Restoring as ${user}@% would fail: 4 problems.`);
    for (const object of [`trigger ${source}.orders_ai`, `view ${source}.big_orders`, `procedure ${source}.order_count`, `event ${source}.purge_log`])
      await expect(report).toContainText(`${object} is defined by root@localhost; ${user}@% lacks SET USER / SUPER`);
    // What a rewrite changes is said before it is offered.
    await expect(report).toContainText(`rewriting the definers makes ${user}@% the definer of every object`);
    await expect(report).not.toContainText(password);
    await snapshot(page, testInfo, "restore-preflight-problems");

    await form.getByLabel(`Rewrite definers to ${user}@%`).check();
    await form.getByRole("button", { name: "Start restore" }).click();
    await expect(form.getByTestId("restore-status")).toContainText("Succeeded", { timeout: 60_000 });
    await expect(form.getByTestId("restore-target")).toContainText(`Created the new database "${target}" holds the backup`);
    await expect(form.getByRole("group", { name: /^Restore #/ })).toContainText(`as ${user}, definers rewritten`);
    await snapshot(page, testInfo, "restore-preflight-rewritten");

    const definers = await mariadbQuery(
      [
        `SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '${target}'`,
        `SELECT DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '${target}'`,
        `SELECT DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '${target}'`,
        `SELECT DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '${target}'`,
      ].join(" UNION ALL "),
    );
    expect(definers.split("\n")).toEqual([`${user}@%`, `${user}@%`, `${user}@%`, `${user}@%`]);
  } finally {
    await mariadbSql(`DROP DATABASE IF EXISTS \`${source}\`; DROP DATABASE IF EXISTS \`${target}\`; DROP USER IF EXISTS '${user}'@'%'`);
  }
});
