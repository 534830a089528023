// Issue 13, item 12 as a user sees it: the dashboard's 14-day charts have dated axes and units, and
// each database has its own scale, so a tiny database's bar is as visible as a large one's.
import { randomBytes } from "node:crypto";
import { expect, mariadbSql, test } from "./fixtures/server.ts";
import { gqlOk, signIn, snapshot, unique, waitForBackup } from "./fixtures/helpers.ts";

test.use({ timezoneId: "UTC", locale: "en-US" });

test("the 14-day charts show dates and units, and a small database next to a large one", async ({ page }, testInfo) => {
  test.setTimeout(240_000);
  const suffix = randomBytes(4).toString("hex");
  const small = `e2e_tiny_${suffix}`;
  const large = `e2e_big_${suffix}`;
  // A few rows, and about 25 MB of hex digests (they compress to roughly half).
  await mariadbSql(
    [
      `CREATE DATABASE \`${small}\``,
      `CREATE TABLE \`${small}\`.t (id INT PRIMARY KEY, v VARCHAR(20))`,
      `INSERT INTO \`${small}\`.t VALUES (1, 'one'), (2, 'two'), (3, 'three')`,
      `CREATE DATABASE \`${large}\``,
      `CREATE TABLE \`${large}\`.t (id INT PRIMARY KEY, a CHAR(64), b CHAR(64)) ENGINE=InnoDB`,
      `INSERT INTO \`${large}\`.t SELECT seq, SHA2(seq, 256), SHA2(seq + 1000000, 256) FROM \`${large}\`.seq_1_to_200000`,
    ].join(";"),
  );
  try {
    await signIn(page);
    const name = unique("charts");
    const { createServer } = await gqlOk<{ createServer: { id: number } }>(
      page.request,
      "mutation($input: ServerInput!) { createServer(input: $input) { id } }",
      {
        input: { name, engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", includeDatabases: [small, large] },
      },
    );
    const { runBackup } = await gqlOk<{ runBackup: Array<{ id: number; database: string }> }>(
      page.request,
      "mutation($input: RunBackupInput!) { runBackup(input: $input) { id database } }",
      { input: { serverId: createServer.id, databases: [small, large] } },
    );
    expect(runBackup).toHaveLength(2);
    const sizes: Record<string, number> = {};
    for (const b of runBackup) {
      expect((await waitForBackup(page.request, b.id, 120_000)).status).toBe("SUCCEEDED");
      const { backup } = await gqlOk<{ backup: { storedBytes: string } }>(page.request, "query($id: ID!) { backup(id: $id) { storedBytes } }", { id: b.id });
      sizes[b.database] = Number(backup.storedBytes);
    }
    // The premise: sizes a thousand times apart (a shared scale would flatten the small one).
    expect(sizes[large]! / sizes[small]!).toBeGreaterThan(1000);

    await page.goto("/");
    const chartOf = (database: string) => page.getByTestId("db-chart").filter({ hasText: `${name} / ${database}` });
    const smallChart = chartOf(small).getByTestId("size-chart");
    const largeChart = chartOf(large).getByTestId("size-chart");
    await expect(smallChart).toBeVisible();
    await expect(largeChart).toBeVisible();
    await chartOf(large).scrollIntoViewIfNeeded();

    // Dates along the bottom ("Dec 3"), units up the side: bytes in the small one's own unit, MiB in the large one's.
    const days = await smallChart
      .locator("text.axis-label")
      .allTextContents()
      .then((all) => all.filter((t) => /^[A-Z][a-z]{2} \d{1,2}$/.test(t)));
    expect(days.length, `date labels: ${days.join(", ")}`).toBeGreaterThanOrEqual(3);
    expect(new Set(days).size).toBe(days.length);
    const unitOf = async (chart: typeof smallChart) =>
      (await chart.locator("text.axis-label").allTextContents()).filter((t) => /^\d+(\.\d+)? [A-Za-z]+$/.test(t)).map((t) => t.split(" ")[1]);
    const smallUnits = await unitOf(smallChart);
    const largeUnits = await unitOf(largeChart);
    expect(smallUnits.length).toBeGreaterThanOrEqual(3);
    expect(new Set(smallUnits)).toEqual(new Set([sizes[small]! < 1024 ? "B" : "KiB"]));
    expect(new Set(largeUnits)).toEqual(new Set(["MiB"]));
    await expect(
      chartOf(small)
        .getByRole("img", { name: /Duration of/ })
        .locator("text.axis-label")
        .filter({ hasText: / (s|min)$/ })
        .first(),
    ).toBeVisible();

    // Each bar is scaled to its own database: the small one stands about as tall as the large one.
    const smallBar = smallChart.locator("rect");
    const largeBar = largeChart.locator("rect");
    await expect(smallBar).toHaveCount(1);
    await expect(largeBar).toHaveCount(1);
    const smallBox = (await smallBar.boundingBox())!;
    const largeBox = (await largeBar.boundingBox())!;
    expect(smallBox.height).toBeGreaterThan(20);
    expect(smallBox.height).toBeGreaterThan(largeBox.height * 0.4);
    await expect(smallBar.locator("title")).toContainText(/B$/);
    await snapshot(page, testInfo, "history-charts");
  } finally {
    await mariadbSql(`DROP DATABASE IF EXISTS \`${small}\`; DROP DATABASE IF EXISTS \`${large}\``);
  }
});
