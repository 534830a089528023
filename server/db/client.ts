import { PrismaMariaDb } from "@prisma/adapter-mariadb";
import { PrismaClient } from "./generated/client.ts";

export type { PrismaClient };
export { Prisma } from "./generated/client.ts";

/** Builds the Prisma client over the MariaDB driver adapter (works for MySQL too). */
export function createPrisma(databaseUrl: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaMariaDb(databaseUrl) });
}
