// Issue 13, item 7 as a user sees it: a restore into a new database under its default name
// (`<db>_restored_<time>`, which matches an include pattern such as `<db>*`) is not picked up by
// the server's backups; naming it exactly in the include patterns backs it up again.
import { expect, mariadbSql, test } from "./fixtures/server.ts";
import { gqlOk, signIn, snapshot, unique, waitForBackup } from "./fixtures/helpers.ts";

test("a database SQLGuard restored is left out of discovery unless included by its exact name", async ({ page, sampleDatabase }, testInfo) => {
  test.setTimeout(120_000);
  await signIn(page);
  const name = unique("restored");
  const { createServer } = await gqlOk<{ createServer: { id: number } }>(
    page.request,
    "mutation($input: ServerInput!) { createServer(input: $input) { id } }",
    {
      input: { name, engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", includeDatabases: [`${sampleDatabase}*`] },
    },
  );
  const serverId = createServer.id;
  const { runBackup } = await gqlOk<{ runBackup: Array<{ id: number }> }>(
    page.request,
    "mutation($input: RunBackupInput!) { runBackup(input: $input) { id } }",
    {
      input: { serverId, databases: [sampleDatabase] },
    },
  );
  const backupId = runBackup[0]!.id;
  expect((await waitForBackup(page.request, backupId)).status).toBe("SUCCEEDED");

  // Restore into a new database under the form's default name.
  await page.goto(`/backups/detail/?id=${backupId}`);
  await page.getByRole("button", { name: "Restore…" }).click();
  const form = page.getByRole("region", { name: `Restore backup #${backupId}` });
  // Left empty, the name is the default one the placeholder shows.
  await expect(form.getByLabel("Database name")).toHaveAttribute("placeholder", `${sampleDatabase}_restored_<UTC time>`);
  await form.getByRole("button", { name: "Start restore" }).click();
  await expect(form.getByTestId("restore-status")).toContainText("Succeeded", { timeout: 60_000 });
  const created = /the new database "([^"]+)"/.exec((await form.getByTestId("restore-target").textContent()) ?? "");
  const restored = created?.[1] ?? "";
  expect(restored).toMatch(new RegExp(`^${sampleDatabase}_restored_`));
  try {
    // The include pattern matches both, but a backup covers only the original.
    await page.goto("/servers/");
    await page.getByRole("button", { name: `Test connection to ${name}` }).click();
    const result = page.getByRole("status", { name: `Connection test of ${name}` });
    await expect(result).toContainText(`Databases a backup would cover (1 of`);
    await expect(result).toContainText(sampleDatabase);
    await expect(result).not.toContainText(restored);
    await page.getByRole("button", { name: `Back up ${name} now` }).click();
    const run = page.getByRole("region", { name: `Back up ${name} now` });
    await expect(run.getByRole("checkbox", { name: sampleDatabase, exact: true })).toBeChecked();
    await expect(run.getByRole("checkbox", { name: restored })).toHaveCount(0);
    await snapshot(page, testInfo, "restored-left-out");
    await run.getByRole("button", { name: "Cancel" }).click();

    // Named exactly, it is backed up again.
    await page.getByRole("button", { name: `Edit ${name}` }).click();
    const edit = page.getByRole("region", { name: `Edit server ${name}` });
    await edit.getByLabel("Include databases").fill(`${sampleDatabase}*, ${restored}`);
    await edit.getByRole("button", { name: "Save server" }).click();
    await page.getByRole("button", { name: `Test connection to ${name}` }).click();
    await expect(result).toContainText(`Databases a backup would cover (2 of`);
    await expect(result).toContainText(restored);
    await snapshot(page, testInfo, "restored-included");
  } finally {
    await mariadbSql(`DROP DATABASE IF EXISTS \`${restored}\``);
  }
});
