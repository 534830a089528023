import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Server } from "../../db/generated/client.ts";
import { LocalStore } from "../../storage/local-store.ts";
import { createTestDatabase, type TestDatabase } from "../../testing/test-db.ts";
import { takeBaseBackup } from "./base-backup.ts";

/** A base backup that fails leaves no object on any target and a FAILED record (the real pg_basebackup, refused). */
describe("takeBaseBackup failures", () => {
  let db: TestDatabase;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-base-"));

  beforeAll(async () => {
    db = await createTestDatabase();
  }, 60_000);
  afterAll(async () => {
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a pg_basebackup that cannot connect: FAILED with its words, nothing stored on either target (before: an empty archive committed on both)", async () => {
    const targets = await Promise.all(
      ["a", "b"].map((name) => db.prisma.storageTarget.create({ data: { name, kind: "LOCAL", path: path.join(dir, name), isDefault: true } })),
    );
    const server = (await db.prisma.server.create({
      data: {
        name: "pg-down",
        engine: "POSTGRESQL",
        host: "127.0.0.1",
        port: 1,
        username: "postgres",
        labels: {},
        includeDatabases: [],
        excludeDatabases: [],
        pitrEnabled: true,
      },
    })) as Server;
    const stores = new Map(targets.map((t) => [t.id, new LocalStore({ basePath: t.path! })]));
    const attempt = takeBaseBackup(
      {
        prisma: db.prisma,
        storeFor: (t) => stores.get(t.id)!,
        connectionOf: (s) => ({ engine: s.engine, host: s.host, port: s.port, username: s.username, password: "secret-pw", tls: false }),
      },
      server,
    );
    await expect(attempt).rejects.toThrow(/pg_basebackup failed \(exit 1\).*127\.0\.0\.1.*1/s);
    const row = await db.prisma.backup.findFirstOrThrow({ where: { serverId: server.id } });
    expect(row.status).toBe("FAILED");
    expect(row.error).not.toContain("secret-pw");
    expect(await db.prisma.backupArtifact.count({ where: { backupId: row.id } })).toBe(0);
    for (const t of targets) {
      const files = fs.existsSync(t.path!) ? fs.readdirSync(t.path!, { recursive: true }).map(String) : [];
      expect(files.filter((f) => f.endsWith(".tar.zst") || f.includes(".tar.zst."))).toEqual([]);
    }
  });
});
