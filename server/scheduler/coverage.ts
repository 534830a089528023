import { restoredDatabases, selectBackupDatabases } from "../catalog/restored-databases.ts";
import { scheduleCovers } from "../catalog/server-selector.ts";
import { labelsOf } from "../catalog/servers.service.ts";
import { latestByStatus } from "../db/backup-stats.ts";
import type { PrismaClient } from "../db/client.ts";
import type { CoveringSchedule, DatabaseCoverage } from "./overdue.ts";

/** A covered database, with the newest start of a failed run (null without one). */
/** `serverLabels`: the server's labels now, in key order (the dashboard filters by them). */
export type CoveredDatabase = DatabaseCoverage & { lastFailureAt: Date | null; serverLabels: Array<{ key: string; value: string }> };

/**
 * Which databases the enabled schedules cover now, with their last success and failure: every
 * enabled server an enabled schedule covers (chosen, by label, or "all servers"), and per server the
 * databases the backup history knows, filtered by its current include/exclude patterns; a covered
 * server with none yet appears once, with database null. Never connects to the servers. Used by
 * the health service (overdue) and the dashboard, so both see the same set.
 */
export async function loadCoverage(prisma: PrismaClient, filter: { serverId?: number | null } = {}): Promise<CoveredDatabase[]> {
  const [schedules, servers, known, latest] = await Promise.all([
    prisma.schedule.findMany({ where: { enabled: true }, include: { servers: { select: { serverId: true } } } }),
    prisma.server.findMany({ where: { enabled: true, ...(filter.serverId != null ? { id: filter.serverId } : {}) }, orderBy: { name: "asc" } }),
    // GROUP BY on an index prefix: MariaDB jumps from group to group instead of reading every row.
    prisma.$queryRaw<
      Array<{ serverId: number; database: string }>
    >`SELECT serverId, \`database\` FROM Backup WHERE serverId IS NOT NULL GROUP BY serverId, \`database\``,
    latestByStatus(prisma),
  ]);
  // Databases SQLGuard created by a restore are not covered (unless included by exact name).
  const restored = new Map(await Promise.all(servers.map(async (s) => [s.id, await restoredDatabases(prisma, s.id)] as const)));
  const key = (serverId: number, database: string) => `${serverId}\u0000${database}`;
  const lastSuccess = new Map<string, Date>();
  const lastFailure = new Map<string, Date>();
  for (const row of latest) {
    const k = key(row.serverId, row.database);
    if (row.status === "FAILED") lastFailure.set(k, row.at);
    else if (!(lastSuccess.get(k)! >= row.at)) lastSuccess.set(k, row.at);
  }
  const out: CoveredDatabase[] = [];
  for (const server of servers) {
    const covering: CoveringSchedule[] = schedules
      .filter((s) => scheduleCovers({ serverIds: s.servers.map((l) => l.serverId), serverLabels: s.serverLabels }, server))
      .map((s) => ({ id: s.id, name: s.name, spec: { expression: s.cronExpression, timezone: s.timezone }, createdAt: s.createdAt }));
    if (covering.length === 0) continue;
    const names = known.filter((k) => k.serverId === server.id).map((k) => k.database);
    const databases = selectBackupDatabases(names, server, restored.get(server.id) ?? new Set());
    const base = { serverId: server.id, serverName: server.name, serverLabels: labelsOf(server), serverCreatedAt: server.createdAt, schedules: covering };
    if (databases.length === 0) out.push({ ...base, database: null, lastSuccessAt: null, lastFailureAt: null });
    for (const database of databases) {
      out.push({
        ...base,
        database,
        lastSuccessAt: lastSuccess.get(key(server.id, database)) ?? null,
        lastFailureAt: lastFailure.get(key(server.id, database)) ?? null,
      });
    }
  }
  return out;
}
