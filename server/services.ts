import os from "node:os";
import path from "node:path";
import { AuditLog } from "./audit/audit-log.ts";
import { AuthService } from "./auth/auth.service.ts";
import { OidcService } from "./auth/oidc/oidc.service.ts";
import { SecondFactorService } from "./auth/second-factor.service.ts";
import { type SignInEnv, SignInSettingsService } from "./auth/sign-in-settings.service.ts";
import { BackupsService } from "./backups/backups.service.ts";
import { DashboardService } from "./backups/dashboard.service.ts";
import { DatabaseDetailService } from "./backups/database-detail.service.ts";
import { ProbesService } from "./backups/probes.service.ts";
import type { ConfigListener } from "./catalog/catalog-deps.ts";
import { DumpOptionsService } from "./catalog/dump-options.service.ts";
import { RetentionRulesService } from "./catalog/retention-rules.service.ts";
import { SchedulesService } from "./catalog/schedules.service.ts";
import { ServersService } from "./catalog/servers.service.ts";
import { StorageTargetsService } from "./catalog/storage-targets.service.ts";
import { UsersService } from "./catalog/users.service.ts";
import { EncryptionKeys } from "./encryption/keys.service.ts";
import { archiveRecipientsFrom } from "./pitr/archive-crypto.ts";
import { EncryptionRewraps } from "./encryption/rewrap.ts";
import { ConfigurationService } from "./config-as-code/configuration.service.ts";
import { ConfigFile } from "./config-as-code/config-file.ts";
import type { SecretSource } from "./config-as-code/secrets.ts";
import { BackupsRepository } from "./db/backups.repository.ts";
import type { PrismaClient } from "./db/client.ts";
import type { StorageTarget } from "./db/generated/client.ts";
import type { SchedulingConfig } from "./config/env.ts";
import type { Services } from "./graphql/context.ts";
import type { Logger } from "./observability/logger.ts";
import { BackupRunner, type RunnerLimits } from "./runner/backup-runner.ts";
import type { DumpEngine } from "./runner/dump-engine.ts";
import { dumpEngine } from "./runner/dumpers/engine.ts";
import { BackupEvents } from "./runner/events.ts";
import { MetricsCollector } from "./observability/metrics-collector.ts";
import { cronNextRun, overdueFromHealth } from "./observability/metrics-db-gauges.ts";
import { OverdueWatch } from "./notifications/overdue-watch.ts";
import { WebhookDispatcher } from "./notifications/dispatcher.ts";
import { WebhooksService } from "./notifications/webhooks.service.ts";
import { NotificationChannelsService } from "./notifications/channels.service.ts";
import { NotificationRulesService } from "./notifications/rules.service.ts";
import { ChannelSender } from "./notifications/sender.ts";
import { Notifier } from "./notifications/notifier.ts";
import { PitrService } from "./pitr/pitr-service.ts";
import { connectionOf } from "./runner/connection-of.ts";
import { DEFAULT_WEEKLY_REPORT, WeeklyReportService, type WeeklyReportSchedule } from "./notifications/weekly-report.ts";
import { DEFAULT_DELIVERY, type DeliveryPolicy } from "./notifications/delivery.ts";
import type { SmtpTls } from "./notifications/channels/email.ts";
import { InterruptedWork } from "./recovery/interrupted-work.ts";
import { RestoreEvents } from "./restore/events.ts";
import type { WebhookNetwork } from "./notifications/address-guard.ts";
import { createRestoreRuntime, type RestoreRuntime } from "./restore/restore-runtime.ts";
import { RetentionSweeper } from "./retention/sweeper.ts";
import { AUTO_REPAIR_ACTOR, RepairService } from "./backups/repair.service.ts";
import { HealthMonitor } from "./observability/health-monitor.ts";
import { AcknowledgementsService } from "./backups/acknowledgements.ts";
import { BackupHealthService } from "./scheduler/backup-health.service.ts";
import { systemClock, type Clock } from "./scheduler/clock.ts";
import { CronerDriver, type CronDriver } from "./scheduler/cron-driver.ts";
import { LeaseKeeper } from "./scheduler/lease-keeper.ts";
import { Scheduler } from "./scheduler/scheduler.ts";
import type { SecretBox } from "./secrets/secret-box.ts";
import type { ArtifactStore } from "./storage/artifact-store.ts";
import { createStore, type CreateStoreOptions } from "./storage/create-store.ts";
import { PrismaUploadJournals } from "./storage/upload-journal.ts";

export type RuntimeDeps = {
  prisma: PrismaClient;
  secrets: SecretBox;
  logger: Logger;
  sessionTtlMs: number;
  instanceId: string;
  limits: RunnerLimits;
  onChange?: ConfigListener;
  /** Replaceable in unit tests; the real dump programs and servers otherwise. */
  engine?: DumpEngine;
  /** Scheduling, leases and retention settings; the env defaults where omitted. */
  scheduling?: Partial<SchedulingConfig>;
  /** Replaceable in tests (simulated time); the system clock otherwise. */
  clock?: Clock;
  /** Replaceable in tests (jobs fired by hand); croner otherwise. */
  cron?: CronDriver;
  /** How often stored artifacts are re-read and checked (SQLGUARD_VERIFY_INTERVAL_SECONDS); 0 or omitted = never. */
  verifyIntervalMs?: number;
  /** PARTIAL backups younger than this are repaired by the sweeper (SQLGUARD_AUTO_REPAIR_HOURS); 0 or omitted = never. */
  autoRepairMs?: number;
  /** How often servers and storage targets are checked (SQLGUARD_HEALTH_INTERVAL_SECONDS); 0 or omitted = never. */
  healthIntervalMs?: number;
  /** How often PITR row-count checkpoints are taken (SQLGUARD_PITR_CHECKPOINT_MINUTES); 0 or omitted = never. */
  pitrCheckpointMs?: number;
  /** SQLGuard's data directory (it holds secret.key): no LOCAL storage target may be it or contain it. */
  dataDir?: string;
  /**
   * Where PARALLEL dumps and restores spool their directories; `<dataDir>/spool` by default (the
   * system temporary directory without a data directory). Tests point it at a small tmpfs.
   */
  spoolDir?: string;
  /** Free space a PARALLEL dump wants in the spool, in multiples of the database's estimated size (default 1; 0: no check). */
  spoolReserve?: number;
  /** Which addresses webhooks may reach (SQLGUARD_WEBHOOK_ALLOW_LINK_LOCAL; a fake DNS in tests). */
  webhookNetwork?: WebhookNetwork;
  /** SQLGUARD_OIDC_ALLOW_HTTP and SQLGUARD_BREAK_GLASS_USER; https issuers and `admin` by default. */
  signIn?: SignInEnv;
  /** Where configuration documents' `${env:…}` placeholders are looked up (main.ts: the process environment; none by default). */
  secretSource?: SecretSource;
  /** SQLGUARD_CONFIG_FILE (absolute) and SQLGUARD_CONFIG_PRUNE; main.ts applies it at start and on SIGHUP. */
  configFile?: { path: string; prune: boolean };
  /** SQLGUARD_PUBLIC_URL: notification messages link to the backup in the console. */
  publicUrl?: string;
  /** Notification delivery retries and SMTP TLS (tests: short delays, their own CA). */
  notifications?: { delivery?: Partial<DeliveryPolicy>; smtpTls?: SmtpTls };
  /** When the weekly report goes out (SQLGUARD_WEEKLY_REPORT_CRON / _TIMEZONE); Mondays 08:00 UTC by default. */
  weeklyReport?: WeeklyReportSchedule;
  /**
   * The work queue (server/queue/): `claims` false on an `api` instance (it queues, never runs),
   * `clusterMax` caps RUNNING backups over every instance (SQLGUARD_CLUSTER_MAX_CONCURRENT_BACKUPS).
   */
  queue?: { claims?: boolean; clusterMax?: number };
  /** Whether this instance fires the schedules' ticks now (it holds the scheduler lease); always when omitted. */
  fires?: () => boolean;
};

/** The env defaults (see server/config/env.ts). */
const SCHEDULING_DEFAULTS: SchedulingConfig = {
  cronEnabled: true,
  leaseMs: 60_000,
  pollMs: 15_000,
  retentionIntervalMs: 3_600_000,
  failedGraceMs: 7 * 86_400_000,
  overdueGraceMs: 3_600_000,
};

/**
 * Everything one SQLGuard process runs: the services resolvers call, the backup runner, and the
 * background parts main.ts starts (scheduler, leases, retention sweeper); nothing runs until then.
 */
export type Runtime = {
  services: Services;
  runner: BackupRunner;
  events: BackupEvents;
  scheduler: Scheduler;
  leases: LeaseKeeper;
  sweeper: RetentionSweeper;
  metrics: MetricsCollector;
  restore: RestoreRuntime;
  overdue: OverdueWatch;
  /** Settles interrupted backups and restores: main.ts calls `recover()` at start. */
  interrupted: InterruptedWork;
  /** Periodic reachability checks of servers and storage targets: main.ts starts it. */
  healthMonitor: HealthMonitor;
  /** Binlog archiving for point-in-time recovery: main.ts starts it. */
  pitr: PitrService;
};

/** `<data dir>/spool`, or the system temporary directory's `sqlguard-spool`. */
export function defaultSpoolDir(dataDir: string | undefined): string {
  return dataDir ? path.join(dataDir, "spool") : path.join(os.tmpdir(), "sqlguard-spool");
}

/** Wires the services and the runner over one Prisma client. Used by main.ts and by integration tests. */
export function createRuntime(deps: RuntimeDeps): Runtime {
  const { prisma, secrets, logger, instanceId } = deps;
  const settings = { ...SCHEDULING_DEFAULTS, ...deps.scheduling };
  const clock = deps.clock ?? systemClock;
  const engine = deps.engine ?? dumpEngine;
  // Writes to storage targets are recorded, so that only this installation's dead leftovers are ever removed.
  const storeOptions: CreateStoreOptions = {
    journals: new PrismaUploadJournals({ prisma, instanceId, heartbeatMs: deps.limits.heartbeatMs }),
    dataDir: deps.dataDir,
  };
  const storeFor = storeCache(secrets, storeOptions);
  const events = new BackupEvents();
  const repo = new BackupsRepository(prisma);
  const spoolDir = deps.spoolDir ?? defaultSpoolDir(deps.dataDir);
  const audit = new AuditLog(prisma);
  // The keys encrypted backups are written to (the instance key is generated on first use).
  const encryptionKeys = new EncryptionKeys({ prisma, secrets, audit });
  const runner = new BackupRunner({
    prisma,
    repo,
    secrets,
    storeFor,
    engine,
    events,
    logger,
    instanceId,
    limits: deps.limits,
    spoolDir,
    spoolReserve: deps.spoolReserve,
    encryptionKeys,
    claims: deps.queue?.claims,
    clusterMax: deps.queue?.clusterMax,
    // `metrics` is built below; claims start only after this function returns.
    onClaim: (c) => metrics.metrics.observeJobWait("backup", c.waitSeconds),
    onSlots: (slots) => metrics.metrics.setWorkerSlots(instanceId, slots),
  });
  const restoreEvents = new RestoreEvents();
  // What runs in this process is never settled as interrupted; `restore` is built below.
  const interrupted = new InterruptedWork({
    prisma,
    repo,
    storeFor,
    secrets,
    backupEvents: events,
    restoreEvents,
    logger,
    clock,
    instanceId,
    leaseMs: settings.leaseMs,
    live: { backup: (id) => runner.holds(id), restore: (id) => restore.jobs.holds(id), drill: (id) => restore.drills.holds(id) },
  });
  const repair = new RepairService({ prisma, storeFor, audit, logger, instanceId });
  const backups = new BackupsService({ prisma, repo, runner, engine, secrets, events, instanceId, storeFor, audit, interrupted });
  const cron = deps.cron ?? new CronerDriver(logger);
  const scheduler = new Scheduler({ prisma, backups, events, logger, clock, instanceId, cron, concurrency: 8, pollMs: settings.pollMs, fires: deps.fires });
  const leases = new LeaseKeeper({
    prisma,
    runner,
    interrupted,
    drills: { held: () => restore.drills.held() },
    logger,
    clock,
    instanceId,
    leaseMs: settings.leaseMs,
  });
  const sweeper = new RetentionSweeper({
    prisma,
    storeFor,
    events,
    logger,
    clock,
    failedGraceMs: settings.failedGraceMs,
    intervalMs: settings.retentionIntervalMs,
    autoRepair: { maxAgeMs: deps.autoRepairMs ?? 0, repair: (id) => repair.run(AUTO_REPAIR_ACTOR, id) },
  });
  // Each finished backup has its retention group swept (once the sweeper has started).
  events.on((event) => sweeper.onBackupEvent(event));
  // Every configuration change reaches the scheduler, which reconciles once it has started.
  const onChange: ConfigListener = (change) => {
    deps.onChange?.(change);
    scheduler.onConfigChange(change);
  };
  const catalog = { prisma, secrets, audit, onChange };
  // Restores, artifact verification and restore drills (drills follow successful backups through `events`).
  const restore: RestoreRuntime = createRestoreRuntime({
    prisma,
    secrets,
    storeFor,
    audit,
    backupEvents: events,
    logger,
    clock,
    instanceId,
    heartbeatMs: deps.limits.heartbeatMs,
    verifyIntervalMs: deps.verifyIntervalMs ?? 0,
    interrupted,
    events: restoreEvents,
    spoolDir,
    // Restores are queued work too: claimed by instances that run jobs, as many at once as backups.
    queue: { claims: deps.queue?.claims, maxConcurrent: deps.limits.maxConcurrent, clusterMax: deps.queue?.clusterMax },
  });
  // Webhook notifications: failures, recoveries and successes from `events`; overdue from the scheduler.
  const webhooks = new WebhooksService({ prisma, secrets, audit, network: deps.webhookNetwork });
  const notifications = new WebhookDispatcher({ prisma, webhooks, logger, network: deps.webhookNetwork });
  events.on((event) => notifications.onBackupEvent(event));
  const servers = new ServersService(catalog);
  const draftStoreFor = (t: StorageTarget) => createStore(t, secrets, { dataDir: deps.dataDir });
  const storageTargets = new StorageTargetsService(catalog, { dataDir: deps.dataDir, storeFor: draftStoreFor });
  // Sign-in: the settings row, TOTP, and single sign-on (which creates sessions through auth).
  const signIn = new SignInSettingsService({ prisma, secrets, audit }, deps.signIn ?? { allowHttpIssuer: false, breakGlassUser: "admin" });
  const secondFactor = new SecondFactorService({ prisma, secrets, audit, signIn });
  const auth = new AuthService(prisma, audit, deps.sessionTtlMs, { logger, signIn, secondFactor });
  const oidc = new OidcService({ prisma, secrets, audit, signIn, auth, logger });
  // Notification channels and rules (the webhooks migrated to channels): every event source below.
  const notificationChannels = new NotificationChannelsService({ prisma, secrets, audit, network: deps.webhookNetwork });
  const sender = new ChannelSender({
    prisma,
    channels: notificationChannels,
    logger: logger.child({ component: "notifications" }),
    policy: { ...DEFAULT_DELIVERY, ...deps.notifications?.delivery },
    publicUrl: deps.publicUrl,
    network: deps.webhookNetwork,
    smtpTls: deps.notifications?.smtpTls,
  });
  const notifier = new Notifier({ prisma, channels: notificationChannels, sender, logger, clock });
  events.on((event) => notifier.onBackupEvent(event));
  restore.events.on((event) => notifier.onRestoreEvent(event));
  // Backups and restores share each server's maxConcurrent: a slot one frees may be the other's.
  const ENDED = ["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"];
  events.on((event) => event.type === "STATUS" && ENDED.includes(event.status) && restore.jobs.enqueue());
  restore.events.on((event) => event.type === "RESTORE_STATUS" && ENDED.includes(event.status) && runner.enqueue());
  // rewrapBackups: the age headers of stored artifacts rewritten to the current keys.
  const encryptionRewraps = new EncryptionRewraps({
    prisma,
    secrets,
    keys: encryptionKeys,
    storeFor,
    audit,
    logger,
    instanceId,
    heartbeatMs: deps.limits.heartbeatMs,
  });
  const services: Services = {
    audit,
    auth,
    signIn,
    secondFactor,
    oidc,
    servers,
    dumpOptions: new DumpOptionsService(catalog),
    encryptionKeys,
    encryptionRewraps,
    storageTargets,
    schedules: new SchedulesService(catalog),
    retentionRules: new RetentionRulesService(catalog),
    users: new UsersService(catalog),
    backups,
    probes: new ProbesService({
      prisma,
      secrets,
      engine,
      storeFor,
      draftStoreFor,
      draftServer: (input, id) => servers.draft(input, id),
      draftTarget: (input, id) => storageTargets.draft(input, id),
    }),
    scheduler,
    retention: sweeper,
    health: new BackupHealthService({ prisma, clock, graceMs: settings.overdueGraceMs }),
    dashboard: new DashboardService({
      prisma,
      graceMs: settings.overdueGraceMs,
      now: () => clock.now(),
      events,
      components: () => healthMonitor.snapshot(),
    }),
    databaseDetail: new DatabaseDetailService({ prisma, backups, now: () => clock.now() }),
    restores: restore.restores,
    verification: restore.verification,
    drills: restore.drills,
    webhooks,
    notifications,
    repair,
    acknowledgements: new AcknowledgementsService({ prisma, audit }),
    configuration: new ConfigurationService({
      prisma,
      secrets,
      audit,
      onChange,
      source: deps.secretSource ?? { env: {} },
      dataDir: deps.dataDir,
      network: deps.webhookNetwork,
      now: () => clock.now(),
    }),
    configFile: null,
    notificationChannels,
    notificationRules: new NotificationRulesService({ prisma, audit }),
    notifier,
    weeklyReport: new WeeklyReportService({
      prisma,
      dashboard: { get: (principal) => services.dashboard.get(principal) },
      channels: notificationChannels,
      sender,
      clock,
      logger,
      graceMs: settings.overdueGraceMs,
      schedule: deps.weeklyReport ?? DEFAULT_WEEKLY_REPORT,
      publicUrl: deps.publicUrl,
      signal: () => notifier.signal,
    }),
  };
  if (deps.configFile) services.configFile = new ConfigFile({ configuration: services.configuration, logger, ...deps.configFile, now: () => clock.now() });
  // Started by main.ts (after recovery, before the scheduler), so it loads from the database first.
  const metrics = new MetricsCollector({
    prisma,
    events,
    logger,
    overdue: overdueFromHealth(services.health),
    nextRunAt: (s) => services.scheduler.nextRunAt(s.id) ?? cronNextRun(s),
  });
  // Reachability of every server and target, on the dashboard and in /metrics; it also drops stale series.
  const healthMonitor = new HealthMonitor({
    prisma,
    secrets,
    engine,
    storeFor,
    metrics: metrics.metrics,
    clock,
    logger,
    intervalMs: deps.healthIntervalMs ?? 0,
    // A storage target found down reaches the notification rules with STORAGE_UNREACHABLE.
    onTransition: (r) => {
      if (r.kind === "STORAGE_TARGET" && !r.up) void notifier.notifyStorageDown({ id: r.id, name: r.name }, r.error);
    },
  });
  // A failed restore drill reaches the webhooks that want failures.
  restore.events.on((e) => {
    if (e.type === "DRILL_FINISHED" && e.status === "FAILED")
      void notifications.notifyDrillFailed(e.sourceServerName, e.database, { id: e.drillId, backupId: e.backupId, restoreMs: e.restoreMs, error: e.error });
  });
  // Overdue databases reach the webhooks once per expected-by time.
  const overdue = new OverdueWatch({
    health: services.health,
    notifications: { notifyOverdue: (s, d, f) => Promise.all([notifications.notifyOverdue(s, d, f), notifier.notifyOverdue(s, d, f)]).then(() => {}) },
    clock,
    logger,
    intervalMs: 60_000,
  });
  // Binlog archiving of the servers with point-in-time recovery on (main.ts starts it).
  const pitr = new PitrService({
    prisma,
    logger,
    instanceId,
    spoolRoot: path.join(deps.dataDir ?? os.tmpdir(), "pitr"),
    connectionOf: (s) => connectionOf(s, secrets),
    storeFor,
    metrics: metrics.metrics,
    onBroken: (server, reason) => void notifier.notify("PITR_CHAIN_BROKEN", server, null, { error: reason }),
    checkpointMs: deps.pitrCheckpointMs ?? 0,
    archiveRecipients: archiveRecipientsFrom(prisma, encryptionKeys),
  });
  return { services, runner, events, scheduler, leases, sweeper, metrics, restore, overdue, interrupted, healthMonitor, pitr };
}

/** One store (and S3 client) per target version: an edited target gets a fresh client. */
function storeCache(secrets: SecretBox, options: CreateStoreOptions): (target: StorageTarget) => ArtifactStore {
  const cache = new Map<number, { version: number; store: ArtifactStore }>();
  return (target) => {
    const version = target.updatedAt.getTime();
    const hit = cache.get(target.id);
    if (hit && hit.version === version) return hit.store;
    const store = createStore(target, secrets, options);
    cache.set(target.id, { version, store });
    return store;
  };
}
