// Issue 17 as a user sees it: a MariaDB server with point-in-time recovery on (a private instance
// with its binlog on, started by the test), a dump, writes, a destructive DELETE; the dashboard and
// the database page show the recoverable window; "Restore to a point in time" in the restore form
// brings the database back as it was before the DELETE.
import { connect } from "../server/db/connection.ts";
import { startPrivateMariadb, type PrivateMariadb } from "../server/testing/private-mariadb.ts";
import { expect, test } from "./fixtures/server.ts";
import { gqlOk, signIn, unique, waitForBackup } from "./fixtures/helpers.ts";

test.use({ timezoneId: "UTC", locale: "en-US" });

let source: PrivateMariadb;
test.beforeAll(async () => {
  source = await startPrivateMariadb("e2e-pitr", { binlog: { serverId: 31 } });
});
test.afterAll(async () => source?.close());

async function sql(statements: string[], database = "shop"): Promise<unknown[]> {
  const c = await connect({ host: "127.0.0.1", port: source.port, user: "root", database }, { withDatabase: database !== "" });
  try {
    const out: unknown[] = [];
    for (const s of statements) out.push(await c.query(s));
    return out;
  } finally {
    await c.end();
  }
}

test("restore to a point in time from the console, with the window on the dashboard and the database page", async ({ page }) => {
  test.setTimeout(180_000);
  await signIn(page);
  await sql(["CREATE DATABASE shop"], "");
  await sql(["CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL)", "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')"]);
  const name = unique("pitr");
  const { createServer } = await gqlOk<{ createServer: { id: number } }>(
    page.request,
    "mutation($input: ServerInput!) { createServer(input: $input) { id } }",
    {
      input: {
        name,
        engine: "MARIADB",
        host: "127.0.0.1",
        port: source.port,
        username: "root",
        includeDatabases: ["shop"],
        pitr: { enabled: true, rpoSeconds: 5 },
      },
    },
  );

  // The server form shows the section with what was saved.
  await page.goto("/servers/");
  await page.getByRole("row").filter({ hasText: name }).getByRole("button", { name: "Edit" }).click();
  const pitrSection = page.getByRole("group", { name: "Point-in-time recovery" });
  await expect(pitrSection.getByLabel("Archive the binary log continuously")).toBeChecked();
  await expect(pitrSection.getByLabel("Ship the open binlog every (seconds)")).toHaveValue("5");
  await page.getByRole("button", { name: "Cancel" }).click();

  const { runBackup } = await gqlOk<{ runBackup: Array<{ id: number }> }>(
    page.request,
    "mutation($input: RunBackupInput!) { runBackup(input: $input) { id } }",
    {
      input: { serverId: createServer.id, databases: ["shop"] },
    },
  );
  const backupId = runBackup[0]!.id;
  expect((await waitForBackup(page.request, backupId)).status).toBe("SUCCEEDED");
  await sql(["INSERT INTO items VALUES (4, 'd'), (5, 'e')", "UPDATE items SET v = 'A' WHERE id = 1"]);
  const t = new Date(Math.ceil((Date.now() + 1) / 1000) * 1000);
  await page.waitForTimeout(t.getTime() - Date.now() + 1100);
  await sql(["DELETE FROM items WHERE id > 1"]);

  // The archiver starts within a reconcile (15 s) and ships the open file every 5 s.
  await expect(async () => {
    const { server } = await gqlOk<{ server: { pitr: { recoverableTo: string | null } } }>(
      page.request,
      'query($id: ID!) { server(id: $id) { pitr(database: "shop") { recoverableTo } } }',
      { id: createServer.id },
    );
    expect(new Date(server.pitr.recoverableTo ?? 0).getTime()).toBeGreaterThan(t.getTime());
  }).toPass({ timeout: 60_000 });

  await page.goto("/");
  await expect(page.getByTestId("pitr-panel")).toContainText(name);
  await expect(page.getByTestId("pitr-panel")).toContainText("Any second from");
  await page.goto(`/databases/detail/?server=${encodeURIComponent(name)}&database=shop`);
  await expect(page.getByTestId("pitr-window")).toContainText("Any second from");

  await page.goto(`/backups/detail/?id=${backupId}`);
  await page.getByRole("button", { name: "Restore…" }).click();
  const form = page.getByRole("region", { name: `Restore backup #${backupId}` });
  const pitr = form.getByRole("group", { name: "Restore to a point in time" });
  await expect(pitr).toContainText("Any second from");
  await pitr.getByRole("checkbox", { name: "Restore to a point in time" }).check();
  await pitr.getByLabel("Instant (UTC)").fill(t.toISOString().slice(0, 19));
  await form.getByLabel("Database name").fill("shop_at_t");
  await form.getByRole("button", { name: "Start restore" }).click();
  await expect(form.getByTestId("restore-status")).toContainText(/Succeeded|Failed/, { timeout: 60_000 });
  const { restores } = await gqlOk<{ restores: { nodes: Array<{ status: string; error: string | null }> } }>(
    page.request,
    "query { restores(first: 1) { nodes { status error } } }",
  );
  expect(restores.nodes[0]).toEqual({ status: "SUCCEEDED", error: null });
  const [rows] = (await sql(["SELECT id, v FROM items ORDER BY id"], "shop_at_t")) as [Array<{ id: number; v: string }>];
  expect(rows).toEqual([
    { id: 1, v: "A" },
    { id: 2, v: "b" },
    { id: 3, v: "c" },
    { id: 4, v: "d" },
    { id: 5, v: "e" },
  ]);
  // The private server goes away with this file: archiving of it stops here, not in the next specs' logs.
  await gqlOk(page.request, "mutation($id: ID!) { updateServer(id: $id, input: { pitr: { enabled: false } }) { id } }", { id: createServer.id });
});
