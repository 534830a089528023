import { requireRole, type Principal } from "../auth/roles.ts";
import type { PrismaClient } from "../db/client.ts";
import type { Clock } from "./clock.ts";
import { loadCoverage } from "./coverage.ts";
import { assessHealth, type DatabaseHealth } from "./overdue.ts";

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
    const now = this.deps.clock.now();
    const out = (await loadCoverage(this.deps.prisma, filter)).map(({ lastFailureAt: _failure, ...entry }) => assessHealth(entry, now, this.deps.graceMs));
    const shown = filter.overdueOnly ? out.filter((h) => h.overdue) : out;
    return shown.sort(
      (a, b) => Number(b.overdue) - Number(a.overdue) || a.serverName.localeCompare(b.serverName) || (a.database ?? "").localeCompare(b.database ?? ""),
    );
  }
}
