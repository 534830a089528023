// Issue 17 on PostgreSQL as a user sees it: a private PostgreSQL 15 (wal_level=replica, started by
// the test), point-in-time recovery turned on in the server form, the first base backup taken by
// itself, a dump, writes, a destructive DELETE; the dashboard shows the window; "Restore to a point
// in time" in the restore form brings the database back as it was before the DELETE.
import { psqlAt, startPrivatePostgres, type PrivatePostgres } from "../server/testing/private-postgres.ts";
import { expect, test } from "./fixtures/server.ts";
import { gqlOk, signIn, unique, waitForBackup } from "./fixtures/helpers.ts";

test.use({ timezoneId: "UTC", locale: "en-US" });

let source: PrivatePostgres;
test.beforeAll(async () => {
  source = await startPrivatePostgres("e2e-pgpitr");
});
test.afterAll(async () => source?.close());

test("PostgreSQL: PITR on from the server form, the window on the dashboard, a restore to a point in time from the console", async ({ page }) => {
  test.setTimeout(300_000);
  await signIn(page);
  await source.psql("CREATE DATABASE shop");
  await source.psql("CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL); INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')", "shop");
  const name = unique("pgpitr");
  const { createServer } = await gqlOk<{ createServer: { id: number } }>(
    page.request,
    "mutation($input: ServerInput!) { createServer(input: $input) { id } }",
    { input: { name, engine: "POSTGRESQL", host: "127.0.0.1", port: source.port, username: "postgres", includeDatabases: ["shop"] } },
  );

  // Turned on in the server form, with the PostgreSQL wording.
  await page.goto("/servers/");
  await page.getByRole("row").filter({ hasText: name }).getByRole("button", { name: "Edit" }).click();
  const pitrSection = page.getByRole("group", { name: "Point-in-time recovery" });
  await pitrSection.getByLabel("Archive the WAL continuously").check();
  await pitrSection.getByLabel("Ship the open WAL segment every (seconds)").fill("5");
  await page.getByRole("button", { name: "Save server" }).click();
  await expect(async () => {
    const { server } = await gqlOk<{ server: { pitr: { enabled: boolean; rpoSeconds: number } } }>(
      page.request,
      "query($id: ID!) { server(id: $id) { pitr { enabled rpoSeconds } } }",
      { id: createServer.id },
    );
    expect(server.pitr).toEqual({ enabled: true, rpoSeconds: 5 });
  }).toPass({ timeout: 20_000 });

  // The archiving instance takes the first base backup by itself (within a reconcile, 15 s).
  await expect(async () => {
    const { backups } = await gqlOk<{ backups: { nodes: Array<{ database: string; status: string }> } }>(
      page.request,
      "query($id: ID!) { backups(first: 20, filter: { serverId: $id }) { nodes { database status } } }",
      { id: createServer.id },
    );
    expect(backups.nodes).toContainEqual({ database: "(cluster)", status: "SUCCEEDED" });
  }).toPass({ timeout: 120_000 });
  const { runBackup } = await gqlOk<{ runBackup: Array<{ id: number }> }>(
    page.request,
    "mutation($input: RunBackupInput!) { runBackup(input: $input) { id } }",
    { input: { serverId: createServer.id, databases: ["shop"] } },
  );
  const backupId = runBackup[0]!.id;
  expect((await waitForBackup(page.request, backupId)).status).toBe("SUCCEEDED");
  await source.psql("INSERT INTO items VALUES (4, 'd'), (5, 'e'); UPDATE items SET v = 'A' WHERE id = 1", "shop");
  const t = new Date(Math.ceil((Date.now() + 1) / 1000) * 1000);
  await page.waitForTimeout(t.getTime() - Date.now() + 1100);
  await source.psql("DELETE FROM items WHERE id > 1", "shop");
  await source.psql("SELECT pg_switch_wal()");

  await expect(async () => {
    const { server } = await gqlOk<{ server: { pitr: { recoverableTo: string | null } } }>(
      page.request,
      "query($id: ID!) { server(id: $id) { pitr { recoverableTo } } }",
      { id: createServer.id },
    );
    expect(new Date(server.pitr.recoverableTo ?? 0).getTime()).toBeGreaterThan(t.getTime());
  }).toPass({ timeout: 90_000 });

  await page.goto("/");
  await expect(page.getByTestId("pitr-panel")).toContainText(name);
  await expect(page.getByTestId("pitr-panel")).toContainText("Any second from");

  await page.goto(`/backups/detail/?id=${backupId}`);
  await page.getByRole("button", { name: "Restore…" }).click();
  const form = page.getByRole("region", { name: `Restore backup #${backupId}` });
  const pitr = form.getByRole("group", { name: "Restore to a point in time" });
  await expect(pitr).toContainText("Any second from");
  await pitr.getByRole("checkbox", { name: "Restore to a point in time" }).check();
  await pitr.getByLabel("Instant (UTC)").fill(t.toISOString().slice(0, 19));
  await form.getByLabel("Database name").fill("shop_at_t");
  await form.getByRole("button", { name: "Start restore" }).click();
  await expect(form.getByTestId("restore-status")).toContainText(/Succeeded|Failed/, { timeout: 180_000 });
  const { restores } = await gqlOk<{ restores: { nodes: Array<{ status: string; error: string | null }> } }>(
    page.request,
    "query { restores(first: 1) { nodes { status error } } }",
  );
  expect(restores.nodes[0]).toEqual({ status: "SUCCEEDED", error: null });
  expect(await psqlAt(source.port, "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM items", "shop_at_t")).toBe("1=A,2=b,3=c,4=d,5=e");
  // Archiving of the private server stops here (its slot goes with the instance).
  await gqlOk(page.request, "mutation($id: ID!) { updateServer(id: $id, input: { pitr: { enabled: false } }) { id } }", { id: createServer.id });
});
