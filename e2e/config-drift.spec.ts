// Issue 14, item 5 as a user sees it: a server run from SQLGUARD_CONFIG_FILE shows no banner while
// the installation matches the file; a change made through the console's API makes the dashboard
// say "1 object differs from sqlguard.yaml", and the banner expands to the object.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "./fixtures/server.ts";
import { gqlOk, signIn, snapshot } from "./fixtures/helpers.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-e2e-drift-"));
const file = path.join(dir, "sqlguard.yaml");
fs.writeFileSync(
  file,
  `apiVersion: sqlguard/v1
kind: Configuration
servers:
  - name: drift-db
    engine: MARIADB
    host: 127.0.0.1
    port: 3306
    username: root
    labels: { env: e2e }
`,
);

test.use({ sqlguardEnv: { SQLGUARD_CONFIG_FILE: file } });
test.afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test("the dashboard shows objects that differ from the configuration file, and lists them on expand", async ({ page }, testInfo) => {
  await signIn(page);
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Databases" })).toBeVisible();
  await expect(page.getByTestId("config-drift")).toHaveCount(0);

  const { servers } = await gqlOk<{ servers: Array<{ id: number; name: string }> }>(page.request, "{ servers { id name } }");
  const id = servers.find((s) => s.name === "drift-db")!.id;
  await gqlOk(page.request, "mutation($id: ID!) { updateServer(id: $id, input: { port: 3307 }) { port } }", { id });

  await page.reload();
  const banner = page.getByRole("region", { name: "Configuration drift" });
  await expect(banner).toContainText("1 object differs from sqlguard.yaml");
  await expect(banner.getByText("drift-db")).toBeHidden();
  await banner.getByText("1 object differs from sqlguard.yaml").click();
  await expect(banner.getByRole("listitem")).toHaveText(["servers drift-db: changed"]);
  await snapshot(page, testInfo, "config-drift-banner");
  // The banner leads to the plan in Settings → Configuration.
  await banner.getByRole("link", { name: "Settings → Configuration" }).click();
  await expect(page.getByRole("tab", { name: "Configuration" })).toHaveAttribute("aria-selected", "true");
  await expect(page.getByTestId("config-export")).toContainText("drift-db");
});
