/**
 * Composition root: parse the environment, migrate the metadata database, seed the defaults on
 * first start, wire the services, listen, and drain on SIGTERM / SIGINT.
 */
import http from "node:http";
import { fileURLToPath } from "node:url";
import { createApp } from "./app.ts";
import { seedDefaults } from "./catalog/defaults.ts";
import { ConfigError, parseConfig } from "./config/env.ts";
import { createPrisma } from "./db/client.ts";
import { migrate, readMigrations } from "./db/migrator.ts";
import { createLogger } from "./observability/logger.ts";
import { loadSecretKey, SecretBox } from "./secrets/secret-box.ts";
import { createServices } from "./services.ts";

const CONSOLE_DIR = fileURLToPath(new URL("../console/out", import.meta.url));

async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`sqlguard: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel, pretty: Boolean(process.stdout.isTTY) });
  const log = logger.child({ component: "main" });
  log.info({ instanceId: config.instanceId, port: config.port, dataDir: config.dataDir }, "starting SQLGuard");

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

  const services = createServices({ prisma, secrets, sessionTtlMs: config.sessionTtlHours * 3_600_000 });
  const app = createApp({ prisma, services, logger, migrations, consoleDir: CONSOLE_DIR });
  const server = http.createServer(app.handle);
  server.listen(config.port, config.host, () => log.info({ url: `http://${config.host}:${config.port}` }, "listening"));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    server.close(async () => {
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
