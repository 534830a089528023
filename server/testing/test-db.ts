import crypto from "node:crypto";
import { Writable } from "node:stream";
import { connect, parseDatabaseUrl, quoteIdent } from "../db/connection.ts";
import { createPrisma, type PrismaClient } from "../db/client.ts";
import { migrate } from "../db/migrator.ts";
import { createLogger, type Logger } from "../observability/logger.ts";

/** The MariaDB on this machine; each test database is a fresh `sqlguard_t_<random>` on it. */
export const TEST_MYSQL_ROOT = process.env.TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";

export function freshDatabaseUrl(label = "t"): string {
  return `${TEST_MYSQL_ROOT}/sqlguard_${label}_${crypto.randomBytes(5).toString("hex")}`;
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const settings = parseDatabaseUrl(databaseUrl);
  const conn = await connect(settings, { withDatabase: false });
  try {
    await conn.query(`DROP DATABASE IF EXISTS ${quoteIdent(settings.database)}`);
  } finally {
    await conn.end();
  }
}

/** A logger whose lines are kept in memory, to assert on what was (not) logged. */
export function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger({ level: "debug", pretty: false, destination }), lines };
}

export type TestDatabase = { url: string; prisma: PrismaClient; drop(): Promise<void> };

/** A migrated, empty metadata database of its own, with a Prisma client on it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const url = freshDatabaseUrl();
  await migrate({ databaseUrl: url, logger: memoryLogger().logger });
  const prisma = createPrisma(url);
  return {
    url,
    prisma,
    async drop() {
      await prisma.$disconnect();
      await dropDatabase(url);
    },
  };
}
