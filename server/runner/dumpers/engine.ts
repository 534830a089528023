import { captureTableStats } from "../table-stats.ts";
import type { DumpEngine } from "../dump-engine.ts";
import { buildDump, buildParallel } from "./build-dump.ts";
import { dumpWarnings, inspectServer, replicationPosition } from "./discovery.ts";
import { estimateDatabaseBytes } from "./size-estimate.ts";
import { detectTools } from "./tools.ts";

/** The real adapter: dump programs on this machine, live servers through the mariadb and pg drivers. */
export const dumpEngine: DumpEngine = {
  tools: detectTools,
  inspect: inspectServer,
  position: replicationPosition,
  build: buildDump,
  buildParallel,
  // Names only: a drill counts the dump's own rows, not a second scan of the source.
  tableStats: (conn, database) => captureTableStats(conn, database, { countRows: false }),
  dumpWarnings,
  estimateBytes: estimateDatabaseBytes,
};
