import type { DumpEngine } from "./dump-engine.ts";
import type { ServerConnection } from "./dumpers/types.ts";

/**
 * What a backup's artifact is expected to weigh at most, to size S3 parts from the start (they
 * also grow as the upload goes, so a low guess is never fatal): the larger of the previous
 * backup's stored size and the database's size on the server. Undefined when neither is known.
 */
export async function expectedArtifactBytes(
  engine: Pick<DumpEngine, "estimateBytes">,
  conn: ServerConnection,
  database: string,
  previous: Promise<number | undefined>,
): Promise<number | undefined> {
  const [last, estimate] = await Promise.all([previous, engine.estimateBytes?.(conn, database).catch(() => null) ?? null]);
  const known = [last, estimate].filter((n): n is number => typeof n === "number" && n > 0);
  return known.length ? Math.max(...known) : undefined;
}
