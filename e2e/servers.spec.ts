import { expect, test } from "./fixtures/server.ts";
import { signIn, snapshot, unique } from "./fixtures/helpers.ts";

test("adds a MariaDB server with validation, tests the connection, edits and deletes it", async ({ page, sampleDatabase }, testInfo) => {
  await signIn(page);
  await page.goto("/servers/");
  await expect(page.getByRole("heading", { name: "Servers", level: 1 })).toBeVisible();

  await page.getByRole("button", { name: "Add server" }).click();
  const form = page.getByRole("region", { name: "Add a server" });
  // Client validation: nothing sent, every problem shown and the first field focused.
  await form.getByLabel("Port").fill("70000");
  await form.getByRole("button", { name: "Add server" }).click();
  await expect(form.getByText("Enter a name.")).toBeVisible();
  await expect(form.getByText("Enter a host name or IP address.")).toBeVisible();
  await expect(form.getByText("Enter a port between 1 and 65535.")).toBeVisible();
  await expect(form.getByLabel("Name", { exact: true })).toBeFocused();
  await expect(form.getByLabel("Name", { exact: true })).toHaveAttribute("aria-invalid", "true");

  const name = unique("maria");
  await form.getByLabel("Name", { exact: true }).fill(name);
  await form.getByLabel("Engine").selectOption("MARIADB");
  await form.getByLabel("Host").fill("127.0.0.1");
  await form.getByLabel("Port").fill("3306");
  await form.getByLabel("Username").fill("root");
  await form.getByLabel("Include databases").fill(sampleDatabase);
  await snapshot(page, testInfo, "servers-form");
  await form.getByRole("button", { name: "Add server" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Saved server ${name}.` })).toBeVisible();
  const row = page.getByTestId(`server-${name}`);
  await expect(row).toContainText("127.0.0.1:3306");

  // A server-side field error (duplicate name) lands on the field.
  await page.getByRole("button", { name: "Add server" }).click();
  await form.getByLabel("Name", { exact: true }).fill(name);
  await form.getByLabel("Host").fill("127.0.0.1");
  await form.getByLabel("Username").fill("root");
  await form.getByRole("button", { name: "Add server" }).click();
  await expect(form.getByLabel("Name", { exact: true })).toHaveAttribute("aria-invalid", "true");
  await expect(form.getByText(/already exists/).first()).toBeVisible();
  await form.getByRole("button", { name: "Cancel" }).click();

  await page.getByRole("button", { name: `Test connection to ${name}` }).click();
  const result = page.getByRole("status", { name: `Connection test of ${name}` });
  await expect(result).toContainText("Connected");
  await expect(result).toContainText(/version \d+\.\d+/);
  await expect(result).toContainText(sampleDatabase);
  await snapshot(page, testInfo, "servers-tested");

  // Edit, keeping the password untouched.
  await page.getByRole("button", { name: `Edit ${name}` }).click();
  const edit = page.getByRole("region", { name: `Edit server ${name}` });
  await edit.getByLabel("Concurrent backups").fill("2");
  // MySQL 8 without TLS: fetching the server's key is on by default and can be turned off.
  const keyOption = edit.getByLabel("Without TLS, fetch the server's public key (MySQL 8)");
  await expect(keyOption).toBeChecked();
  await keyOption.uncheck();
  await edit.getByRole("button", { name: "Save server" }).click();
  await expect(edit).toHaveCount(0);
  await page.reload();
  await page.getByRole("button", { name: `Edit ${name}` }).click();
  await expect(keyOption).not.toBeChecked();
  await edit.getByLabel("Engine").selectOption("POSTGRESQL");
  await expect(keyOption).toHaveCount(0);
  await edit.getByRole("button", { name: "Cancel" }).click();

  // A failing connection explains itself.
  const broken = unique("broken");
  await page.getByRole("button", { name: "Add server" }).click();
  await form.getByLabel("Name", { exact: true }).fill(broken);
  await form.getByLabel("Host").fill("127.0.0.1");
  await form.getByLabel("Port").fill("1");
  await form.getByLabel("Username").fill("root");
  await form.getByRole("button", { name: "Add server" }).click();
  await page.getByRole("button", { name: `Test connection to ${broken}` }).click();
  await expect(page.getByRole("alert", { name: `Connection test of ${broken}` })).toContainText("Connection failed");

  // The confirmation is a modal: focus starts on Cancel, stays inside on Tab, Escape backs out and
  // focus returns to the button that opened it.
  const deleteButton = page.getByRole("button", { name: `Delete ${broken}` });
  await deleteButton.click();
  const dialog = page.getByRole("dialog", { name: `Delete server ${broken}?` });
  await expect(dialog).toHaveAttribute("aria-modal", "true");
  await expect(dialog).toContainText("Its backups stay in the history.");
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(dialog.getByRole("button", { name: "Delete server" })).toBeFocused();
  await page.keyboard.press("Shift+Tab");
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await snapshot(page, testInfo, "confirm-dialog");
  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
  await expect(deleteButton).toBeFocused();
  await expect(page.getByTestId(`server-${broken}`)).toHaveCount(1);

  await deleteButton.press("Enter");
  await dialog.getByRole("button", { name: "Delete server" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByTestId(`server-${broken}`)).toHaveCount(0);
  await expect(row).toBeVisible();
});
