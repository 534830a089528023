import { cp } from "node:fs/promises";
import path from "node:path";
import { expect, test } from "./fixtures/server.ts";
import { createServerViaApi, gqlOk, signIn, snapshot, unique, waitForBackup } from "./fixtures/helpers.ts";

test("adds a local target with validation and tests it", async ({ page, sqlguard }, testInfo) => {
  await signIn(page);
  await page.goto("/storage/");
  await expect(page.getByRole("heading", { name: "Storage", level: 1 })).toBeVisible();
  // The default local target seeded at first start.
  await expect(page.getByTestId("target-local")).toContainText("default");

  await page.getByRole("button", { name: "Add storage target" }).click();
  const form = page.getByRole("region", { name: "Add a storage target" });
  const name = unique("disk");
  await form.getByLabel("Name", { exact: true }).fill(name);
  await form.getByLabel("Path").fill("relative/dir");
  await form.getByRole("button", { name: "Add target" }).click();
  await expect(form.getByText("Enter an absolute path (starting with /).")).toBeVisible();
  await expect(form.getByLabel("Path")).toBeFocused();

  await form.getByLabel("Path").fill(path.join(sqlguard.dataDir, name));
  await form.getByRole("button", { name: "Add target" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Saved storage target ${name}.` })).toBeVisible();

  await page.getByRole("button", { name: `Test ${name}` }).click();
  await expect(page.getByRole("status", { name: `Test of ${name}` })).toContainText("works");

  // Edit: make it the second default, then remove it again.
  await page.getByRole("button", { name: `Edit ${name}` }).click();
  await page
    .getByRole("region", { name: `Edit storage target ${name}` })
    .getByLabel("Prefix")
    .fill("e2e");
  await page.getByRole("button", { name: "Save target" }).click();
  await expect(page.getByTestId(`target-${name}`)).toContainText("prefix e2e");
  await snapshot(page, testInfo, "storage");

  await page.getByRole("button", { name: `Delete ${name}` }).click();
  await page
    .getByRole("dialog", { name: `Delete storage target ${name}?` })
    .getByRole("button", { name: "Delete target" })
    .click();
  await expect(page.getByTestId(`target-${name}`)).toHaveCount(0);
});

test("adds an S3 target against s3rver and tests it", async ({ page, s3 }) => {
  await signIn(page);
  await page.goto("/storage/");
  await page.getByRole("button", { name: "Add storage target" }).click();
  const form = page.getByRole("region", { name: "Add a storage target" });
  const name = unique("s3");
  await form.getByLabel("Name", { exact: true }).fill(name);
  await form.getByLabel("Kind").selectOption("S3");
  await form.getByRole("button", { name: "Add target" }).click();
  await expect(form.getByText("Enter the bucket name.")).toBeVisible();

  await form.getByLabel("Bucket").fill(s3.bucket);
  await form.getByLabel("Endpoint").fill(s3.endpoint);
  await form.getByLabel("Region").fill("us-east-1");
  await form.getByLabel("Access key id").fill("S3RVER");
  await form.getByLabel("Secret access key").fill("S3RVER");
  await form.getByLabel("Prefix").fill("e2e");
  await form.getByRole("button", { name: "Add target" }).click();
  const row = page.getByTestId(`target-${name}`);
  await expect(row).toContainText(`s3://${s3.bucket}/e2e`);
  await expect(row).toContainText("secret set");

  await page.getByRole("button", { name: `Test ${name}` }).click();
  await expect(page.getByRole("status", { name: `Test of ${name}` })).toContainText("works");
});

test("refuses to re-point a target holding backups until they were copied, then moves it", async ({ page, sqlguard, sampleDatabase }) => {
  await signIn(page);
  const name = unique("moving");
  const from = path.join(sqlguard.dataDir, `${name}-a`);
  const to = path.join(sqlguard.dataDir, `${name}-b`);
  const { createStorageTarget } = await gqlOk<{ createStorageTarget: { id: number } }>(
    page.request,
    "mutation($input: StorageTargetInput!) { createStorageTarget(input: $input) { id } }",
    { input: { name, kind: "LOCAL", path: from } },
  );
  const serverId = await createServerViaApi(page, unique("srv"), sampleDatabase);
  const { runBackup } = await gqlOk<{ runBackup: Array<{ id: number }> }>(
    page.request,
    "mutation($input: RunBackupInput!) { runBackup(input: $input) { id } }",
    {
      input: { serverId, storageTargetIds: [createStorageTarget.id] },
    },
  );
  expect((await waitForBackup(page.request, runBackup[0]!.id)).status).toBe("SUCCEEDED");

  await page.goto("/storage/");
  await page.getByRole("button", { name: `Edit ${name}` }).click();
  const form = page.getByRole("region", { name: `Edit storage target ${name}` });
  await form.getByLabel("Path").fill(to);
  await form.getByRole("button", { name: "Save target" }).click();
  await expect(form.getByText(/holds 1 backup artifact\(s\), which changing its path would strand/).first()).toBeVisible();
  await expect(form.getByLabel("Path")).toBeFocused();

  // Claimed moved, but nothing is there yet: refused again, naming what is missing.
  await form.getByLabel("I copied the stored backups to the new location").check();
  await form.getByRole("button", { name: "Save target" }).click();
  await expect(form.getByText(/are not at the new location \(.*: missing\)/).first()).toBeVisible();

  await cp(from, to, { recursive: true });
  await form.getByRole("button", { name: "Save target" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Saved storage target ${name}.` })).toBeVisible();
  await expect(page.getByTestId(`target-${name}`)).toContainText(to);
});
