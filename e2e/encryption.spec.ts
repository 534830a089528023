import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Page, TestInfo } from "@playwright/test";
import { promisify } from "node:util";
import { expect, test } from "./fixtures/server.ts";
import { gqlOk, signIn, snapshot, unique, waitForBackup } from "./fixtures/helpers.ts";

const run = promisify(execFile);

/** What the server shows as a key's fingerprint: the first 16 hex digits of SHA-256 over `age1…`. */
const fingerprintOf = (recipient: string) => createHash("sha256").update(recipient).digest("hex").slice(0, 16);

/** Runs a program with `input` on stdin; resolves with its stdout (rejects on a non-zero exit). */
function pipeThrough(command: string, args: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${command} exited ${code}: ${err}`))));
    child.stdin.end(input);
  });
}

/** Generates a recovery key in the browser, saves its identity file and adds it; returns both halves' places. */
async function addBrowserKey(page: Page, testInfo: TestInfo, label: string): Promise<{ recipient: string; identityPath: string }> {
  const form = page.getByRole("region", { name: "Add a recovery key" });
  await form.getByLabel("Label").fill(label);
  await form.getByLabel("Generate in the browser").check();
  await form.getByRole("button", { name: "Generate key pair" }).click();
  const recipient = ((await form.getByTestId("generated-recipient").textContent()) ?? "").trim();
  await expect(form.getByRole("button", { name: "Add recovery key" })).toBeDisabled();
  const [download] = await Promise.all([page.waitForEvent("download"), form.getByRole("button", { name: "Download private key" }).click()]);
  const identityPath = testInfo.outputPath(download.suggestedFilename());
  await download.saveAs(identityPath);
  await form.getByRole("button", { name: "Add recovery key" }).click();
  await expect(page.getByTestId(`encryption-key-${label}`)).toContainText(fingerprintOf(recipient));
  return { recipient, identityPath };
}

test("an admin generates a recovery key in the browser, downloads its identity before adding it, pastes another, and retires one", async ({
  page,
}, testInfo) => {
  // Nothing the page sends may carry the private half.
  const sent: string[] = [];
  page.on("request", (r) => sent.push(r.postData() ?? ""));
  await signIn(page);
  await page.goto("/settings/");
  await page.getByRole("tab", { name: "Encryption" }).click();
  const keys = page.getByRole("region", { name: "Encryption keys" });
  // The instance key exists from the first look at the list.
  await expect(keys.getByTestId("encryption-key-instance key")).toContainText("instance key, held by SQLGuard");
  const noRecovery = page.getByRole("note", { name: "No recovery key" });
  const before = await gqlOk<{ encryptionKeys: Array<{ kind: string; retiredAt: string | null }> }>(page.request, "{ encryptionKeys { kind retiredAt } }");
  await expect(noRecovery).toHaveCount(before.encryptionKeys.some((k) => k.kind === "RECOVERY" && !k.retiredAt) ? 0 : 1);

  const form = page.getByRole("region", { name: "Add a recovery key" });
  const add = form.getByRole("button", { name: "Add recovery key" });
  const label = unique("vault");
  await form.getByLabel("Generate in the browser").check();
  await form.getByRole("button", { name: "Generate key pair" }).click();
  const recipient = ((await form.getByTestId("generated-recipient").textContent()) ?? "").trim();
  expect(recipient).toMatch(/^age1[02-9ac-hj-np-z]{58}$/);
  await expect(form.getByRole("note", { name: "Keep the private key" })).toContainText("SQLGuard never stores the private half");
  await expect(add).toBeDisabled();

  // The download names its file after the label: asked for first.
  await form.getByRole("button", { name: "Download private key" }).click();
  await expect(form.getByText("Enter a label first: it names the key and the file.")).toBeVisible();
  await expect(add).toBeDisabled();
  await form.getByLabel("Label").fill(label);
  const [download] = await Promise.all([page.waitForEvent("download"), form.getByRole("button", { name: "Download private key" }).click()]);
  expect(download.suggestedFilename()).toBe(`sqlguard-recovery-${label}.txt`);
  const identityPath = testInfo.outputPath(download.suggestedFilename());
  await download.saveAs(identityPath);
  await expect(add).toBeEnabled();
  await expect(form.getByRole("status")).toContainText(`Downloaded sqlguard-recovery-${label}.txt.`);
  await snapshot(page, testInfo, "settings-encryption-generated");

  // The file is what age-keygen writes, and a valid age identity for the recipient the page showed.
  const lines = (await readFile(identityPath, "utf8")).trimEnd().split("\n");
  expect(lines[0]).toMatch(/^# created: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  expect(lines[1]).toBe(`# public key: ${recipient}`);
  expect(lines[2]).toMatch(/^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/);
  const { stdout } = await run("age-keygen", ["-y", identityPath]);
  expect(stdout.trim()).toBe(recipient);
  const secret = Buffer.from(`recovery ${label}\n`);
  const encrypted = await pipeThrough("age", ["-r", recipient], secret);
  expect((await pipeThrough("age", ["-d", "-i", identityPath], encrypted)).toString()).toBe(secret.toString());

  await add.click();
  await expect(page.getByRole("status").filter({ hasText: `Added recovery key ${label} (fingerprint ${fingerprintOf(recipient)}).` })).toBeVisible();
  const row = keys.getByTestId(`encryption-key-${label}`);
  await expect(row).toContainText(fingerprintOf(recipient));
  await expect(row).toContainText("recovery key, held by you");
  await expect(row).toContainText("active");
  await expect(row).toContainText("No backup depends on it");
  await expect(noRecovery).toHaveCount(0);
  // The form forgot the pair: a new generation starts from scratch.
  await expect(form.getByTestId("generated-recipient")).toHaveCount(0);
  const identity = lines[2]!;
  expect(sent.filter((body) => body.includes(identity) || body.includes(identity.toLowerCase()))).toEqual([]);
  expect(sent.some((body) => body.includes(recipient))).toBe(true);

  // Pasting: a bad key is refused at the field, a key from age-keygen is added.
  await form.getByLabel("Paste a public key made with age-keygen").check();
  const pasteLabel = unique("offsite");
  await form.getByLabel("Label").fill(pasteLabel);
  await form.getByRole("textbox", { name: "Public key" }).fill("age1notarealkey");
  await form.getByRole("button", { name: "Add recovery key" }).click();
  await expect(form.getByRole("textbox", { name: "Public key" })).toHaveAttribute("aria-invalid", "true");
  await expect(form.getByText(/not an age recipient/).first()).toBeVisible();
  await expect(keys.getByTestId(`encryption-key-${pasteLabel}`)).toHaveCount(0);
  const pastedPath = testInfo.outputPath("pasted-key.txt");
  await run("age-keygen", ["-o", pastedPath]);
  const pasted = (await run("age-keygen", ["-y", pastedPath])).stdout.trim();
  await form.getByRole("textbox", { name: "Public key" }).fill(pasted);
  await form.getByRole("button", { name: "Add recovery key" }).click();
  await expect(keys.getByTestId(`encryption-key-${pasteLabel}`)).toContainText(fingerprintOf(pasted));
  await expect(form.getByRole("textbox", { name: "Public key" })).not.toHaveAttribute("aria-invalid", "true");
  await snapshot(page, testInfo, "settings-encryption");

  // Retiring asks first, with the backups that depend on the key; cancelling keeps it.
  await keys.getByRole("button", { name: `Retire key ${pasteLabel}` }).click();
  const dialog = page.getByRole("dialog", { name: `Retire key ${pasteLabel}?` });
  await expect(dialog).toContainText("No backup depends on it. New backups leave it out.");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(keys.getByTestId(`encryption-key-${pasteLabel}`)).toContainText("active");
  await keys.getByRole("button", { name: `Retire key ${pasteLabel}` }).click();
  await dialog.getByRole("button", { name: "Retire key" }).click();
  await expect(keys.getByTestId(`encryption-key-${pasteLabel}`)).toContainText("retired");
  await expect(keys.getByRole("button", { name: `Retire key ${pasteLabel}` })).toHaveCount(0);
  const listed = await gqlOk<{ encryptionKeys: Array<{ label: string; retiredAt: string | null }> }>(page.request, "{ encryptionKeys { label retiredAt } }");
  expect(listed.encryptionKeys.find((k) => k.label === pasteLabel)?.retiredAt).toBeTruthy();
  expect(listed.encryptionKeys.find((k) => k.label === label)?.retiredAt).toBeNull();
});

test("a dump option profile set to age encryption keeps it after a reload", async ({ page }) => {
  await signIn(page);
  await page.goto("/servers/");
  const section = page.getByRole("region", { name: "Dump option profiles" });
  await section.getByRole("button", { name: "Add profile" }).click();
  const form = section.getByRole("region", { name: "Add a dump option profile" });
  const name = unique("sealed");
  await form.getByLabel("Profile name").fill(name);
  await expect(form.getByLabel("Encryption")).toHaveValue("NONE");
  await form.getByLabel("Encryption").selectOption({ label: "age (to the instance key and recovery keys)" });
  await form.getByRole("button", { name: "Add profile" }).click();
  const row = page.getByTestId(`profile-${name}`);
  await expect(row).toContainText("age-encrypted");

  await page.reload();
  await expect(row).toContainText("age-encrypted");
  await section.getByRole("button", { name: `Edit profile ${name}` }).click();
  const edit = section.getByRole("region", { name: `Edit profile ${name}` });
  await expect(edit.getByLabel("Encryption")).toHaveValue("AGE");
  const { dumpOptionsProfiles } = await gqlOk<{ dumpOptionsProfiles: Array<{ name: string; encryption: string }> }>(
    page.request,
    "{ dumpOptionsProfiles { name encryption } }",
  );
  expect(dumpOptionsProfiles.find((p) => p.name === name)?.encryption).toBe("AGE");

  // Back to none: saved as such.
  await edit.getByLabel("Encryption").selectOption("NONE");
  await edit.getByRole("button", { name: "Save profile" }).click();
  await expect(row).not.toContainText("age-encrypted");
});

test("a viewer sees the encryption keys but cannot add or retire one", async ({ page, browser, baseURL }) => {
  await signIn(page);
  const username = unique("viewer");
  const password = "viewer-password-1";
  await gqlOk(page.request, "mutation($input: UserInput!) { createUser(input: $input) { id } }", { input: { username, password, role: "VIEWER" } });
  const context = await browser.newContext({ baseURL });
  const viewer = await context.newPage();
  try {
    await signIn(viewer, username, password);
    await viewer.goto("/settings/");
    await viewer.getByRole("tab", { name: "Encryption" }).click();
    const keys = viewer.getByRole("region", { name: "Encryption keys" });
    await expect(keys.getByTestId("encryption-key-instance key")).toBeVisible();
    await expect(keys.getByRole("button", { name: /^Retire key/ })).toHaveCount(0);
    await expect(viewer.getByRole("region", { name: "Add a recovery key" })).toHaveCount(0);
  } finally {
    await context.close();
  }
});

test("an encrypted backup depends on the browser-made keys, which open the downloaded copy; retiring one says so, and a rewrap leaves it out", async ({
  page,
  sampleDatabase,
}, testInfo) => {
  await signIn(page);
  await page.goto("/settings/");
  await page.getByRole("tab", { name: "Encryption" }).click();
  const label = unique("drawer");
  const { recipient, identityPath } = await addBrowserKey(page, testInfo, label);
  const shelfLabel = unique("shelf");
  const shelf = await addBrowserKey(page, testInfo, shelfLabel);

  const { createDumpOptions } = await gqlOk<{ createDumpOptions: { id: number } }>(
    page.request,
    "mutation($input: DumpOptionsInput!) { createDumpOptions(input: $input) { id } }",
    { input: { name: unique("sealed"), encryption: "AGE" } },
  );
  const { createServer } = await gqlOk<{ createServer: { id: number } }>(
    page.request,
    "mutation($input: ServerInput!) { createServer(input: $input) { id } }",
    {
      input: {
        name: unique("vaulted"),
        engine: "MARIADB",
        host: "127.0.0.1",
        port: 3306,
        username: "root",
        includeDatabases: [sampleDatabase],
        dumpOptionsId: createDumpOptions.id,
      },
    },
  );
  const { runBackup } = await gqlOk<{ runBackup: Array<{ id: number }> }>(
    page.request,
    "mutation($input: RunBackupInput!) { runBackup(input: $input) { id } }",
    {
      input: { serverId: createServer.id, databases: [sampleDatabase] },
    },
  );
  const backupId = runBackup[0]!.id;
  expect((await waitForBackup(page.request, backupId)).status).toBe("SUCCEEDED");

  // The copy as stored (downloaded through the console) opens with the identity the browser made.
  await page.goto(`/backups/detail/?id=${backupId}`);
  await expect(page.getByTestId("encryption")).toContainText(`age, opens with: instance key`);
  await expect(page.getByTestId("encryption")).toContainText(`${label} (${fingerprintOf(recipient)})`);
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download from local" }).click()]);
  expect(download.suggestedFilename()).toMatch(/\.sql\.zst\.age$/);
  const stored = await readFile(await download.path());
  expect(stored.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
  const sql = (await pipeThrough("zstd", ["-d", "-c"], await pipeThrough("age", ["-d", "-i", identityPath], stored))).toString();
  expect(sql).toContain("customer 1999");

  await page.goto("/settings/");
  await page.getByRole("tab", { name: "Encryption" }).click();
  const row = page.getByTestId(`encryption-key-${label}`);
  await expect(row).toContainText("1 backup depends on it");
  await expect(page.getByTestId("encryption-key-instance key")).toContainText("1 backup depends on it");
  await page.getByRole("button", { name: `Retire key ${label}` }).click();
  const dialog = page.getByRole("dialog", { name: `Retire key ${label}?` });
  await expect(dialog).toContainText("1 backup depends on it. They still open with it after it is retired: keep its private half. New backups leave it out.");
  await dialog.getByRole("button", { name: "Retire key" }).click();
  await expect(row).toContainText("retired");
  // Still counted: the old backup opens with it.
  await expect(row).toContainText("1 backup depends on it");

  // Rewrapping moves the backup to the current keys: the retired one no longer opens it.
  const rewrap = page.getByRole("region", { name: "Rewrap backups" });
  await rewrap.getByRole("button", { name: "Rewrap backups" }).click();
  const ask = page.getByRole("dialog", { name: "Rewrap every encrypted backup?" });
  const current = (
    await gqlOk<{ encryptionKeys: Array<{ retiredAt: string | null }> }>(page.request, "{ encryptionKeys { retiredAt } }")
  ).encryptionKeys.filter((k) => !k.retiredAt).length;
  await expect(ask).toContainText(`rewritten to the ${current} current keys: retired keys no longer open them`);
  await ask.getByRole("button", { name: "Rewrap backups" }).click();
  const job = rewrap.getByTestId("rewrap-job");
  await expect(job).toContainText("SUCCEEDED", { timeout: 60_000 });
  await expect(job).toContainText(/(\d+) of \1 stored cop(y|ies) rewrapped\./);
  await expect(job).not.toContainText("left as they were");
  // The list follows when the job ends, with no reload.
  await expect(row).toContainText("No backup depends on it");
  await expect(page.getByTestId(`encryption-key-${shelfLabel}`)).toContainText("1 backup depends on it");
  await snapshot(page, testInfo, "settings-encryption-rewrapped");

  await page.goto(`/backups/detail/?id=${backupId}`);
  await expect(page.getByTestId("encryption")).toContainText(`${shelfLabel} (${fingerprintOf(shelf.recipient)})`);
  await expect(page.getByTestId("encryption")).not.toContainText(label);
  const [again] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download from local" }).click()]);
  const rewrapped = await readFile(await again.path());
  // A new header, so a new SHA-256: the copy's manifest names it (the API has no per-copy checksum yet).
  const [manifest] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download the manifest from local" }).click()]);
  expect(await readFile(await manifest.path(), "utf8")).toContain(createHash("sha256").update(rewrapped).digest("hex"));
  expect(createHash("sha256").update(rewrapped).digest("hex")).not.toBe(createHash("sha256").update(stored).digest("hex"));
  await expect(pipeThrough("age", ["-d", "-i", identityPath], rewrapped)).rejects.toThrow(/no identity matched/);
  const reopened = (await pipeThrough("zstd", ["-d", "-c"], await pipeThrough("age", ["-d", "-i", shelf.identityPath], rewrapped))).toString();
  expect(reopened).toBe(sql);
});
