// The work queue at scale (server/queue/): worker processes claiming from one metadata database.
//  1. --jobs (1,000) PENDING backups queued at once, drained by 1, 2 and 4 worker processes (each
//     --slots slots, the fake dump engine, a local target): claims per second and the p50/p99 queue
//     wait (claimed − queued), as a table.
//  2. --databases (10,000) databases on --servers servers covered by one schedule; the tick is fired by
//     this process (the scheduler lease holder: it records PENDING rows, claims none) and 4 workers
//     drain it: tick-to-claim lag p50/p99 (claimed − due) and the dashboard query's p50/p95 while
//     the queue drains.
// Usage: npm run bench:scale [-- --jobs 1000 --databases 10000 --servers 100 --slots 8 --workers 1,2,4 --no-schedule]
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import readline from "node:readline";
import { BackupsRepository } from "../server/db/backups.repository.ts";
import { createLogger } from "../server/observability/logger.ts";
import { systemClock } from "../server/scheduler/clock.ts";
import { CronerDriver } from "../server/scheduler/cron-driver.ts";
import { fakeEngine } from "../server/scheduler/testing/fake-engine.ts";
import { SecretBox } from "../server/secrets/secret-box.ts";
import { createRuntime } from "../server/services.ts";
import { createTestDatabase, type TestDatabase } from "../server/testing/test-db.ts";

const arg = (name: string, fallback: number) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) || fallback;
const JOBS = arg("jobs", 1000);
const DATABASES = arg("databases", 10_000);
const SERVERS = arg("servers", 100);
const SLOTS = arg("slots", 8);
const at = process.argv.indexOf("--workers");
const WORKER_COUNTS = at > 0 ? process.argv[at + 1]!.split(",").map(Number) : [1, 2, 4];
const ROOT = path.resolve(import.meta.dirname, "..");

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : Number.NaN;
};

type Worker = { child: ChildProcess; send(line: string): void; exited: Promise<void> };

async function startWorkers(db: TestDatabase, count: number, label: string, perServer: number): Promise<Worker[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "bench/scale-worker.ts")], {
        cwd: ROOT,
        env: {
          ...process.env,
          BENCH_DATABASE_URL: db.url,
          BENCH_INSTANCE: `${label}-w${i + 1}`,
          BENCH_SLOTS: String(SLOTS),
          BENCH_DATABASES_PER_SERVER: String(perServer),
        },
        stdio: ["pipe", "pipe", "inherit"],
      });
      const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
      await new Promise<void>((resolve, reject) => {
        readline.createInterface({ input: child.stdout! }).on("line", (l) => l === "ready" && resolve());
        child.on("exit", (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
      });
      return { child, exited, send: (line: string) => child.stdin!.write(`${line}\n`) };
    }),
  );
}

async function stopWorkers(workers: Worker[]): Promise<void> {
  for (const w of workers) w.send("stop");
  await Promise.all(workers.map((w) => w.exited));
}

async function waitDrained(db: TestDatabase, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await db.prisma.backup.count({ where: { status: { in: ["PENDING", "RUNNING"] } } })) > 0) {
    if (Date.now() > deadline) throw new Error("the queue did not drain in time");
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function seed(db: TestDatabase, dir: string, servers: number): Promise<number[]> {
  await db.prisma.storageTarget.create({ data: { name: "bench-local", kind: "LOCAL", path: dir, isDefault: true } });
  await db.prisma.server.createMany({
    data: Array.from({ length: servers }, (_, i) => ({
      name: `srv-${i}`,
      engine: "MARIADB" as const,
      host: "127.0.0.1",
      port: 10_000 + i,
      username: "root",
      labels: {},
      includeDatabases: [],
      excludeDatabases: [],
      maxConcurrent: 4,
    })),
  });
  return (await db.prisma.server.findMany({ select: { id: true }, orderBy: { id: "asc" } })).map((s) => s.id);
}

/** Part 1: JOBS queued at once, drained by `count` worker processes. */
async function drain(count: number): Promise<{ workers: number; claimsPerSecond: number; p50: number; p99: number; wallS: number }> {
  const db = await createTestDatabase();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-bench-scale-"));
  try {
    const servers = await seed(db, dir, 50);
    const target = (await db.prisma.storageTarget.findFirstOrThrow()).id;
    const repo = new BackupsRepository(db.prisma);
    const workers = await startWorkers(db, count, `drain${count}`, JOBS);
    // Recorded in batches per server, as a tick does (createPendingMany: one transaction per batch).
    for (let k = 0; k < servers.length; k++) {
      const databases = Array.from({ length: JOBS }, (_, i) => i).flatMap((i) => (i % servers.length === k ? [`db_${i}`] : []));
      for (let i = 0; i < databases.length; i += 250) {
        await repo.createPendingMany({
          serverId: servers[k]!,
          serverName: `srv-${k}`,
          engine: "MARIADB",
          databases: databases.slice(i, i + 250),
          scheduleId: null,
          scheduleName: null,
          trigger: "MANUAL",
          dueAt: null,
          compression: "GZIP",
          instanceId: "bench",
          storageTargetIds: [target],
          keyOf: (b) => `srv/${b.id}.sql.gz`,
        });
      }
    }
    // Queued at once: every row's queue time is the moment the workers are let go.
    await db.prisma.$executeRaw`UPDATE Backup SET createdAt = UTC_TIMESTAMP(3)`;
    const started = performance.now();
    for (const w of workers) w.send("go");
    await waitDrained(db, 600_000);
    const wallS = (performance.now() - started) / 1000;
    await stopWorkers(workers);
    const rows = await db.prisma.backup.findMany({ select: { createdAt: true, startedAt: true, status: true } });
    const waits = rows.map((r) => (r.startedAt!.getTime() - r.createdAt.getTime()) / 1000);
    const claimSpan = (Math.max(...rows.map((r) => r.startedAt!.getTime())) - Math.min(...rows.map((r) => r.startedAt!.getTime()))) / 1000;
    const bad = rows.filter((r) => r.status !== "SUCCEEDED").length;
    if (bad) console.warn(`  (${bad} backups did not succeed)`);
    return { workers: count, claimsPerSecond: rows.length / Math.max(claimSpan, 0.001), p50: pct(waits, 50), p99: pct(waits, 99), wallS };
  } finally {
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Part 2: one schedule over DATABASES databases, fired here, drained by 4 workers; the dashboard read meanwhile. */
async function scheduled(): Promise<void> {
  const db = await createTestDatabase();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-bench-scale-"));
  const perServer = Math.ceil(DATABASES / SERVERS);
  const logger = createLogger({ level: "warn", pretty: false, destination: process.stderr });
  const runtime = createRuntime({
    prisma: db.prisma,
    secrets: new SecretBox(Buffer.alloc(32, 7)),
    logger,
    sessionTtlMs: 3_600_000,
    instanceId: "bench-leader",
    limits: { maxConcurrent: SLOTS, stallMs: 60_000, timeoutMs: 600_000, maxAttempts: 1, retryBaseMs: 1000, heartbeatMs: 5000 },
    engine: fakeEngine({ databases: () => Array.from({ length: perServer }, (_, i) => `db_${i}`) }),
    cron: new CronerDriver(createLogger({ level: "warn", pretty: false, destination: process.stderr })),
    clock: systemClock,
    scheduling: { pollMs: 3_600_000 },
    queue: { claims: false },
  });
  let workers: Worker[] = [];
  try {
    await seed(db, dir, SERVERS);
    const admin = await db.prisma.user.create({ data: { username: "bench", passwordHash: "x", role: "ADMIN" } });
    const principal = { userId: admin.id, username: "bench", role: "ADMIN" as const, via: "session" as const };
    workers = await startWorkers(db, 4, "sched", perServer);
    for (const w of workers) w.send("go");
    const dueAt = new Date(Math.ceil((Date.now() + 5000) / 1000) * 1000);
    await db.prisma.schedule.create({ data: { name: "all", cronExpression: `${dueAt.getUTCSeconds()} ${dueAt.getUTCMinutes()} * * * *` } });
    await runtime.scheduler.start();
    await new Promise((r) => setTimeout(r, dueAt.getTime() - Date.now() + 200));
    const dashboardMs: number[] = [];
    const deadline = Date.now() + 1_200_000;
    while ((await db.prisma.backup.count({ where: { status: { in: ["PENDING", "RUNNING"] } } })) > 0 || dashboardMs.length < 5) {
      const t = performance.now();
      await runtime.services.dashboard.get(principal);
      dashboardMs.push(performance.now() - t);
      if (Date.now() > deadline) throw new Error("the scheduled run did not drain in time");
      await new Promise((r) => setTimeout(r, 250));
    }
    await runtime.scheduler.stop();
    const rows = await db.prisma.backup.findMany({ where: { dueAt }, select: { createdAt: true, startedAt: true, status: true } });
    const tickS = (Math.max(...rows.map((r) => r.createdAt.getTime())) - dueAt.getTime()) / 1000;
    const lags = rows.flatMap((r) => (r.startedAt ? [(r.startedAt.getTime() - dueAt.getTime()) / 1000] : []));
    console.log(
      `\n${rows.length} databases on ${SERVERS} servers due at once, 4 workers × ${SLOTS} slots (servers: maxConcurrent 4):\n` +
        `  tick-to-claim lag  p50 ${pct(lags, 50).toFixed(2)} s   p99 ${pct(lags, 99).toFixed(2)} s   max ${Math.max(...lags).toFixed(2)} s\n` +
        `  tick recorded in   ${tickS.toFixed(1)} s (due time to the last PENDING row written)\n` +
        `  dashboard query    p50 ${pct(dashboardMs, 50).toFixed(0)} ms  p95 ${pct(dashboardMs, 95).toFixed(0)} ms  (n=${dashboardMs.length}, while the queue drained)\n` +
        `  load average       ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(" ")}`,
    );
  } finally {
    await stopWorkers(workers);
    await runtime.scheduler.stop();
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

console.log(
  `work queue benchmark: ${os.cpus().length} CPUs, fake dump engine, local target, ${SLOTS} slots per worker; load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);
// Each row printed as soon as it is measured: a run cut short on a busy machine still reports what it did.
console.log(`\n${JOBS} backups queued at once (50 servers, maxConcurrent 4 each):`);
console.log("  workers  claims/s   queue wait p50   queue wait p99   drained in   load avg (1 min)");
for (const count of WORKER_COUNTS) {
  const r = await drain(count);
  console.log(
    `  ${String(r.workers).padStart(7)}  ${r.claimsPerSecond.toFixed(1).padStart(8)}   ${r.p50.toFixed(2).padStart(12)} s   ${r.p99.toFixed(2).padStart(12)} s   ${r.wallS.toFixed(1).padStart(8)} s   ${os.loadavg()[0]!.toFixed(1).padStart(8)}`,
  );
}
if (!process.argv.includes("--no-schedule")) await scheduled();
process.exit(0);
