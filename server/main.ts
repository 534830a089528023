/**
 * Composition root: parse the environment, migrate the metadata database, seed the defaults on
 * first start, wire the services, settle what a previous process left running, listen, start the
 * leases, the work queue's claims, the retention sweeper and the scheduler (which runs what was
 * missed while down), and drain on SIGTERM / SIGINT (running backups are stopped and recorded as
 * interrupted).
 *
 * SQLGUARD_ROLE: `all` does everything; `api` serves GraphQL, the console and /metrics and claims
 * no backup; `worker` claims and runs backups and serves /healthz, /readyz and /metrics only; its
 * process never loads GraphQL, yoga, Pothos or the console (app.ts is imported only for the other
 * roles). Whatever the roles, one instance at a time fires the schedules' ticks and one sweeps
 * retention (leases in the metadata database, server/queue/leader-lease.ts).
 */
import http from "node:http";
import { fileURLToPath } from "node:url";
import { listenUrl } from "./http/listen-url.ts";
import { createWorkerApp } from "./http/worker-app.ts";
import { seedDefaults } from "./catalog/defaults.ts";
import {
  ConfigError,
  parseConfig,
  parseConfigFileEnv,
  parseEdgeConfig,
  parseMetricsAuth,
  parseQueueConfig,
  parseReliabilityConfig,
  parseSchedulingConfig,
  parseSignInEnv,
  parseVerifyIntervalMs,
  parsePitrCheckpointMs,
  parseWeeklyReportConfig,
} from "./config/env.ts";
import { ConfigFileError } from "./config-as-code/config-file.ts";
import { createPrisma } from "./db/client.ts";
import { migrate, readMigrations } from "./db/migrator.ts";
import { createLogger } from "./observability/logger.ts";
import { loadSecretKey, SecretBox } from "./secrets/secret-box.ts";
import { followDrills } from "./observability/drill-metrics.ts";
import { pitrRestoreRoot, sweepOrphanedInstances } from "./pitr/pg/orphan-instances.ts";
import { LeaderLease } from "./queue/leader-lease.ts";
import { CronerDriver } from "./scheduler/cron-driver.ts";
import { createRuntime } from "./services.ts";

const CONSOLE_DIR = fileURLToPath(new URL("../console/out", import.meta.url));

async function main(): Promise<void> {
  let config;
  let scheduling;
  let metricsAuth;
  let edge;
  let signIn;
  let weeklyReport;
  let configFileEnv;
  let queue;
  try {
    config = parseConfig(process.env);
    scheduling = parseSchedulingConfig(process.env);
    metricsAuth = parseMetricsAuth(process.env);
    edge = parseEdgeConfig(process.env);
    signIn = parseSignInEnv(process.env);
    weeklyReport = parseWeeklyReportConfig(process.env);
    configFileEnv = parseConfigFileEnv(process.env);
    queue = parseQueueConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`sqlguard: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel, pretty: Boolean(process.stdout.isTTY) });
  const log = logger.child({ component: "main" });
  log.info({ instanceId: config.instanceId, role: queue.role, port: config.port, dataDir: config.dataDir }, "starting SQLGuard");

  const secrets = new SecretBox(await loadSecretKey(config));
  const { applied } = await migrate({ databaseUrl: config.databaseUrl, logger: logger.child({ component: "migrator" }) });
  log.info({ applied: applied.length }, "metadata database migrated");
  const migrations = (await readMigrations()).map((m) => m.name);

  const prisma = createPrisma(config.databaseUrl);
  const seed = await seedDefaults(prisma, { dataDir: config.dataDir, adminPassword: config.adminPassword });
  if (seed.seeded) log.info("first start: created the admin user, the local storage target and the default schedules");
  if (seed.generatedAdminPassword) {
    // Printed once, outside the structured log, so it is not shipped to log collectors with the rest.
    process.stdout.write(
      `\n  SQLGuard created the user "admin" with the password:\n\n      ${seed.generatedAdminPassword}\n\n  It is shown only this once. Set SQLGUARD_ADMIN_PASSWORD to choose your own on a fresh install.\n\n`,
    );
  }

  const reliability = parseReliabilityConfig(process.env);
  // Set once the scheduler lease is built below; ticks fire only on its holder.
  let schedulerLease: LeaderLease | null = null;
  const { services, runner, scheduler, leases, sweeper, metrics, restore, overdue, interrupted, healthMonitor, pitr } = createRuntime({
    prisma,
    secrets,
    logger,
    sessionTtlMs: config.sessionTtlHours * 3_600_000,
    instanceId: config.instanceId,
    // Heartbeats renew a running backup's lease well within its length.
    limits: { ...config.backups, retryBaseMs: reliability.retryBaseMs, heartbeatMs: Math.min(5_000, scheduling.leaseMs / 4) },
    scheduling,
    verifyIntervalMs: parseVerifyIntervalMs(process.env),
    pitrCheckpointMs: parsePitrCheckpointMs(process.env),
    autoRepairMs: reliability.autoRepairMs,
    healthIntervalMs: reliability.healthIntervalMs,
    dataDir: config.dataDir,
    webhookNetwork: { allowLinkLocal: edge.webhookAllowLinkLocal },
    signIn,
    publicUrl: edge.publicUrl,
    weeklyReport,
    // Configuration documents resolve `${env:NAME}` placeholders from this process's environment.
    secretSource: { env: process.env },
    configFile: configFileEnv.path ? { path: configFileEnv.path, prune: configFileEnv.prune } : undefined,
    queue: { claims: queue.role !== "api", clusterMax: queue.clusterMax },
    fires: () => schedulerLease?.held === true,
  });
  // Webhooks the SQL migration copied into notification channels get their URLs sealed.
  await services.notificationChannels.sealLegacyUrls();
  // What a previous process left PENDING or RUNNING: a backup whose artifacts were committed ends SUCCEEDED, the rest FAILED.
  await interrupted.recover();
  // SQLGUARD_CONFIG_FILE: applied before anything listens or runs; a bad file stops the start (exit 2).
  const configFile = services.configFile;
  if (configFile) {
    try {
      await configFile.apply();
    } catch (error) {
      if (!(error instanceof ConfigFileError)) throw error;
      process.stderr.write(`sqlguard: ${error.message}\n`);
      await prisma.$disconnect();
      process.exit(2);
    }
    // SIGHUP applies it again; a bad file is logged and changes nothing.
    process.on("SIGHUP", () => void configFile.reload().catch((error: unknown) => log.error({ err: error }, "configuration file reload failed")));
  }
  void runner.removeStalePartials(new Date(Date.now() - 2 * Math.max(config.backups.stallMs, 60_000)));
  void runner.removeStaleSpool(new Date(Date.now() - 2 * Math.max(config.backups.stallMs, 60_000)));
  // Temporary PostgreSQL instances (point-in-time restores and drills, the CLI's too) of a process that
  // died: stopped and removed, at start and every 10 minutes (another process on this host may die).
  void sweepOrphanedInstances(pitrRestoreRoot(), log);
  setInterval(() => void sweepOrphanedInstances(pitrRestoreRoot(), log), 600_000).unref();
  // Before anything runs a backup, the metrics follow the events (at once) and load what survives a
  // restart from the database (in the background; /metrics answers 503 until then).
  void metrics.start();
  const stopDrillMetrics = await followDrills(prisma, metrics.metrics, restore.events);
  const metricsEndpoint = { source: metrics, auth: metricsAuth };
  const app =
    queue.role === "worker"
      ? createWorkerApp({ prisma, logger, migrations, metrics: metricsEndpoint })
      : (await import("./app.ts")).createApp({ prisma, services, logger, migrations, consoleDir: CONSOLE_DIR, metrics: metricsEndpoint, edge });
  const server = http.createServer(app.handle);
  // A URL to open (a wildcard bind shown as localhost), and the public one the links in messages use.
  server.listen(config.port, config.host, () =>
    log.info({ url: listenUrl(config.host, config.port), ...(edge.publicUrl ? { publicUrl: edge.publicUrl } : {}) }, "listening"),
  );
  leases.start();
  restore.start();
  healthMonitor.start();
  metrics.metrics.setWorkerSlots(config.instanceId, queue.role === "api" ? { busy: 0, free: 0 } : runner.slots);
  // The work queue: claim what is PENDING now, then whenever a slot frees up and every poll.
  if (queue.role !== "api") {
    runner.startClaiming(queue.pollMs);
    restore.jobs.startClaiming(queue.pollMs);
    restore.drills.startClaiming(queue.pollMs);
    restore.verification.startClaiming(queue.pollMs);
  }
  // One instance sweeps retention: whichever holds the "retention" lease.
  const retentionLease = new LeaderLease({
    prisma,
    logger,
    name: "retention",
    holder: config.instanceId,
    leaseMs: scheduling.leaseMs,
    onChange: (held) => (held ? sweeper.start() : void sweeper.stop()),
  });
  retentionLease.start();
  // Binlog archiving runs where work runs (its streamers are leased per server across instances).
  if (queue.role !== "api") pitr.start();
  // The weekly e-mail report, on a cron driver of its own (the scheduler's reconcile owns the other).
  const reportCron = new CronerDriver(logger);
  if (scheduling.cronEnabled) {
    // Every instance keeps its cron jobs (their next run times); only the "scheduler" lease's holder
    // records the ticks, the overdue notices and the weekly report. Taking the lease over runs what
    // was missed meanwhile (RUN_ONCE), as a start does.
    schedulerLease = new LeaderLease({
      prisma,
      logger,
      name: "scheduler",
      holder: config.instanceId,
      leaseMs: scheduling.leaseMs,
      onChange: (held, takeOver) => {
        if (held) {
          void scheduler.tookOver(takeOver, scheduling.leaseMs);
          overdue.start();
          services.weeklyReport.start(reportCron);
        } else {
          overdue.stop();
          reportCron.stopAll();
        }
      },
    });
    void scheduler
      .start()
      .then(() => schedulerLease?.start())
      .catch((error: unknown) => log.error({ err: error }, "the scheduler failed to start"));
  } else log.info("scheduler disabled on this instance (SQLGUARD_SCHEDULER_ENABLED=false)");

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    server.close(async () => {
      await schedulerLease?.stop();
      await retentionLease.stop();
      await scheduler.stop();
      reportCron.stopAll();
      overdue.stop();
      healthMonitor.stop();
      await pitr.stop();
      leases.stop();
      await sweeper.stop();
      await restore.stop();
      // A rewrap stops after its current step and stays RUNNING: the next rewrapBackups resumes it.
      await services.encryptionRewraps.stop();
      await runner.stop();
      metrics.stop();
      stopDrillMetrics();
      // Notifications of the backups just interrupted get a few seconds to go out.
      await services.notifications.stop();
      await services.notifier.stop();
      await prisma.$disconnect();
      log.info("stopped");
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`sqlguard: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
