import { AuditLog } from "./audit/audit-log.ts";
import { AuthService } from "./auth/auth.service.ts";
import type { ConfigListener } from "./catalog/catalog-deps.ts";
import { DumpOptionsService } from "./catalog/dump-options.service.ts";
import { RetentionRulesService } from "./catalog/retention-rules.service.ts";
import { SchedulesService } from "./catalog/schedules.service.ts";
import { ServersService } from "./catalog/servers.service.ts";
import { StorageTargetsService } from "./catalog/storage-targets.service.ts";
import { UsersService } from "./catalog/users.service.ts";
import type { PrismaClient } from "./db/client.ts";
import type { Services } from "./graphql/context.ts";
import type { SecretBox } from "./secrets/secret-box.ts";

/** Wires the services over one Prisma client. Used by main.ts and by integration tests. */
export function createServices(deps: { prisma: PrismaClient; secrets: SecretBox; sessionTtlMs: number; onChange?: ConfigListener }): Services {
  const audit = new AuditLog(deps.prisma);
  const catalog = { prisma: deps.prisma, secrets: deps.secrets, audit, onChange: deps.onChange ?? (() => {}) };
  return {
    auth: new AuthService(deps.prisma, audit, deps.sessionTtlMs),
    servers: new ServersService(catalog),
    dumpOptions: new DumpOptionsService(catalog),
    storageTargets: new StorageTargetsService(catalog),
    schedules: new SchedulesService(catalog),
    retentionRules: new RetentionRulesService(catalog),
    users: new UsersService(catalog),
  };
}
