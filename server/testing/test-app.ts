import crypto from "node:crypto";
import os from "node:os";
import path from "node:path";
import { createApp } from "../app.ts";
import { hashPassword } from "../auth/password.ts";
import type { Role } from "../auth/roles.ts";
import { seedDefaults } from "../catalog/defaults.ts";
import { readMigrations } from "../db/migrator.ts";
import { SecretBox } from "../secrets/secret-box.ts";
import type { DumpEngine } from "../runner/dump-engine.ts";
import type { RunnerLimits } from "../runner/backup-runner.ts";
import { createRuntime, type RuntimeDeps } from "../services.ts";
import type { SignInEnv } from "../auth/sign-in-settings.service.ts";
import type { SchedulingConfig } from "../config/env.ts";
import type { Clock } from "../scheduler/clock.ts";
import type { CronDriver } from "../scheduler/cron-driver.ts";
import { createTestDatabase, memoryLogger, type TestDatabase } from "./test-db.ts";

export type GqlResult<T = Record<string, any>> = {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string; field?: string; fields?: unknown } }>;
};

export const ADMIN_PASSWORD = "admin-test-password";

/**
 * The whole GraphQL app over a fresh metadata database with the first-start defaults, called in
 * memory through `yoga.fetch`. `as(role)` returns a client authenticated by an API token of a
 * user with that role.
 */
export async function createTestApp(
  options: {
    engine?: DumpEngine;
    limits?: Partial<RunnerLimits>;
    instanceId?: string;
    /** Scheduling settings; nothing of the scheduler, leases or sweeper runs until the test starts it. */
    scheduling?: Partial<SchedulingConfig>;
    clock?: Clock;
    cron?: CronDriver;
    /** PARTIAL backups younger than this are repaired by `sweeper.repairRecent()` (default: never). */
    autoRepairMs?: number;
    /** SQLGUARD_OIDC_ALLOW_HTTP / SQLGUARD_BREAK_GLASS_USER (https issuers and `admin` otherwise). */
    signIn?: SignInEnv;
    /** PARALLEL spool (default `<data dir>/spool`) and its free-space reserve (0 skips the check). */
    spoolDir?: string;
    spoolReserve?: number;
    /** The environment configuration documents' `${env:…}` placeholders read (mutable: tests set variables later). */
    secretEnv?: Record<string, string | undefined>;
    publicUrl?: string;
    notifications?: RuntimeDeps["notifications"];
    weeklyReport?: RuntimeDeps["weeklyReport"];
  } = {},
) {
  const db: TestDatabase = await createTestDatabase();
  const { logger, lines } = memoryLogger();
  const secretKey = crypto.randomBytes(32);
  const changes: Array<{ entity: string; id: number; action: string }> = [];
  const dataDir = path.join(os.tmpdir(), `sqlguard-test-${crypto.randomBytes(4).toString("hex")}`);
  const { services, runner, events, scheduler, leases, sweeper, metrics, restore, interrupted, healthMonitor } = createRuntime({
    prisma: db.prisma,
    secrets: new SecretBox(secretKey),
    logger,
    sessionTtlMs: 3_600_000,
    instanceId: options.instanceId ?? `test-${crypto.randomBytes(3).toString("hex")}`,
    limits: { maxConcurrent: 4, stallMs: 60_000, timeoutMs: 600_000, maxAttempts: 3, retryBaseMs: 50, heartbeatMs: 200, ...options.limits },
    engine: options.engine,
    onChange: (c) => changes.push(c),
    scheduling: options.scheduling,
    clock: options.clock,
    cron: options.cron,
    autoRepairMs: options.autoRepairMs,
    publicUrl: options.publicUrl,
    notifications: options.notifications ?? { delivery: { baseDelayMs: 50 } },
    weeklyReport: options.weeklyReport,
    dataDir,
    signIn: options.signIn,
    spoolDir: options.spoolDir,
    spoolReserve: options.spoolReserve,
    secretSource: { env: options.secretEnv ?? {} },
  });
  await seedDefaults(db.prisma, { dataDir, adminPassword: ADMIN_PASSWORD });
  const migrations = (await readMigrations()).map((m) => m.name);
  // /metrics is open here; the collector loads nothing until a test calls metrics.start().
  const app = createApp({
    prisma: db.prisma,
    services,
    logger,
    migrations,
    consoleDir: path.join(dataDir, "no-console"),
    metrics: { source: metrics, auth: {} },
  });

  async function gql<T = Record<string, any>>(
    query: string,
    variables: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ): Promise<GqlResult<T> & { response: Response }> {
    const response = await app.yoga.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return { ...((await response.json()) as GqlResult<T>), response };
  }

  const tokens = new Map<Role, string>();
  /** A client acting as a user of the given role, through an API token. */
  async function as(role: Role) {
    let token = tokens.get(role);
    if (!token) {
      const user = await db.prisma.user.upsert({
        where: { username: `test-${role.toLowerCase()}` },
        create: { username: `test-${role.toLowerCase()}`, role, passwordHash: await hashPassword("irrelevant-password") },
        update: {},
      });
      const principal = { userId: user.id, username: user.username, role, via: "session" as const };
      token = (await services.auth.createApiToken(principal, { name: `test ${role}`, role })).token;
      tokens.set(role, token);
    }
    const bearer = token;
    return (query: string, variables: Record<string, unknown> = {}) => gql(query, variables, { authorization: `Bearer ${bearer}` });
  }

  return {
    db,
    app,
    services,
    runner,
    events,
    scheduler,
    leases,
    sweeper,
    metrics,
    restore,
    interrupted,
    healthMonitor,
    gql,
    as,
    logLines: lines,
    changes,
    secretKey,
    dataDir,
    close: async () => {
      await scheduler.stop();
      healthMonitor.stop();
      leases.stop();
      await sweeper.stop();
      await restore.stop();
      await services.encryptionRewraps.stop();
      await runner.stop();
      metrics.stop();
      await metrics.idle();
      await services.notifications.stop(0);
      await services.notifier.stop(0);
      await db.drop();
    },
  };
}
