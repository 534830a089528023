import crypto from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../observability/logger.ts";
import { connect, parseDatabaseUrl, quoteIdent } from "./connection.ts";

/** prisma/migrations, relative to this file. */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/migrations", import.meta.url));

const LOCK_NAME = "prisma_migrate";
/** How long a start waits for another migrator (Prisma's lock is per server, not per database). */
const LOCK_WAIT_MS = 120_000;

export type Migration = { name: string; sql: string; checksum: string };

/** Reads `<dir>/<name>/migration.sql` for every migration directory, in name order. */
export async function readMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const bytes = await fs.readFile(path.join(dir, name, "migration.sql"));
      return { name, sql: bytes.toString("utf8"), checksum: crypto.createHash("sha256").update(bytes).digest("hex") };
    }),
  );
}

/** Prisma's own bookkeeping table, so `prisma migrate status` stays usable where its engine runs. */
const CREATE_BOOKKEEPING = `CREATE TABLE IF NOT EXISTS _prisma_migrations (
  id VARCHAR(36) PRIMARY KEY NOT NULL,
  checksum VARCHAR(64) NOT NULL,
  finished_at DATETIME(3),
  migration_name VARCHAR(255) NOT NULL,
  logs TEXT,
  rolled_back_at DATETIME(3),
  started_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  applied_steps_count INTEGER UNSIGNED NOT NULL DEFAULT 0
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`;

type AppliedRow = { id: string; migration_name: string; checksum: string; finished_at: Date | null };

/** Thrown when the database's migration history and prisma/migrations disagree. */
export class MigrationError extends Error {
  override name = "MigrationError";
}

/**
 * Creates the metadata database if needed and applies pending migrations in Prisma's layout and
 * bookkeeping, under Prisma's advisory lock so that concurrent instances apply each one once.
 * Throws MigrationError when an applied migration's file changed or an earlier one failed.
 */
export async function migrate(options: { databaseUrl: string; logger: Logger; dir?: string }): Promise<{ applied: string[] }> {
  const settings = parseDatabaseUrl(options.databaseUrl);
  const migrations = await readMigrations(options.dir);

  const admin = await connect(settings, { withDatabase: false });
  try {
    await admin.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(settings.database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await admin.end();
  }

  const conn = await connect(settings, { multipleStatements: true });
  try {
    // Prisma's lock is one per database server, so migrations of other databases on the same
    // server (other installations, test databases) queue behind each other: wait in 10 s steps.
    let got = false;
    for (const deadline = Date.now() + LOCK_WAIT_MS; !got && Date.now() < deadline; ) {
      const [lock] = await conn.query("SELECT GET_LOCK(?, 10) AS got", [LOCK_NAME]);
      got = Number(lock.got) === 1;
    }
    if (!got) throw new MigrationError(`timed out after ${LOCK_WAIT_MS / 1000} s waiting for the migration lock held by another instance`);
    try {
      await conn.query(CREATE_BOOKKEEPING);
      const rows: AppliedRow[] = await conn.query("SELECT id, migration_name, checksum, finished_at FROM _prisma_migrations WHERE rolled_back_at IS NULL");
      const failed = rows.find((r) => r.finished_at === null);
      if (failed) {
        throw new MigrationError(`migration ${failed.migration_name} failed earlier (see _prisma_migrations.logs); fix the database, then mark it rolled back`);
      }
      const known = new Set(migrations.map((m) => m.name));
      for (const row of rows) {
        if (!known.has(row.migration_name)) {
          options.logger.warn({ migration: row.migration_name }, "database has a migration this version does not know");
        }
      }
      const applied: string[] = [];
      for (const migration of migrations) {
        const row = rows.find((r) => r.migration_name === migration.name);
        if (row) {
          if (row.checksum !== migration.checksum) {
            throw new MigrationError(
              `migration ${migration.name} was changed after it was applied (checksum ${migration.checksum} differs from recorded ${row.checksum}); add a new migration instead`,
            );
          }
          continue;
        }
        await applyOne(conn, migration);
        options.logger.info({ migration: migration.name }, "migration applied");
        applied.push(migration.name);
      }
      return { applied };
    } finally {
      await conn.query("SELECT RELEASE_LOCK(?)", [LOCK_NAME]);
    }
  } finally {
    await conn.end();
  }
}

async function applyOne(conn: Awaited<ReturnType<typeof connect>>, migration: Migration): Promise<void> {
  const id = crypto.randomUUID();
  await conn.query("INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, applied_steps_count) VALUES (?, ?, ?, UTC_TIMESTAMP(3), 0)", [
    id,
    migration.checksum,
    migration.name,
  ]);
  try {
    await conn.query(migration.sql);
  } catch (error) {
    await conn.query("UPDATE _prisma_migrations SET logs = ? WHERE id = ?", [String((error as Error).message), id]);
    throw new MigrationError(`migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
  }
  await conn.query("UPDATE _prisma_migrations SET finished_at = UTC_TIMESTAMP(3), applied_steps_count = 1 WHERE id = ?", [id]);
}
