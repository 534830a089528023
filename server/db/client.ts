import { PrismaMariaDb } from "@prisma/adapter-mariadb";
import { PrismaClient } from "./generated/client.ts";

export type { PrismaClient };
export { Prisma } from "./generated/client.ts";

/**
 * Socket settings unless the URL sets its own: a metadata server that stops answering without
 * closing the connection (a network partition, a frozen host) must fail the query, so that the
 * record writer's retries and the lease logic take over, instead of hanging it for ever. Metadata
 * queries take milliseconds; the longest waits (migration lock, GET_LOCK 10 s) are far below.
 */
const SOCKET_DEFAULTS = { connectTimeout: "10000", socketTimeout: "120000" };

/** Builds the Prisma client over the MariaDB driver adapter (works for MySQL too). */
export function createPrisma(databaseUrl: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaMariaDb(withSocketDefaults(databaseUrl)) });
}

/** The URL with connectTimeout / socketTimeout added where it does not set them. */
export function withSocketDefaults(databaseUrl: string): string {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    return databaseUrl;
  }
  for (const [name, value] of Object.entries(SOCKET_DEFAULTS)) if (!url.searchParams.has(name)) url.searchParams.set(name, value);
  return url.toString();
}
