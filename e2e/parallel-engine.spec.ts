import { expect, test } from "./fixtures/server.ts";
import { createServerViaApi, signIn, snapshot, unique } from "./fixtures/helpers.ts";

test("a dump option profile with the PARALLEL engine: threads and rows per chunk checked, saved, summarised and kept on edit", async ({
  page,
  sampleDatabase,
}, testInfo) => {
  await signIn(page);
  const server = unique("parallel-server");
  await createServerViaApi(page, server, sampleDatabase);
  await page.goto("/servers/");
  const section = page.getByRole("region", { name: "Dump option profiles" });
  await section.getByRole("button", { name: "Add profile" }).click();
  const form = section.getByRole("region", { name: "Add a dump option profile" });
  const name = unique("parallel");
  await form.getByLabel("Profile name").fill(name);
  await form.getByLabel("Dump engine").selectOption("PARALLEL");
  await form.getByLabel("Threads").fill("0");
  await form.getByLabel("Rows per chunk").fill("500");
  await form.getByRole("button", { name: "Add profile" }).click();
  await expect(form.getByText("Enter a whole number between 1 and 64, or leave it empty.")).toBeVisible();
  await expect(form.getByText("Enter a whole number between 1000 and 100000000, or leave it empty.")).toBeVisible();
  await expect(form.getByLabel("Threads")).toBeFocused();

  await form.getByLabel("Threads").fill("2");
  await form.getByLabel("Rows per chunk").fill("50000");
  await form.getByRole("button", { name: "Add profile" }).click();
  await expect(section.getByRole("status").filter({ hasText: `Saved profile ${name}.` })).toBeVisible();
  const row = page.getByTestId(`profile-${name}`);
  await expect(row).toContainText("parallel, 2 threads, 50000 rows per chunk");
  await snapshot(page, testInfo, "dump-options-parallel");

  await section.getByRole("button", { name: `Edit profile ${name}` }).click();
  const edit = section.getByRole("region", { name: `Edit profile ${name}` });
  await expect(edit.getByLabel("Dump engine")).toHaveValue("PARALLEL");
  await expect(edit.getByLabel("Threads")).toHaveValue("2");
  await edit.getByLabel("Threads").fill("");
  await edit.getByRole("button", { name: "Save profile" }).click();
  await expect(row).toContainText("parallel, 50000 rows per chunk");

  // A server using the profile: "Test connection" says whether the parallel engine can run and what it locks.
  await page.getByRole("button", { name: `Edit ${server}` }).click();
  const serverForm = page.getByRole("region", { name: `Edit server ${server}` });
  await serverForm.getByLabel("Dump options profile").selectOption({ label: name });
  await serverForm.getByRole("button", { name: "Save server" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Saved server ${server}.` })).toBeVisible();
  await page.getByRole("button", { name: `Test connection to ${server}` }).click();
  const result = page.getByRole("status", { name: `Connection test of ${server}` });
  await expect(result).toContainText(/Parallel engine: ready \(.*mydumper.*, \d+ threads\)/);
  await expect(result).toContainText("It locks: FLUSH TABLES WITH READ LOCK on the whole server");
  await snapshot(page, testInfo, "servers-parallel-tested");
});
