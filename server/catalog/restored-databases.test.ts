import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "../db/client.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-db.ts";
import { restoredDatabases, selectBackupDatabases } from "./restored-databases.ts";

/** Issue 13 item 7: which databases count as SQLGuard's own restores, and how discovery leaves them out. */
describe("databases created by a restore", () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let serverId: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    prisma = db.prisma;
    const server = await prisma.server.create({
      data: { name: "rd", engine: "MARIADB", host: "h", port: 3306, username: "u", labels: {}, includeDatabases: ["crm*"], excludeDatabases: [] },
    });
    serverId = server.id;
    const restore = (database: string, extra: Record<string, unknown>, createdAt = new Date()) =>
      prisma.restore.create({
        data: { serverId, serverName: "rd", engine: "MARIADB", artifactKey: "k", sourceDatabase: "crm", database, requestedBy: "admin", createdAt, ...extra },
      });
    const backup = (database: string, createdAt: Date) =>
      prisma.backup.create({
        data: { serverId, serverName: "rd", engine: "MARIADB", database, trigger: "MANUAL", status: "SUCCEEDED", compression: "ZSTD", createdAt },
      });
    await backup("crm", new Date(Date.now() - 3_600_000));
    await restore("crm_restored_20261203T070000Z", { createdDatabase: true, status: "SUCCEEDED" });
    await restore("crm_restore_running", { status: "RUNNING" });
    await restore("crm", { overwrite: true, scratchDatabase: "crm_sqlguard_swap_1", status: "SUCCEEDED" });
    // crm_lost was backed up before it was lost and restored under its own name: still a database to back up.
    await backup("crm_lost", new Date(Date.now() - 7_200_000));
    await restore("crm_lost", { createdDatabase: true, status: "SUCCEEDED" });
    await restore("crm_failed", { createdDatabase: false, status: "FAILED" });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("lists new databases a restore created (or is creating) and scratch databases, not a restored lost database", async () => {
    const restored = await restoredDatabases(prisma, serverId);
    expect([...restored].sort()).toEqual(["crm_restore_running", "crm_restored_20261203T070000Z", "crm_sqlguard_swap_1"]);
  });

  it("leaves them out of a backup's databases unless an include pattern names one exactly", async () => {
    const restored = await restoredDatabases(prisma, serverId);
    const names = ["crm", "crm_lost", "crm_restored_20261203T070000Z", "crm_sqlguard_swap_1", "crm_failed", "shop"];
    expect(selectBackupDatabases(names, { includeDatabases: ["crm*"], excludeDatabases: [] }, restored)).toEqual(["crm", "crm_lost", "crm_failed"]);
    expect(selectBackupDatabases(names, { includeDatabases: ["crm*", "crm_restored_20261203T070000Z"], excludeDatabases: [] }, restored)).toEqual([
      "crm",
      "crm_lost",
      "crm_restored_20261203T070000Z",
      "crm_failed",
    ]);
    // No include patterns (every database): restored ones are still left out.
    expect(selectBackupDatabases(names, { includeDatabases: [], excludeDatabases: [] }, restored)).toEqual(["crm", "crm_lost", "crm_failed", "shop"]);
  });
});
