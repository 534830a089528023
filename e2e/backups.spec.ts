import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { expect, mariadbQuery, mariadbSql, test } from "./fixtures/server.ts";
import { createServerViaApi, gqlOk, signIn, snapshot, unique, waitForBackup } from "./fixtures/helpers.ts";

test("backs up now, watches it go live to SUCCEEDED, filters the history, opens the detail and downloads the artifact", async ({
  page,
  sampleDatabase,
}, testInfo) => {
  await signIn(page);
  const name = unique("shop");
  await createServerViaApi(page, name, sampleDatabase);

  await page.goto("/servers/");
  await page.getByRole("button", { name: `Back up ${name} now` }).click();
  const form = page.getByRole("region", { name: `Back up ${name} now` });
  await expect(form.getByRole("checkbox", { name: sampleDatabase })).toBeChecked();
  await expect(form.getByRole("checkbox", { name: "local (default)" })).toBeChecked();
  await form.getByRole("button", { name: "Start backup" }).click();

  const link = form.getByRole("link", { name: `of ${sampleDatabase}` });
  await expect(link).toBeVisible();
  await link.click();
  await expect(page).toHaveURL(/\/backups\/detail\/\?id=\d+/);
  const id = Number(new URL(page.url()).searchParams.get("id"));

  // No reload: the status follows backupEvents until it succeeds.
  await expect(page.getByTestId("backup-status")).toContainText("Succeeded", { timeout: 60_000 });
  await expect(page.getByTestId("backup-status").locator("[data-status]")).toHaveAttribute("data-status", "SUCCEEDED");
  const sha = page.getByTestId("sha256");
  await expect(sha).toHaveText(/^[0-9a-f]{64}$/);
  const artifact = page.getByTestId("artifact-row");
  await expect(artifact).toHaveCount(1);
  await expect(artifact).toContainText("Stored");
  await expect(artifact).toContainText(/\(Local\)/);
  await expect(artifact).toContainText(sampleDatabase);
  await snapshot(page, testInfo, "backup-detail");

  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download from local" }).click()]);
  const bytes = await readFile(await download.path());
  expect(createHash("sha256").update(bytes).digest("hex")).toBe(await sha.textContent());
  expect(download.suggestedFilename()).toMatch(/\.sql\.zst$/);
  // The manifest beside it names the same checksum.
  const [manifest] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download the manifest from local" }).click()]);
  expect(manifest.suggestedFilename()).toBe(`${download.suggestedFilename()}.manifest.json`);
  expect(await readFile(await manifest.path(), "utf8")).toContain((await sha.textContent())!);

  // History: filter by server and status; the filters live in the URL.
  await page.getByRole("link", { name: "Backups", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Backups", level: 1 })).toBeVisible();
  const filters = page.getByRole("search", { name: "Filter backups" });
  await filters.getByLabel("Server").selectOption({ label: name });
  await filters.getByLabel("Status").selectOption("SUCCEEDED");
  await filters.getByRole("button", { name: "Apply filters" }).click();
  await expect(page).toHaveURL(/server=\d+/);
  await expect(page).toHaveURL(/status=SUCCEEDED/);
  const rows = page.getByTestId("backup-row");
  await expect(rows).toHaveCount(1);
  await expect(rows).toContainText(sampleDatabase);
  await snapshot(page, testInfo, "backups");

  await filters.getByLabel("Status").selectOption("FAILED");
  await filters.getByRole("button", { name: "Apply filters" }).click();
  await expect(page.getByText("No backup matches these filters.")).toBeVisible();

  // Reloading the filtered URL keeps the filter.
  await page.reload();
  await expect(filters.getByLabel("Status")).toHaveValue("FAILED");
  await expect(filters.getByLabel("Server")).toHaveValue(/^\d+$/);
  await page.goto(`/backups/?server=${new URL(page.url()).searchParams.get("server")}&status=SUCCEEDED`);
  await expect(rows).toHaveCount(1);
  await rows.getByRole("link", { name: `Backup ${id}:` }).click();
  await expect(page.getByRole("heading", { name: `Backup #${id}` })).toBeVisible();
});

test("the dashboard shows a new database and updates live as its backup runs", async ({ page, sampleDatabase }, testInfo) => {
  await signIn(page);
  const name = unique("dash");
  const serverId = await createServerViaApi(page, name, sampleDatabase);

  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  await expect(page.getByText("Live", { exact: true })).toBeVisible();
  // Covered by the stock schedules, never backed up yet.
  const row = page.getByTestId("db-row").filter({ hasText: name });
  await expect(row).toContainText("Never backed up");

  const { runBackup } = await gqlOk<{ runBackup: Array<{ id: number }> }>(
    page.request,
    "mutation($input: RunBackupInput!) { runBackup(input: $input) { id } }",
    { input: { serverId, databases: [sampleDatabase] } },
  );
  const done = await waitForBackup(page.request, runBackup[0]!.id);
  expect(done.status).toBe("SUCCEEDED");

  // The STATUS events refetched the dashboard: no reload here.
  const okRow = page.getByTestId("db-row").filter({ hasText: `${name} / ${sampleDatabase}` });
  await expect(okRow.locator("[data-status]")).toHaveText("OK");
  await expect(page.getByRole("region", { name: "Storage use" })).toContainText("local");
  await expect(page.getByRole("img", { name: new RegExp(`^Backup size of ${name} / ${sampleDatabase}: \\d+ values`) })).toBeVisible();
  await expect(page.getByRole("img", { name: /^Success rate per day: 1 values, max 100 %/ })).toBeVisible();
  await snapshot(page, testInfo, "dashboard");
});

test("sorts the history oldest first, restores a backup into a new database and deletes it as admin", async ({ page, sampleDatabase }, testInfo) => {
  await signIn(page);
  const name = unique("restore");
  const serverId = await createServerViaApi(page, name, sampleDatabase);
  const ids: number[] = [];
  for (let i = 0; i < 2; i++) {
    const { runBackup } = await gqlOk<{ runBackup: Array<{ id: number }> }>(
      page.request,
      "mutation($input: RunBackupInput!) { runBackup(input: $input) { id } }",
      { input: { serverId, databases: [sampleDatabase] } },
    );
    ids.push(runBackup[0]!.id);
    expect((await waitForBackup(page.request, runBackup[0]!.id)).status).toBe("SUCCEEDED");
  }
  const [older, newer] = ids as [number, number];

  // Newest first by default; the sort control applies at once and lives in the URL with the filters.
  await page.goto(`/backups/?server=${serverId}`);
  const rows = page.getByTestId("backup-row");
  await expect(rows).toHaveCount(2);
  await expect(rows.first().getByRole("link")).toHaveText(String(newer));
  const filters = page.getByRole("search", { name: "Filter backups" });
  await filters.getByLabel("Sort").selectOption({ label: "Oldest first" });
  await expect(page).toHaveURL(/order=oldest/);
  await expect(page).toHaveURL(new RegExp(`server=${serverId}`));
  await expect(rows.first().getByRole("link")).toHaveText(String(older));
  await page.reload();
  await expect(filters.getByLabel("Sort")).toHaveValue("oldest");
  await expect(rows.first().getByRole("link")).toHaveText(String(older));

  // Restore the older backup into a new database and follow it to the end.
  await rows.first().getByRole("link").click();
  await expect(page.getByRole("heading", { name: `Backup #${older}` })).toBeVisible();
  await page.getByRole("button", { name: "Restore…" }).click();
  const form = page.getByRole("region", { name: `Restore backup #${older}` });
  await expect(form.getByLabel("Read from")).toHaveValue(/^\d+$/);
  await expect(form.getByLabel("Restore into server")).toHaveValue(String(serverId));
  const target = unique("e2e_restored").replaceAll("-", "_");
  try {
    await form.getByLabel("Database name").fill(target);
    await form.getByRole("button", { name: "Start restore" }).click();
    await expect(form.getByTestId("restore-status")).toContainText("Succeeded", { timeout: 60_000 });
    await expect(form.getByTestId("restore-target")).toContainText(`Created the new database "${target}" holds the backup`);
    await expect(page.getByTestId("restore-row")).toContainText(target);
    expect(await mariadbQuery(`SELECT COUNT(*) FROM \`${target}\`.customers`)).toBe("2000");
    await snapshot(page, testInfo, "backup-restored");

    // Restoring into the same database again is refused on the field: it exists now.
    await form.getByRole("button", { name: "Close" }).click();
    await page.getByRole("button", { name: "Restore…" }).click();
    await form.getByLabel("Database name").fill(target);
    await form.getByRole("button", { name: "Start restore" }).click();
    await expect(form.getByLabel("Database name")).toHaveAttribute("aria-invalid", "true");
    await expect(form.getByText(/already exists/).first()).toBeVisible();
    await form.getByRole("button", { name: "Cancel" }).click();
  } finally {
    await mariadbSql(`DROP DATABASE IF EXISTS \`${target}\``);
  }

  // Delete, confirmed in the dialog: the record stays, DELETED, and its copy is gone.
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: `Delete backup #${older}?` });
  await dialog.getByRole("button", { name: "Delete backup" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByTestId("backup-status")).toContainText("Deleted");
  await expect(page.getByTestId("artifact-row")).toContainText("Deleted");
  await expect(page.getByRole("button", { name: "Restore…" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Delete", exact: true })).toHaveCount(0);
});
