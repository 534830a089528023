import type { PrismaClient } from "../db/client.ts";
import { selectDatabases } from "./glob.ts";

/**
 * Names of databases SQLGuard itself created on a server by restoring into a new database (its
 * default name `<db>_restored_<time>` matches patterns such as `crm*`), and the scratch databases
 * of overwrite restores and restore drills. A name that had been backed up on this server before
 * it was first restored into (a lost database restored under its own name) is not one of them.
 */
export async function restoredDatabases(prisma: Pick<PrismaClient, "restore" | "restoreDrill" | "backup">, serverId: number): Promise<Set<string>> {
  const [restores, drills] = await Promise.all([
    prisma.restore.findMany({
      where: { serverId, OR: [{ createdDatabase: true }, { overwrite: false, status: { in: ["PENDING", "RUNNING"] } }, { scratchDatabase: { not: null } }] },
      select: { database: true, scratchDatabase: true, createdDatabase: true, overwrite: true, status: true, createdAt: true },
    }),
    prisma.restoreDrill.findMany({ where: { serverId }, select: { scratchDatabase: true }, distinct: ["scratchDatabase"] }),
  ]);
  const out = new Set<string>(drills.map((d) => d.scratchDatabase));
  const firstRestore = new Map<string, Date>();
  for (const r of restores) {
    if (r.scratchDatabase) out.add(r.scratchDatabase);
    if (r.createdDatabase || (!r.overwrite && (r.status === "PENDING" || r.status === "RUNNING"))) {
      const at = firstRestore.get(r.database);
      if (!at || r.createdAt < at) firstRestore.set(r.database, r.createdAt);
    }
  }
  if (firstRestore.size) {
    const before = await prisma.backup.findMany({
      where: { serverId, OR: [...firstRestore].map(([database, at]) => ({ database, createdAt: { lt: at } })) },
      select: { database: true },
      distinct: ["database"],
    });
    const backedUpBefore = new Set(before.map((b) => b.database));
    for (const name of firstRestore.keys()) if (!backedUpBefore.has(name)) out.add(name);
  }
  return out;
}

/**
 * The databases a backup of the server covers: its include / exclude patterns applied, then the
 * databases SQLGuard created by a restore left out, unless an include pattern names one exactly.
 */
export function selectBackupDatabases(names: string[], server: { includeDatabases: unknown; excludeDatabases: unknown }, restored: Set<string>): string[] {
  const include = server.includeDatabases as string[];
  return selectDatabases(names, include, server.excludeDatabases as string[]).filter((n) => !restored.has(n) || include.includes(n));
}
