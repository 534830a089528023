import type { PrismaClient } from "../db/client.ts";
import type { Logger } from "../observability/logger.ts";

/** /readyz: ready once the metadata database answers and every migration this version ships is applied. */
export async function readiness(prisma: PrismaClient, migrations: string[], log: Logger): Promise<{ ready: boolean; reason?: string }> {
  try {
    const rows = await prisma.$queryRaw<Array<{ migration_name: string }>>`
      SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`;
    const applied = new Set(rows.map((r) => r.migration_name));
    const pending = migrations.filter((m) => !applied.has(m));
    return pending.length ? { ready: false, reason: `migrations not applied: ${pending.join(", ")}` } : { ready: true };
  } catch (error) {
    log.warn({ err: error }, "readiness check cannot reach the metadata database");
    return { ready: false, reason: "metadata database unreachable" };
  }
}
