// Issue 14, item 6 as an admin uses it: Settings → Configuration shows the installation as
// sqlguard.yaml and downloads it; an edited document is planned (the server it creates, the cron it
// changes), applied, and planned again as "No changes"; a bad document lists every problem with its
// path and changes nothing; a viewer has no such tab and the API refuses them.
import fs from "node:fs";
import { parse, stringify } from "yaml";
import { expect, test } from "./fixtures/server.ts";
import { gql, gqlOk, signIn, snapshot, unique } from "./fixtures/helpers.ts";
import type { APIRequestContext, Page } from "@playwright/test";

// A server of its own (a fresh installation): the document below is this installation's export.
test.use({ sqlguardEnv: { SQLGUARD_INSTANCE_ID: "e2e-configuration" } });

type Doc = { apiVersion: string; kind: string; servers?: Array<Record<string, unknown>>; schedules?: Array<Record<string, unknown>> };

async function exportOf(request: APIRequestContext): Promise<string> {
  return (await gqlOk<{ exportConfiguration: string }>(request, "{ exportConfiguration }")).exportConfiguration;
}

async function openConfiguration(page: Page) {
  await page.goto("/settings/");
  await page.getByRole("tab", { name: "Configuration" }).click();
  await expect(page.getByRole("heading", { name: "Current configuration" })).toBeVisible();
}

test("the export is shown as code and downloads as sqlguard.yaml", async ({ page }, testInfo) => {
  await signIn(page);
  await openConfiguration(page);
  const exported = await exportOf(page.request);
  const view = page.getByTestId("config-export");
  await expect(view).toContainText("apiVersion: sqlguard/v1");
  expect(await view.textContent()).toBe(exported);
  expect(await view.evaluate((el) => getComputedStyle(el).fontFamily)).toMatch(/mono/i);

  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download sqlguard.yaml" }).click()]);
  expect(download.suggestedFilename()).toBe("sqlguard.yaml");
  const file = testInfo.outputPath("sqlguard.yaml");
  await download.saveAs(file);
  const doc = parse(fs.readFileSync(file, "utf8")) as Doc;
  expect(doc).toMatchObject({ apiVersion: "sqlguard/v1", kind: "Configuration" });
  expect(fs.readFileSync(file, "utf8")).toBe(exported);
});

test("an edited document is planned field by field, applied once, and then plans no changes", async ({ page, sampleDatabase }, testInfo) => {
  await signIn(page);
  const name = unique("cfg-maria");
  const doc = parse(await exportOf(page.request)) as Doc;
  const schedule = doc.schedules![0]!;
  const oldCron = schedule.cronExpression as string;
  const newCron = oldCron === "17 5 * * *" ? "18 5 * * *" : "17 5 * * *";
  schedule.cronExpression = newCron;
  doc.servers = [
    ...(doc.servers ?? []),
    { name, engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", labels: { env: "staging", team: "cfg" }, includeDatabases: [sampleDatabase] },
  ];
  const edited = stringify(doc);

  await openConfiguration(page);
  await page.getByLabel("Document (YAML)").fill(edited);
  await page.getByRole("button", { name: "Plan" }).click();
  const plan = page.getByTestId("config-plan");
  await expect(plan.getByTestId("config-plan-summary")).toHaveText("1 to create, 1 to update, 0 to delete.");
  const created = plan.getByRole("region", { name: `create servers ${name}` });
  await expect(created.getByRole("row", { name: /labels/ })).toContainText('{"env":"staging","team":"cfg"}');
  await expect(created.getByRole("row", { name: /^host/ })).toContainText("127.0.0.1");
  const updated = plan.getByRole("region", { name: `update schedules ${schedule.name}` });
  await expect(updated.getByTestId("config-field")).toHaveCount(1);
  await expect(updated.getByTestId("config-field")).toContainText(["cronExpression"]);
  await expect(updated.getByRole("cell")).toHaveText([oldCron, newCron]);
  await snapshot(page, testInfo, "configuration-plan");

  // Apply asks first; Cancel changes nothing.
  await page.getByRole("button", { name: "Apply" }).click();
  const dialog = page.getByRole("dialog", { name: "Apply this configuration?" });
  await expect(dialog).toContainText("1 to create, 1 to update, 0 to delete.");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  expect((await gqlOk<{ servers: Array<{ name: string }> }>(page.request, "{ servers { name } }")).servers.map((s) => s.name)).not.toContain(name);

  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByRole("dialog", { name: "Apply this configuration?" }).getByRole("button", { name: "Apply" }).click();
  await expect(page.getByTestId("config-plan-summary")).toHaveText("Applied: 1 to create, 1 to update, 0 to delete.");
  // The export on the page follows.
  await expect(page.getByTestId("config-export")).toContainText(name);
  await expect(page.getByTestId("config-export")).toContainText(newCron);
  await snapshot(page, testInfo, "configuration-applied");

  await page.getByRole("link", { name: "Servers" }).click();
  await expect(page.getByRole("heading", { name: "Servers", level: 1 })).toBeVisible();
  await expect(page.getByText(name, { exact: true })).toBeVisible();

  // The same document again, uploaded as a file this time.
  await openConfiguration(page);
  await page.getByLabel("Upload a file").setInputFiles({ name: "sqlguard.yaml", mimeType: "application/yaml", buffer: Buffer.from(edited) });
  await expect(page.getByLabel("Document (YAML)")).toHaveValue(edited);
  await page.getByRole("button", { name: "Plan" }).click();
  await expect(page.getByTestId("config-plan-summary")).toHaveText("No changes: the installation matches the document.");
  await expect(page.getByTestId("config-change")).toHaveCount(0);
  // Applying it again: no confirmation needed, nothing changed.
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByTestId("config-plan-summary")).toHaveText("No changes: the installation matches the document.");
  await expect(page.getByRole("dialog")).toHaveCount(0);
});

test("Prune plans the deletion of what the document does not name, only when ticked", async ({ page }) => {
  await signIn(page);
  const before = await exportOf(page.request);
  const doc = parse(before) as Doc;
  const dropped = doc.schedules!.pop()!;

  await openConfiguration(page);
  await page.getByLabel("Document (YAML)").fill(stringify(doc));
  await page.getByRole("button", { name: "Plan" }).click();
  await expect(page.getByTestId("config-plan-summary")).toHaveText("No changes: the installation matches the document.");

  await page.getByLabel("Prune").check();
  await expect(page.getByTestId("config-plan")).toHaveCount(0); // a changed option drops the old plan
  await page.getByRole("button", { name: "Plan" }).click();
  await expect(page.getByTestId("config-plan-summary")).toHaveText("0 to create, 0 to update, 1 to delete. (with prune)");
  await expect(page.getByRole("region", { name: `delete schedules ${dropped.name}` })).toBeVisible();
  expect(await exportOf(page.request)).toBe(before);
});

test("a bad document lists every problem with its path, and nothing changes", async ({ page }, testInfo) => {
  await signIn(page);
  const before = await exportOf(page.request);
  const doc = parse(before) as Doc;
  const count = doc.servers?.length ?? 0;
  doc.servers = [
    ...(doc.servers ?? []),
    { name: "bad-one", engine: "MARIADB", host: "127.0.0.1", username: "root", colour: "red" },
    { name: "twin", engine: "MARIADB", host: "127.0.0.1", username: "root" },
    { name: "twin", engine: "POSTGRESQL", host: "127.0.0.1", username: "postgres" },
  ];
  doc.schedules![0]!.cronExpression = "0 0 30 2 *";

  await openConfiguration(page);
  await page.getByLabel("Document (YAML)").fill(stringify(doc));
  await page.getByRole("button", { name: "Plan" }).click();
  const problems = page.getByTestId("config-problems");
  await expect(problems).toBeVisible();
  const lines = await problems.getByTestId("config-problem").allTextContents();
  expect(lines).toEqual(
    expect.arrayContaining([
      `servers[${count}].colour: unknown field`,
      `servers[${count + 2}].name: duplicate name "twin" (also servers[${count + 1}])`,
      expect.stringMatching(/^schedules\[0\]\.cronExpression: .*never fires/),
    ]),
  );
  await expect(problems).toContainText(`The document was refused, nothing changed (${lines.length} problems)`);
  await expect(page.getByTestId("config-plan")).toHaveCount(0);
  await snapshot(page, testInfo, "configuration-problems");

  // Apply refuses the same way, and the installation is unchanged.
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(problems.getByTestId("config-problem")).toHaveText(lines);
  expect(await exportOf(page.request)).toBe(before);
});

test("a viewer has no Configuration tab, and the API refuses them", async ({ page, browser, baseURL }) => {
  await signIn(page);
  const username = unique("cfg-viewer");
  const password = "viewer-password-1";
  await gqlOk(page.request, "mutation($input: UserInput!) { createUser(input: $input) { id } }", { input: { username, password, role: "VIEWER" } });

  const context = await browser.newContext({ baseURL });
  const viewer = await context.newPage();
  try {
    await signIn(viewer, username, password);
    await viewer.goto("/settings/?tab=configuration");
    await expect(viewer.getByRole("tab", { name: "API tokens" })).toBeVisible();
    await expect(viewer.getByRole("tab", { name: "Configuration" })).toHaveCount(0);
    await expect(viewer.getByRole("heading", { name: "Current configuration" })).toHaveCount(0);
    const before = await exportOf(page.request);
    const refused = await gql(viewer.request, "mutation($d: String!) { applyConfiguration(document: $d) { applied } }", {
      d: "apiVersion: sqlguard/v1\nkind: Configuration\nservers:\n  - { name: viewer-made, engine: MARIADB, host: 127.0.0.1, username: root }\n",
    });
    expect(refused.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await gql(viewer.request, "{ exportConfiguration }")).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(await exportOf(page.request)).toBe(before);
  } finally {
    await context.close();
  }
});
