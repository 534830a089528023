import type { AuditLog } from "../audit/audit-log.ts";
import type { AuthService } from "../auth/auth.service.ts";
import type { OidcService } from "../auth/oidc/oidc.service.ts";
import type { SecondFactorService } from "../auth/second-factor.service.ts";
import type { SignInSettingsService } from "../auth/sign-in-settings.service.ts";
import type { BackupsService } from "../backups/backups.service.ts";
import type { DashboardService } from "../backups/dashboard.service.ts";
import type { DatabaseDetailService } from "../backups/database-detail.service.ts";
import type { ProbesService } from "../backups/probes.service.ts";
import type { RepairService } from "../backups/repair.service.ts";
import type { AcknowledgementsService } from "../backups/acknowledgements.ts";
import type { Principal } from "../auth/roles.ts";
import type { DumpOptionsService } from "../catalog/dump-options.service.ts";
import type { EncryptionKeys } from "../encryption/keys.service.ts";
import type { EncryptionRewraps } from "../encryption/rewrap.ts";
import type { RetentionRulesService } from "../catalog/retention-rules.service.ts";
import type { SchedulesService } from "../catalog/schedules.service.ts";
import type { ServersService } from "../catalog/servers.service.ts";
import type { StorageTargetsService } from "../catalog/storage-targets.service.ts";
import type { UsersService } from "../catalog/users.service.ts";
import type { PrismaClient } from "../db/client.ts";
import type { DrillsService } from "../restore/drills.service.ts";
import type { RestoresService } from "../restore/restores.service.ts";
import type { VerificationService } from "../restore/verification.service.ts";
import type { RetentionSweeper } from "../retention/sweeper.ts";
import type { BackupHealthService } from "../scheduler/backup-health.service.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import type { WebhookDispatcher } from "../notifications/dispatcher.ts";
import type { WebhooksService } from "../notifications/webhooks.service.ts";
import type { ConfigurationService } from "../config-as-code/configuration.service.ts";
import type { ConfigFile } from "../config-as-code/config-file.ts";
import type { NotificationChannelsService } from "../notifications/channels.service.ts";
import type { NotificationRulesService } from "../notifications/rules.service.ts";
import type { Notifier } from "../notifications/notifier.ts";
import type { WeeklyReportService } from "../notifications/weekly-report.ts";

/** The services resolvers call; resolvers hold no logic of their own. */
export type Services = {
  /** The audit log: written by every service, read by the auditLog query. */
  audit: AuditLog;
  auth: AuthService;
  signIn: SignInSettingsService;
  secondFactor: SecondFactorService;
  oidc: OidcService;
  servers: ServersService;
  dumpOptions: DumpOptionsService;
  encryptionKeys: EncryptionKeys;
  encryptionRewraps: EncryptionRewraps;
  storageTargets: StorageTargetsService;
  schedules: SchedulesService;
  retentionRules: RetentionRulesService;
  users: UsersService;
  backups: BackupsService;
  probes: ProbesService;
  dashboard: DashboardService;
  databaseDetail: DatabaseDetailService;
  scheduler: Scheduler;
  retention: RetentionSweeper;
  health: BackupHealthService;
  restores: RestoresService;
  verification: VerificationService;
  drills: DrillsService;
  webhooks: WebhooksService;
  notifications: WebhookDispatcher;
  repair: RepairService;
  acknowledgements: AcknowledgementsService;
  configuration: ConfigurationService;
  /** SQLGUARD_CONFIG_FILE, applied at start and on SIGHUP; null when unset. */
  configFile: ConfigFile | null;
  notificationChannels: NotificationChannelsService;
  notificationRules: NotificationRulesService;
  notifier: Notifier;
  weeklyReport: WeeklyReportService;
};

/** Session cookie control for the login and logout mutations. */
export type SessionCookie = {
  /** The session token the request carried, if any. */
  current: string | undefined;
  set(token: string, expiresAt: Date): void;
  clear(): void;
};

export type GraphQLContext = {
  principal: Principal | null;
  /** The caller's address (login throttling and its log lines); "unknown" outside an HTTP server. */
  clientAddress: string;
  services: Services;
  prisma: PrismaClient;
  session: SessionCookie;
  /** Per-request memo: a lookup shared by every field of one request is loaded once. */
  memo<T>(key: string, load: () => Promise<T>): Promise<T>;
};
