import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf } from "../testing/backup-helpers.ts";
import { createTestApp } from "../testing/test-app.ts";

/** A server's point-in-time recovery settings in the configuration document: export, apply, refusals. */
describe("configuration as code: pitr on servers", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;

  beforeAll(async () => {
    app = await createTestApp();
    admin = await app.as("ADMIN");
  }, 60_000);
  afterAll(async () => app?.close());

  it("exports what GraphQL set, applies it back with no change, and applies a document's pitr", async () => {
    const target = dataOf(
      await admin(`mutation { createStorageTarget(input: { name: "binlogs", kind: LOCAL, path: "/tmp/sqlguard-pitr-config" }) { id } }`),
    ) as {
      createStorageTarget: { id: number };
    };
    await admin(
      `mutation($t: [ID!]) { createServer(input: { name: "shop", engine: MARIADB, host: "db", username: "u", pitr: { enabled: true, rpoSeconds: 30, storageTargetIds: $t } }) { id } }`,
      {
        t: [String(target.createStorageTarget.id)],
      },
    );
    await admin(`mutation { createServer(input: { name: "plain", engine: MARIADB, host: "db2", username: "u" }) { id } }`);
    const exported = (dataOf(await admin(`{ exportConfiguration }`)) as { exportConfiguration: string }).exportConfiguration;
    expect(exported).toMatch(/pitr:\n\s+enabled: true\n\s+rpoSeconds: 30\n\s+storageTargets:\n\s+- binlogs/);
    // The server without PITR has no pitr key at all (documents without it stay as they were).
    expect(exported.split("name: plain")[1]!.split("- name:")[0]).not.toContain("pitr");
    const again = dataOf(await admin(`mutation($d: String!) { applyConfiguration(document: $d, dryRun: true) { empty } }`, { d: exported })) as {
      applyConfiguration: { empty: boolean };
    };
    expect(again.applyConfiguration.empty).toBe(true);

    const changed = exported.replace("rpoSeconds: 30", "rpoSeconds: 120").replace(/name: plain\n/, "name: plain\n    pitr:\n      enabled: true\n");
    dataOf(await admin(`mutation($d: String!) { applyConfiguration(document: $d) { summary } }`, { d: changed }));
    const rows = await app.db.prisma.server.findMany({ orderBy: { name: "asc" } });
    expect(rows.map((s) => [s.name, s.pitrEnabled, s.pitrRpoSeconds, s.pitrStorageTargetIds])).toEqual([
      ["plain", true, 60, null],
      ["shop", true, 120, [Number(target.createStorageTarget.id)]],
    ]);
  });

  it("refuses an unknown archive target naming the field, and takes PITR on PostgreSQL", async () => {
    const doc = `apiVersion: sqlguard/v1\nkind: Configuration\nservers:\n  - name: pg\n    engine: POSTGRESQL\n    host: h\n    username: u\n    pitr:\n      enabled: true\n      storageTargets: [nowhere]\n`;
    const r = await admin(`mutation($d: String!) { applyConfiguration(document: $d, dryRun: true) { empty } }`, { d: doc });
    const text = JSON.stringify(r.errors);
    expect(text).toContain("servers[0].pitr.storageTargets[0]");
    expect(text).not.toContain("servers[0].pitr.enabled");
  });

  it("takes point-in-time recovery on a server whose dump profile encrypts (its archives are encrypted too), in GraphQL both ways and in a document", async () => {
    const sealed = (
      dataOf(await admin(`mutation { createDumpOptions(input: { name: "sealed", encryption: AGE }) { id } }`)) as { createDumpOptions: { id: string } }
    ).createDumpOptions.id;
    const open = (dataOf(await admin(`mutation { createDumpOptions(input: { name: "open" }) { id } }`)) as { createDumpOptions: { id: string } })
      .createDumpOptions.id;
    const created = dataOf(
      await admin(
        `mutation($p: ID!) { createServer(input: { name: "enc", engine: MARIADB, host: "h", username: "u", dumpOptionsId: $p, pitr: { enabled: true } }) { id pitr { enabled } } }`,
        { p: sealed },
      ),
    ) as { createServer: { id: string; pitr: { enabled: boolean } } };
    expect(created.createServer.pitr.enabled).toBe(true);
    const other = (
      dataOf(
        await admin(
          `mutation($p: ID!) { createServer(input: { name: "enc-open", engine: MARIADB, host: "h", username: "u", dumpOptionsId: $p, pitr: { enabled: true } }) { id } }`,
          { p: open },
        ),
      ) as { createServer: { id: string } }
    ).createServer.id;
    dataOf(await admin(`mutation($id: ID!, $p: ID!) { updateServer(id: $id, input: { dumpOptionsId: $p }) { id } }`, { id: other, p: sealed }));
    dataOf(await admin(`mutation($p: ID!) { updateDumpOptions(id: $p, input: { encryption: AGE }) { id } }`, { p: open }));
    expect(await app.db.prisma.dumpOptions.findUniqueOrThrow({ where: { id: Number(open) } })).toMatchObject({ encryption: "AGE" });
    expect(await app.db.prisma.server.findUniqueOrThrow({ where: { id: Number(other) } })).toMatchObject({ dumpOptionsId: Number(sealed), pitrEnabled: true });

    const doc = `apiVersion: sqlguard/v1\nkind: Configuration\ndumpOptions:\n  - name: lock\n    encryption: AGE\nservers:\n  - name: enc2\n    engine: MARIADB\n    host: h\n    username: u\n    dumpOptions: lock\n    pitr:\n      enabled: true\n`;
    const r = await admin(`mutation($d: String!) { applyConfiguration(document: $d) { empty } }`, { d: doc });
    expect(r.errors).toBeUndefined();
    expect(await app.db.prisma.server.findUniqueOrThrow({ where: { name: "enc2" } })).toMatchObject({ pitrEnabled: true });
  });
});
