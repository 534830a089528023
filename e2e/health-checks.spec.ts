// Issue 13, item 10 as a user sees it: a server and an S3 target are tested from their forms before
// they are saved; the dashboard's health checks show the S3 target going down (and /metrics says
// sqlguard_storage_target_up 0) long before any backup would fail.
import { startS3rver } from "../server/testing/s3rver.ts";
import { expect, test } from "./fixtures/server.ts";
import { signIn, snapshot, unique } from "./fixtures/helpers.ts";

// Health checks every second, so the outage shows within the test.
test.use({ sqlguardEnv: { SQLGUARD_HEALTH_INTERVAL_SECONDS: "1" } });

test("tests a server and an S3 target from their forms before saving; the dashboard shows an S3 outage", async ({ page, sampleDatabase }, testInfo) => {
  test.setTimeout(120_000);
  await signIn(page);
  const s3 = await startS3rver({ bucket: "health-e2e" });
  try {
    // A server form: a wrong port is refused, the right one lists the database; nothing is saved by testing.
    await page.goto("/servers/");
    await page.getByRole("button", { name: "Add server" }).click();
    const serverForm = page.getByRole("region", { name: "Add a server" });
    await serverForm.getByLabel("Host").fill("127.0.0.1");
    await serverForm.getByLabel("Port").fill("1");
    await serverForm.getByLabel("Username").fill("root");
    await serverForm.getByLabel("Include databases").fill(sampleDatabase);
    await serverForm.getByRole("button", { name: "Test connection", exact: true }).click();
    await expect(serverForm.getByRole("alert", { name: "Connection test of the new server" })).toContainText("Connection failed (REFUSED)");
    await serverForm.getByLabel("Port").fill("3306");
    await serverForm.getByRole("button", { name: "Test connection", exact: true }).click();
    const connected = serverForm.getByRole("status", { name: "Connection test of the new server" });
    await expect(connected).toContainText("Connected");
    await expect(connected).toContainText(sampleDatabase);
    await snapshot(page, testInfo, "server-form-tested");
    const serverName = unique("checked");
    await serverForm.getByLabel("Name", { exact: true }).fill(serverName);
    await serverForm.getByRole("button", { name: "Add server" }).click();
    await expect(page.getByRole("button", { name: `Edit ${serverName}` })).toBeVisible();

    // An S3 target form: tested before it exists.
    await page.goto("/storage/");
    await page.getByRole("button", { name: "Add storage target" }).click();
    const form = page.getByRole("region", { name: "Add a storage target" });
    const name = unique("offsite");
    await form.getByLabel("Kind").selectOption("S3");
    await form.getByLabel("Bucket").fill(s3.bucket);
    await form.getByLabel("Endpoint").fill(s3.endpoint);
    await form.getByLabel("Region").fill("us-east-1");
    await form.getByLabel("Access key id").fill("S3RVER");
    await form.getByLabel("Secret access key").fill("S3RVER");
    await form.getByRole("button", { name: "Test connection", exact: true }).click();
    await expect(form.getByRole("status", { name: "Test of the form's target" })).toContainText("Reachable");
    await expect(page.getByTestId(`target-${name}`)).toHaveCount(0);
    await form.getByLabel("Name", { exact: true }).fill(name);
    await form.getByRole("button", { name: "Add target" }).click();
    await expect(page.getByTestId(`target-${name}`)).toBeVisible();

    // The dashboard's health checks: the server and the target up; then S3 goes away.
    await page.goto("/");
    const health = page.getByRole("region", { name: "Health checks" });
    const target = health.getByTestId("health-row").filter({ hasText: name });
    // The new target is checked at the next round (every second here): reload until it is listed.
    await expect(async () => {
      await page.reload();
      await expect(target).toContainText("Up", { timeout: 1_000 });
    }).toPass({ timeout: 30_000 });
    await expect(health.getByTestId("health-row").filter({ hasText: serverName })).toContainText("Up");
    await s3.stop();
    // The dashboard refreshes on backup events only: reload until the next check has run.
    await expect(async () => {
      await page.reload();
      await expect(target).toContainText("Down", { timeout: 1_000 });
    }).toPass({ timeout: 30_000 });
    await expect(target).toContainText("storage target");
    await expect(page.locator(".stat").filter({ hasText: "Health" })).toContainText("1 down");
    await snapshot(page, testInfo, "dashboard-s3-down");
    const metrics = await (await page.request.get("/metrics")).text();
    expect(metrics).toContain(`sqlguard_storage_target_up{target="${name}"} 0`);
    expect(metrics).toContain(`sqlguard_server_up{server="${serverName}"} 1`);
  } finally {
    await s3.stop();
  }
});
