// Issue 13, items 1-4 as a user sees them: an S3 outage makes a backup PARTIAL, the dashboard says
// DEGRADED with the missing target and lists it under recent failures; the backup page shows the
// missing copy and repairs it once S3 is back; a copy verification finds CORRUPT degrades the
// database again until it is repaired; the success-rate card and the daily chart agree.
import { readFile, writeFile, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createServer } from "node:net";
import { startS3rver, type S3rverHandle } from "../server/testing/s3rver.ts";
import { expect, test } from "./fixtures/server.ts";
import { createServerViaApi, gqlOk, signIn, snapshot, unique } from "./fixtures/helpers.ts";

// Upload retries 0.2 s apart: the outage still ends PARTIAL, quickly.
test.use({ sqlguardEnv: { SQLGUARD_BACKUP_RETRY_BASE_SECONDS: "0.2" } });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

test("a missing or damaged copy is never shown as OK, and the backup page repairs it", async ({ page, sampleDatabase }, testInfo) => {
  test.setTimeout(180_000);
  await signIn(page);
  const name = unique("truth");
  await createServerViaApi(page, name, sampleDatabase);
  const port = await freePort();
  const dir = await mkdtemp(path.join(os.tmpdir(), "truth-e2e-s3-"));
  let s3: S3rverHandle = await startS3rver({ port, dir });
  try {
    const s3Name = unique("offsite");
    await gqlOk(page.request, "mutation($input: StorageTargetInput!) { createStorageTarget(input: $input) { id } }", {
      input: {
        name: s3Name,
        kind: "S3",
        bucket: s3.bucket,
        region: "us-east-1",
        endpoint: s3.endpoint,
        forcePathStyle: true,
        accessKeyId: "S3RVER",
        secretAccessKey: "S3RVER",
      },
    });
    // The S3 service goes down.
    await s3.stop();

    await page.goto("/servers/");
    await page.getByRole("button", { name: `Back up ${name} now` }).click();
    const form = page.getByRole("region", { name: `Back up ${name} now` });
    await expect(form.getByRole("checkbox", { name: sampleDatabase })).toBeChecked();
    await form.getByRole("checkbox", { name: "local (default)" }).check();
    await form.getByRole("checkbox", { name: s3Name }).check();
    await form.getByRole("button", { name: "Start backup" }).click();
    const link = form.getByRole("link", { name: `of ${sampleDatabase}` });
    await expect(link).toBeVisible();
    const href = await link.getAttribute("href");
    const id = Number(new URL(href!, "http://x").searchParams.get("id"));

    // The dashboard: not OK, DEGRADED, naming the target that lacks the copy; listed under recent failures.
    await page.goto("/");
    const row = page.getByTestId("db-row").filter({ hasText: name });
    await expect(row.getByTestId("missing-copies")).toContainText(`No intact copy on ${s3Name} (Failed)`, { timeout: 60_000 });
    await expect(row).toContainText("Degraded");
    await expect(row.locator("[data-status]").first()).toHaveAttribute("data-status", "DEGRADED");
    const failure = page.getByTestId("recent-failure").filter({ hasText: name });
    await expect(failure).toContainText("Partial");
    await snapshot(page, testInfo, "dashboard-degraded");

    // The backup page shows the missing copy; repairing while S3 is still down says why it could not.
    await failure.getByRole("link").click();
    await expect(page).toHaveURL(new RegExp(`/backups/detail/\\?id=${id}`));
    await expect(page.getByTestId("backup-status")).toContainText("Partial");
    const problems = page.getByTestId("copy-problems");
    await expect(problems).toContainText(s3Name);
    await expect(problems).toContainText("Failed");
    await page.getByRole("button", { name: "Repair missing copies" }).click();
    await expect(page.getByRole("alert").filter({ hasText: "Repair incomplete" })).toContainText(s3Name);
    await snapshot(page, testInfo, "backup-partial");

    // S3 is back: the button copies the stored copy there (checksum-checked) and the backup is complete.
    s3 = await startS3rver({ port, dir });
    await page.getByRole("button", { name: "Repair missing copies" }).click();
    await expect(page.getByRole("status").filter({ hasText: `Copied to ${s3Name}.` })).toBeVisible();
    await expect(page.getByTestId("backup-status")).toContainText("Succeeded");
    await expect(page.getByTestId("copy-problems")).toHaveCount(0);
    await expect(page.getByTestId("artifact-row").filter({ hasText: s3Name })).toContainText("Stored");
    await snapshot(page, testInfo, "backup-repaired");
    await page.goto("/");
    await expect(row.locator("[data-status]").first()).toHaveAttribute("data-status", "OK");
    await expect(row.getByTestId("missing-copies")).toHaveCount(0);

    // A byte of the local copy flips; verification finds it CORRUPT; the database is DEGRADED again.
    const { backup } = await gqlOk<{ backup: { artifacts: Array<{ key: string; storageTarget: { name: string; path: string | null } }> } }>(
      page.request,
      "query($id: ID!) { backup(id: $id) { artifacts { key storageTarget { name path } } } }",
      { id },
    );
    const local = backup.artifacts.find((a) => a.storageTarget.name === "local")!;
    const file = path.join(local.storageTarget.path!, local.key);
    const bytes = await readFile(file);
    bytes[bytes.length >> 1]! ^= 0xff;
    await writeFile(file, bytes);
    await page.goto(`/backups/detail/?id=${id}`);
    await page.getByRole("button", { name: "Verify checksums" }).click();
    await expect(page.getByTestId("copy-problems")).toContainText("Corrupt");
    await expect(page.getByTestId("artifact-row").filter({ hasText: "local" })).toContainText("Corrupt");
    await snapshot(page, testInfo, "backup-corrupt");
    await page.goto("/");
    await expect(row).toContainText("Degraded");
    await expect(row.getByTestId("missing-copies")).toContainText("local (Corrupt)");
    await snapshot(page, testInfo, "dashboard-corrupt");
    await page.goto(`/backups/detail/?id=${id}`);
    await page.getByRole("button", { name: "Repair missing copies" }).click();
    await expect(page.getByRole("status").filter({ hasText: "Copied to local." })).toBeVisible();
    await expect(page.getByTestId("copy-problems")).toHaveCount(0);

    // One definition of success: the 24 h card and today's bar of the chart give the same figure.
    await page.goto("/");
    await expect(row.locator("[data-status]").first()).toHaveAttribute("data-status", "OK");
    const card = page.locator(".stat").filter({ hasText: "Success rate 24 h" }).locator(".stat-value");
    const title = page
      .getByRole("img", { name: /Success rate per day/ })
      .locator("rect title")
      .last();
    const text = (await title.textContent()) ?? "";
    const [, ok, all] = /(\d+) of (\d+) succeeded/.exec(text) ?? [];
    expect(Number(all)).toBeGreaterThan(0);
    await expect(card).toHaveText(`${((Number(ok) / Number(all)) * 100).toFixed(1)} %`);
    await snapshot(page, testInfo, "dashboard-repaired");
  } finally {
    await s3.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
