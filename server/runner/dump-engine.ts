import type { TableStats } from "./table-stats.ts";
import type { BuildOptions, DumpCommand, DumpProfile, DumpTools, ReplicationPosition, ServerConnection, ServerInspection } from "./dumpers/types.ts";

/**
 * What the runner needs from database servers and dump programs, behind one narrow adapter, so a
 * unit test can hand it a dump that exits 1 or a server that refuses connections.
 */
export type DumpEngine = {
  tools(): Promise<DumpTools>;
  inspect(conn: ServerConnection): Promise<ServerInspection>;
  position(conn: ServerConnection): Promise<ReplicationPosition | null>;
  build(conn: ServerConnection, profile: DumpProfile | null, database: string, tools: DumpTools, serverVersion: string, options?: BuildOptions): DumpCommand;
  /** The PARALLEL engine's command, writing a directory inside `spool` (an empty directory of this backup's own). */
  buildParallel?(
    conn: ServerConnection,
    profile: DumpProfile | null,
    database: string,
    tools: DumpTools,
    serverVersion: string,
    spool: string,
  ): Promise<DumpCommand>;
  /** The database's size on the server (an upper-bound guess of its artifact's size), null when unknown; never throws. */
  estimateBytes?(conn: ServerConnection, database: string): Promise<number | null>;
  /** Tables with exact row counts and object names, captured right before a dump that restore drills will check. */
  tableStats?(conn: ServerConnection, database: string): Promise<TableStats>;
  /** What a dump of `database` with `profile` will leave out or not take consistently: the backup's warnings. */
  dumpWarnings?(conn: ServerConnection, database: string, profile: DumpProfile | null): Promise<string[]>;
};
