import type { PrismaClient } from "../db/client.ts";
import type { RestoreEvents } from "../restore/events.ts";
import type { SqlguardMetrics } from "./metrics.ts";

/**
 * Feeds `sqlguard_restore_drill_status` and `sqlguard_restore_drill_restore_seconds`: the newest
 * finished drill per source server and database from the database at start, then each
 * DRILL_FINISHED event. Returns the function that stops following the events.
 */
export async function followDrills(prisma: PrismaClient, metrics: SqlguardMetrics, events: RestoreEvents): Promise<() => void> {
  const live = new Set<string>();
  const off = events.on((event) => {
    if (event.type !== "DRILL_FINISHED" || (event.status !== "PASSED" && event.status !== "FAILED")) return;
    live.add(`${event.sourceServerName}\u0000${event.database}`);
    metrics.recordDrill({ server: event.sourceServerName, database: event.database }, event.status === "PASSED", event.restoreMs);
  });
  const latest = await prisma.restoreDrill.findMany({
    where: { status: { in: ["PASSED", "FAILED"] } },
    orderBy: { id: "desc" },
    distinct: ["sourceServerName", "database"],
    select: { sourceServerName: true, database: true, status: true, restoreMs: true },
  });
  // A drill that finished while loading is newer than what the load read.
  for (const d of latest)
    if (!live.has(`${d.sourceServerName}\u0000${d.database}`))
      metrics.recordDrill({ server: d.sourceServerName, database: d.database }, d.status === "PASSED", d.restoreMs);
  return off;
}
