import { readFileSync } from "node:fs";
import crypto from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { dropDatabase, freshDatabaseUrl, memoryLogger } from "../testing/test-db.ts";
import { connect, parseDatabaseUrl } from "./connection.ts";
import { migrate, MigrationError, MIGRATIONS_DIR } from "./migrator.ts";

type MigrationRow = {
  id: string;
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  started_at: Date;
  logs: string | null;
  rolled_back_at: Date | null;
  applied_steps_count: number;
};

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh database URL (not created yet) that is dropped after the test. */
function databaseUrl(): string {
  const url = freshDatabaseUrl("mig");
  cleanups.push(() => dropDatabase(url));
  return url;
}

/** A temporary migrations directory removed after the test; `files` maps migration name → SQL. */
async function migrationsDir(files: Record<string, string> = {}, copyShipped = false): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-migrations-"));
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  if (copyShipped) await fs.cp(MIGRATIONS_DIR, dir, { recursive: true });
  for (const [name, sql] of Object.entries(files)) {
    await fs.mkdir(path.join(dir, name));
    await fs.writeFile(path.join(dir, name, "migration.sql"), sql);
  }
  return dir;
}

/** Runs one query on the database named by `url`. */
async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T> {
  const conn = await connect(parseDatabaseUrl(url));
  try {
    return (await conn.query(sql, params)) as T;
  } finally {
    await conn.end();
  }
}

async function databaseExists(url: string): Promise<boolean> {
  const conn = await connect(parseDatabaseUrl(url), { withDatabase: false });
  try {
    const rows: unknown[] = await conn.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", [parseDatabaseUrl(url).database]);
    return rows.length === 1;
  } finally {
    await conn.end();
  }
}

const migrationRows = (url: string) => query<MigrationRow[]>(url, "SELECT * FROM _prisma_migrations ORDER BY migration_name");

/** The shipped migrations, read independently of the migrator: name → sha256 of migration.sql. */
async function shippedMigrations(): Promise<Map<string, string>> {
  const entries = await fs.readdir(MIGRATIONS_DIR, { withFileTypes: true });
  const out = new Map<string, string>();
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const bytes = await fs.readFile(path.join(MIGRATIONS_DIR, entry.name, "migration.sql"));
    out.set(entry.name, crypto.createHash("sha256").update(bytes).digest("hex"));
  }
  return out;
}

/** Every model of the Prisma schema: the migrations must create exactly their tables. */
const MODEL_TABLES = [...readFileSync(new URL("../../prisma/schema.prisma", import.meta.url), "utf8").matchAll(/^model (\w+) \{/gm)].map((m) => m[1]!);

describe("migrate", () => {
  it("creates a missing database and applies every shipped migration, in name order", async () => {
    const url = databaseUrl();
    const shipped = await shippedMigrations();
    expect(shipped.size).toBeGreaterThan(0);
    expect(await databaseExists(url)).toBe(false);

    const { logger, lines } = memoryLogger();
    const result = await migrate({ databaseUrl: url, logger });

    expect(await databaseExists(url)).toBe(true);
    expect(result.applied).toEqual([...shipped.keys()]);
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; migration?: string }).filter((l) => l.msg === "migration applied");
    expect(logged.map((l) => l.migration)).toEqual([...shipped.keys()]);

    const tables = await query<Array<{ name: string }>>(
      url,
      "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
    );
    expect(tables.map((t) => t.name).sort()).toEqual([...MODEL_TABLES, "_prisma_migrations"].sort());

    const [schema] = await query<Array<{ charset: string; collation: string }>>(
      url,
      "SELECT DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()",
    );
    expect(schema).toEqual({ charset: "utf8mb4", collation: "utf8mb4_unicode_ci" });
  });

  it("records each migration in Prisma's bookkeeping: finished, one step, sha256 of its migration.sql", async () => {
    const url = databaseUrl();
    await migrate({ databaseUrl: url, logger: memoryLogger().logger });
    const shipped = await shippedMigrations();

    const rows = await migrationRows(url);
    expect(rows.map((r) => r.migration_name)).toEqual([...shipped.keys()]);
    for (const row of rows) {
      expect(row.checksum, row.migration_name).toBe(shipped.get(row.migration_name));
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(row.finished_at, row.migration_name).toBeInstanceOf(Date);
      expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
      expect(row.applied_steps_count).toBe(1);
      expect(row.logs).toBeNull();
      expect(row.rolled_back_at).toBeNull();
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });

  it("applies nothing the second time", async () => {
    const url = databaseUrl();
    await migrate({ databaseUrl: url, logger: memoryLogger().logger });
    const before = await migrationRows(url);

    const { logger, lines } = memoryLogger();
    const second = await migrate({ databaseUrl: url, logger });

    expect(second.applied).toEqual([]);
    expect(lines.join("")).not.toContain("migration applied");
    expect(await migrationRows(url)).toEqual(before);
  });

  it("applies only the migrations added since the last run", async () => {
    const url = databaseUrl();
    const dir = await migrationsDir({}, true);
    await migrate({ databaseUrl: url, logger: memoryLogger().logger, dir });

    await fs.mkdir(path.join(dir, "29990101000000_add_note"));
    await fs.writeFile(path.join(dir, "29990101000000_add_note", "migration.sql"), "ALTER TABLE `Schedule` ADD COLUMN `note` VARCHAR(20) NULL;\n");
    const result = await migrate({ databaseUrl: url, logger: memoryLogger().logger, dir });

    expect(result.applied).toEqual(["29990101000000_add_note"]);
    const columns = await query<unknown[]>(url, "SHOW COLUMNS FROM `Schedule` LIKE 'note'");
    expect(columns).toHaveLength(1);
  });

  it("refuses to run when an applied migration's file was changed, naming that migration", async () => {
    const url = databaseUrl();
    const dir = await migrationsDir({}, true);
    await migrate({ databaseUrl: url, logger: memoryLogger().logger, dir });
    const before = await migrationRows(url);
    const changed = [...(await shippedMigrations()).keys()].at(-1)!;
    await fs.appendFile(path.join(dir, changed, "migration.sql"), "\n-- edited after it was applied\n");

    const error = await migrate({ databaseUrl: url, logger: memoryLogger().logger, dir }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toContain(`migration ${changed} was changed after it was applied`);
    expect(await migrationRows(url)).toEqual(before);
  });

  it("refuses to run when the recorded checksum of a shipped migration differs", async () => {
    const url = databaseUrl();
    await migrate({ databaseUrl: url, logger: memoryLogger().logger });
    const first = [...(await shippedMigrations()).keys()][0]!;
    await query(url, "UPDATE _prisma_migrations SET checksum = ? WHERE migration_name = ?", ["0".repeat(64), first]);

    await expect(migrate({ databaseUrl: url, logger: memoryLogger().logger })).rejects.toThrow(
      new RegExp(`migration ${first} was changed after it was applied`),
    );
  });

  it("records a failing migration with its error, stops there, and blocks later runs until resolved", async () => {
    const url = databaseUrl();
    const dir = await migrationsDir({
      "20990101000000_good": "CREATE TABLE `good_t` (`id` INTEGER NOT NULL PRIMARY KEY);\n",
      "20990102000000_broken": "CREATE TABLE `half_t` (`id` INTEGER NOT NULL PRIMARY KEY);\nCREATE TABLE `broken_t` (`id` INTEGR NOT NULL);\n",
      "20990103000000_after": "CREATE TABLE `after_t` (`id` INTEGER NOT NULL PRIMARY KEY);\n",
    });
    const { logger, lines } = memoryLogger();

    const error = await migrate({ databaseUrl: url, logger, dir }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/^migration 20990102000000_broken failed: .*Unknown data type: 'INTEGR'/);
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(lines.join("")).toContain("20990101000000_good");
    expect(lines.join("")).not.toContain("20990102000000_broken");

    const rows = await migrationRows(url);
    expect(rows.map((r) => r.migration_name)).toEqual(["20990101000000_good", "20990102000000_broken"]);
    const [good, broken] = rows;
    expect(good!.finished_at).toBeInstanceOf(Date);
    expect(broken!.finished_at).toBeNull();
    expect(broken!.applied_steps_count).toBe(0);
    expect(broken!.logs).toContain("Unknown data type: 'INTEGR'");
    const after = await query<unknown[]>(url, "SHOW TABLES LIKE 'after_t'");
    expect(after).toHaveLength(0);

    // Fixing the file is not enough: the failed row must be resolved first, as with prisma migrate deploy.
    await fs.writeFile(path.join(dir, "20990102000000_broken", "migration.sql"), "SELECT 1;\n");
    await expect(migrate({ databaseUrl: url, logger: memoryLogger().logger, dir })).rejects.toThrow(/migration 20990102000000_broken failed earlier/);
    expect(await migrationRows(url)).toHaveLength(2);

    // Once marked rolled back, it is applied again and the rest follows.
    await query(url, "UPDATE _prisma_migrations SET rolled_back_at = UTC_TIMESTAMP(3) WHERE migration_name = ?", ["20990102000000_broken"]);
    const retried = await migrate({ databaseUrl: url, logger: memoryLogger().logger, dir });
    expect(retried.applied).toEqual(["20990102000000_broken", "20990103000000_after"]);
  });

  it("warns about applied migrations this version does not ship, and still succeeds", async () => {
    const url = databaseUrl();
    await migrate({ databaseUrl: url, logger: memoryLogger().logger });
    await query(
      url,
      "INSERT INTO _prisma_migrations (id, checksum, migration_name, finished_at, applied_steps_count) VALUES (UUID(), ?, ?, UTC_TIMESTAMP(3), 1)",
      ["f".repeat(64), "29990101000000_from_a_newer_version"],
    );

    const { logger, lines } = memoryLogger();
    const result = await migrate({ databaseUrl: url, logger });

    expect(result.applied).toEqual([]);
    const warning = lines.map((l) => JSON.parse(l) as { level: number; msg: string; migration?: string }).find((l) => l.level === 40);
    expect(warning).toMatchObject({ msg: "database has a migration this version does not know", migration: "29990101000000_from_a_newer_version" });
  });

  it("applies each migration exactly once when instances migrate the same new database concurrently", async () => {
    const url = databaseUrl();
    const shipped = [...(await shippedMigrations()).keys()];

    const results = await Promise.all([1, 2, 3].map(() => migrate({ databaseUrl: url, logger: memoryLogger().logger })));

    // The lock serialises them: one instance applies everything, the others find nothing to do.
    expect(results.map((r) => r.applied.length).sort()).toEqual([0, 0, shipped.length]);
    expect(results.flatMap((r) => r.applied)).toEqual(shipped);
    const counts = await query<Array<{ migration_name: string; n: bigint }>>(
      url,
      "SELECT migration_name, COUNT(*) AS n FROM _prisma_migrations GROUP BY migration_name ORDER BY migration_name",
    );
    expect(counts.map((c) => [c.migration_name, Number(c.n)])).toEqual(shipped.map((name) => [name, 1]));
    const unfinished = await query<unknown[]>(url, "SELECT id FROM _prisma_migrations WHERE finished_at IS NULL");
    expect(unfinished).toHaveLength(0);
  });
});
