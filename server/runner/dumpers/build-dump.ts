import { buildMysqlDump } from "./mysql-dumper.ts";
import { buildParallelDump } from "./parallel-dumper.ts";
import { buildPgDump } from "./pg-dumper.ts";
import { endSessionsByClientPort } from "./server-session.ts";
import type { BuildOptions, DumpCommand, DumpProfile, DumpTools, ServerConnection } from "./types.ts";

/**
 * The dump command for one database of a server, by engine. Throws an Error with a message fit
 * for the backup record when the dump program is missing, too old for the server, or the
 * profile holds a flag that is not allowed.
 */
export function buildDump(
  conn: ServerConnection,
  profile: DumpProfile | null,
  database: string,
  tools: DumpTools,
  serverVersion: string,
  options: BuildOptions = {},
): DumpCommand {
  const endServerSession = (ports: number[]) =>
    endSessionsByClientPort(conn, ports).then(
      () => {},
      () => {},
    );
  switch (conn.engine) {
    case "MYSQL":
    case "MARIADB":
      return { ...buildMysqlDump(conn, profile, database, tools, serverVersion, options), endServerSession };
    case "POSTGRESQL":
      return { ...buildPgDump(conn, profile, database, tools, serverVersion), endServerSession };
    default:
      throw new Error(`unknown database engine ${JSON.stringify(conn.engine satisfies never)}`);
  }
}

/** The PARALLEL engine's command (mydumper, pg_dump -Fd -j) writing into `spool`; throws like buildDump. */
export async function buildParallel(
  conn: ServerConnection,
  profile: DumpProfile | null,
  database: string,
  tools: DumpTools,
  serverVersion: string,
  spool: string,
): Promise<DumpCommand> {
  const endServerSession = (ports: number[]) =>
    endSessionsByClientPort(conn, ports).then(
      () => {},
      () => {},
    );
  return { ...(await buildParallelDump(conn, profile, database, tools, serverVersion, spool)), endServerSession };
}
