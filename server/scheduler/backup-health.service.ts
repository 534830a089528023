import { requireRole, type Principal } from "../auth/roles.ts";
import { selectDatabases } from "../catalog/glob.ts";
import { latestByStatus } from "../db/backup-stats.ts";
import type { PrismaClient } from "../db/client.ts";
import type { Clock } from "./clock.ts";
import { assessHealth, type CoveringSchedule, type DatabaseCoverage, type DatabaseHealth } from "./overdue.ts";

/** What the health service needs. */
export type BackupHealthDeps = {
  prisma: PrismaClient;
  clock: Clock;
  /** Time a scheduled backup is given to finish before its database counts as overdue. */
  graceMs: number;
};

/**
 * Per database of every enabled server that an enabled schedule covers: the last success, the
 * expected-by time derived from the schedules, and whether it is overdue. Databases are the ones
 * the backup history knows (a query never connects to servers), filtered by each server's current
 * include/exclude patterns; a covered server with none yet appears once, with database null.
 */
export class BackupHealthService {
  constructor(private readonly deps: BackupHealthDeps) {}

  /** Viewer role. Overdue databases first, then by server and database name. */
  async list(principal: Principal, filter: { overdueOnly?: boolean | null; serverId?: number | null } = {}): Promise<DatabaseHealth[]> {
    requireRole(principal, "VIEWER");
    const { prisma } = this.deps;
    const schedules = await prisma.schedule.findMany({ where: { enabled: true }, include: { servers: { select: { serverId: true } } } });
    const servers = await prisma.server.findMany({ where: { enabled: true, ...(filter.serverId != null ? { id: filter.serverId } : {}) }, orderBy: { name: "asc" } });
    const serverIds = servers.map((s) => s.id);
    const known = await prisma.backup.groupBy({ by: ["serverId", "database"], where: { serverId: { in: serverIds } } });
    const lastSuccess = new Map<string, Date>();
    for (const row of await latestByStatus(prisma)) {
      const key = `${row.serverId}\u0000${row.database}`;
      if (row.status !== "FAILED" && !(lastSuccess.get(key)! >= row.at)) lastSuccess.set(key, row.at);
    }
    const now = this.deps.clock.now();
    const out: DatabaseHealth[] = [];
    for (const server of servers) {
      const covering: CoveringSchedule[] = schedules
        .filter((s) => s.servers.length === 0 || s.servers.some((l) => l.serverId === server.id))
        .map((s) => ({ id: s.id, name: s.name, spec: { expression: s.cronExpression, timezone: s.timezone }, createdAt: s.createdAt }));
      if (covering.length === 0) continue;
      const names = known.filter((k) => k.serverId === server.id).map((k) => k.database);
      const databases = selectDatabases(names, server.includeDatabases as string[], server.excludeDatabases as string[]);
      const base = { serverId: server.id, serverName: server.name, serverCreatedAt: server.createdAt, schedules: covering };
      const entries: DatabaseCoverage[] = databases.length
        ? databases.map((database) => ({ ...base, database, lastSuccessAt: lastSuccess.get(`${server.id}\u0000${database}`) ?? null }))
        : [{ ...base, database: null, lastSuccessAt: null }];
      for (const entry of entries) out.push(assessHealth(entry, now, this.deps.graceMs));
    }
    const shown = filter.overdueOnly ? out.filter((h) => h.overdue) : out;
    return shown.sort((a, b) => Number(b.overdue) - Number(a.overdue) || a.serverName.localeCompare(b.serverName) || (a.database ?? "").localeCompare(b.database ?? ""));
  }
}
