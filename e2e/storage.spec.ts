import path from "node:path";
import { expect, test } from "./fixtures/server.ts";
import { signIn, snapshot, unique } from "./fixtures/helpers.ts";

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
