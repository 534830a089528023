import path from "node:path";
import { hashPassword, randomPassword } from "../auth/password.ts";
import type { PrismaClient } from "../db/client.ts";

/** GoSQLGuard's stock schedules, with the retention each keeps on the default local target. */
export const DEFAULT_SCHEDULES = [
  { name: "hourly", cronExpression: "0 * * * *", description: "Every hour, on the hour", retention: { maxAgeDays: 1, minKeep: 3 } },
  { name: "daily", cronExpression: "0 0 * * *", description: "Every day at midnight", retention: { maxAgeDays: 7, minKeep: 3 } },
  { name: "weekly", cronExpression: "0 0 * * 0", description: "Every Sunday at midnight", retention: { maxAgeDays: 31, minKeep: 2 } },
  { name: "monthly", cronExpression: "0 0 1 * *", description: "The first of every month at midnight", retention: { maxAgeDays: 365, minKeep: 2 } },
] as const;

export type SeedResult = { seeded: boolean; generatedAdminPassword?: string };

/**
 * On the first start against an empty metadata database (no user yet): creates the `admin` user,
 * a default dump option profile, a default local storage target under the data directory, and
 * the hourly / daily / weekly / monthly schedules (all UTC, covering every server) with their
 * retention. Runs under a named lock, so two instances starting together seed once.
 */
export async function seedDefaults(prisma: PrismaClient, options: { dataDir: string; adminPassword?: string }): Promise<SeedResult> {
  const generated = options.adminPassword ? undefined : randomPassword();
  const passwordHash = await hashPassword(options.adminPassword ?? generated!);
  return prisma.$transaction(
    async (tx) => {
      await tx.$queryRaw`SELECT GET_LOCK('sqlguard_seed', 10)`;
      try {
        if ((await tx.user.count()) > 0) return { seeded: false };
        await tx.user.create({ data: { username: "admin", passwordHash, role: "ADMIN" } });
        await tx.dumpOptions.create({
          data: { name: "default", description: "Consistent InnoDB dumps with routines, triggers and events", mysqlExtraFlags: [], pgExtraFlags: [] },
        });
        const local = await tx.storageTarget.create({
          data: { name: "local", kind: "LOCAL", path: path.join(options.dataDir, "backups"), isDefault: true },
        });
        for (const s of DEFAULT_SCHEDULES) {
          await tx.schedule.create({
            data: {
              name: s.name,
              description: s.description,
              cronExpression: s.cronExpression,
              timezone: "UTC",
              retentionRules: { create: { storageTargetId: local.id, ...s.retention } },
            },
          });
        }
        await tx.auditLog.create({
          data: {
            actor: "system",
            action: "defaults.create",
            entityType: "System",
            after: { schedules: DEFAULT_SCHEDULES.map((s) => s.name), storageTarget: local.name },
          },
        });
        return { seeded: true, generatedAdminPassword: generated };
      } finally {
        await tx.$queryRaw`SELECT RELEASE_LOCK('sqlguard_seed')`;
      }
    },
    { timeout: 30_000 },
  );
}
