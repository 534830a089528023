import { expect, test } from "./fixtures/server.ts";
import { createServerViaApi, signIn, snapshot, unique } from "./fixtures/helpers.ts";

test("adds a dump option profile with client and server field errors, uses it on a server, edits and deletes it", async ({
  page,
  sampleDatabase,
}, testInfo) => {
  await signIn(page);
  const server = unique("profiled");
  await createServerViaApi(page, server, sampleDatabase);
  await page.goto("/servers/");
  const section = page.getByRole("region", { name: "Dump option profiles" });
  await section.getByRole("button", { name: "Add profile" }).click();
  const form = section.getByRole("region", { name: "Add a dump option profile" });

  // Client validation: nothing sent, the problems shown, the first one focused.
  await form.getByLabel("Compression", { exact: true }).selectOption("GZIP");
  await form.getByLabel("Compression level").fill("12");
  await form.getByRole("button", { name: "Add profile" }).click();
  await expect(form.getByText("Enter a name.")).toBeVisible();
  await expect(form.getByText("Enter a whole number between 1 and 9.")).toBeVisible();
  await expect(form.getByLabel("Profile name")).toBeFocused();

  // The server's allow-list refuses a flag: the error lands on that field.
  const name = unique("fast");
  await form.getByLabel("Profile name").fill(name);
  await form.getByLabel("Compression level").fill("6");
  await form.getByLabel("Extra mysqldump flags").fill("--result-file=/tmp/x");
  await form.getByRole("button", { name: "Add profile" }).click();
  await expect(form.getByLabel("Extra mysqldump flags")).toHaveAttribute("aria-invalid", "true");
  await expect(form.getByText(/not an allowed mysqldump flag/).first()).toBeVisible();

  await form.getByLabel("Extra mysqldump flags").fill("--skip-comments");
  await form.getByLabel("Events").uncheck();
  await form.getByRole("button", { name: "Add profile" }).click();
  await expect(section.getByRole("status").filter({ hasText: `Saved profile ${name}.` })).toBeVisible();
  const row = page.getByTestId(`profile-${name}`);
  await expect(row).toContainText("gzip 6");
  await expect(row).toContainText("--skip-comments");
  await expect(row).toContainText("no server");

  // The server form offers the new profile at once.
  await page.getByRole("button", { name: `Edit ${server}` }).click();
  const edit = page.getByRole("region", { name: `Edit server ${server}` });
  await edit.getByLabel("Dump options profile").selectOption({ label: name });
  await edit.getByRole("button", { name: "Save server" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Saved server ${server}.` })).toBeVisible();
  await expect(row).toContainText(server);
  await snapshot(page, testInfo, "dump-options");

  // Edit keeps the other options.
  await section.getByRole("button", { name: `Edit profile ${name}` }).click();
  const editProfile = section.getByRole("region", { name: `Edit profile ${name}` });
  await expect(editProfile.getByLabel("Events")).not.toBeChecked();
  await editProfile.getByLabel("Compression level").fill("9");
  await editProfile.getByRole("button", { name: "Save profile" }).click();
  await expect(row).toContainText("gzip 9");
  await expect(row).toContainText("--skip-comments");

  // Delete, confirmed: the server falls back to the defaults.
  await section.getByRole("button", { name: `Delete profile ${name}` }).click();
  const dialog = page.getByRole("dialog", { name: `Delete profile ${name}?` });
  await expect(dialog).toContainText(`${server} falls back to the built-in defaults.`);
  await dialog.getByRole("button", { name: "Delete profile" }).click();
  await expect(row).toHaveCount(0);
  await expect(section.getByRole("status").filter({ hasText: `Deleted profile ${name}.` })).toBeVisible();
});
