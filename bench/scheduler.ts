// The scheduler at scale: 1,000 schedules over 200 servers on a fresh metadata database, real croner
// jobs and the real runner; dumps are stubbed by a fast local command (a fake DumpEngine) and
// stored on a local target. Prints the reconcile times, then for a spread load (every schedule
// fires once per --period seconds, offsets spread over the period) and for a burst (all 1,000 in
// the same second) the fire lag (tick handler start − due time), the record lag (PENDING row
// written − due time) and the start lag (backup started − due time: it queues behind the runner's
// concurrency limit, and past what the machine can dump, store and record per second).
// Usage: npm run bench:scheduler [-- --seconds 60 --period 60 --concurrency 16 --gate 8 --no-run]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createLogger } from "../server/observability/logger.ts";
import { systemClock } from "../server/scheduler/clock.ts";
import { CronerDriver } from "../server/scheduler/cron-driver.ts";
import { Scheduler } from "../server/scheduler/scheduler.ts";
import { fakeEngine } from "../server/scheduler/testing/fake-engine.ts";
import { SecretBox } from "../server/secrets/secret-box.ts";
import { createRuntime } from "../server/services.ts";
import { createTestDatabase } from "../server/testing/test-db.ts";

const arg = (name: string, fallback: number) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) || fallback;
const SECONDS = arg("seconds", 60);
const PERIOD = arg("period", 60);
if (60 % PERIOD !== 0) throw new Error("--period must divide 60");
const CONCURRENCY = arg("concurrency", 16);
const SCHEDULES = 1000;
const SERVERS = 200;

const db = await createTestDatabase();
const prisma = db.prisma;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-bench-sched-"));
const logger = createLogger({ level: "warn", pretty: false, destination: process.stderr });
const runtime = createRuntime({
  prisma,
  secrets: new SecretBox(Buffer.alloc(32, 7)),
  logger,
  sessionTtlMs: 3_600_000,
  instanceId: "bench",
  limits: { maxConcurrent: CONCURRENCY, stallMs: 60_000, timeoutMs: 600_000, maxAttempts: 1, retryBaseMs: 1000, heartbeatMs: 5000 },
  engine: fakeEngine(),
});
// --no-run leaves the backups PENDING: the scheduler's own capacity, without the runner's load.
if (process.argv.includes("--no-run")) runtime.runner.enqueue = () => {};
const ticks: Array<{ dueAt: Date; firedAt: Date }> = [];
const scheduler = new Scheduler({
  prisma,
  backups: runtime.services.backups,
  events: runtime.events,
  logger,
  clock: systemClock,
  instanceId: "bench",
  concurrency: arg("gate", 8),
  cron: new CronerDriver(logger),
  pollMs: 3_600_000,
  onTick: (t) => void ticks.push(t),
});

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;
};
const line = (label: string, values: number[]) =>
  console.log(
    `  ${label.padEnd(34)} n=${String(values.length).padStart(5)}  p50 ${pct(values, 50).toFixed(0).padStart(6)} ms  p99 ${pct(values, 99).toFixed(0).padStart(6)} ms  max ${Math.max(
      ...values,
    )
      .toFixed(0)
      .padStart(6)} ms`,
  );

/** Lags of the ticks and backups whose due time is in [from, to). */
async function report(title: string, from: Date, to: Date): Promise<void> {
  await runtime.runner.idle();
  const rows = await prisma.backup.findMany({
    where: { dueAt: { gte: from, lt: to } },
    select: { dueAt: true, createdAt: true, startedAt: true, status: true },
  });
  const fired = ticks.filter((t) => t.dueAt >= from && t.dueAt < to);
  const statuses = Object.entries(rows.reduce<Record<string, number>>((m, r) => ((m[r.status] = (m[r.status] ?? 0) + 1), m), {}))
    .map(([s, n]) => `${s} ${n}`)
    .join(", ");
  console.log(`\n${title}: ${fired.length} ticks, ${rows.length} backups (${statuses})`);
  line(
    "fire lag (tick start − due)",
    fired.map((t) => t.firedAt.getTime() - t.dueAt.getTime()),
  );
  line(
    "record lag (row written − due)",
    rows.map((r) => r.createdAt.getTime() - r.dueAt!.getTime()),
  );
  const started = rows.flatMap((r) => (r.startedAt ? [r.startedAt.getTime() - r.dueAt!.getTime()] : []));
  if (started.length) line(`start lag (started − due, ${CONCURRENCY} slots)`, started);
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await work();
  return [result, performance.now() - started];
}

try {
  await prisma.storageTarget.create({ data: { name: "bench-local", kind: "LOCAL", path: dir, isDefault: true } });
  await prisma.server.createMany({
    data: Array.from({ length: SERVERS }, (_, i) => ({
      name: `srv-${i}`,
      engine: "MARIADB" as const,
      host: "127.0.0.1",
      port: 10_000 + i,
      username: "root",
      labels: {},
      includeDatabases: [],
      excludeDatabases: [],
    })),
  });
  const servers = (await prisma.server.findMany({ select: { id: true }, orderBy: { id: "asc" } })).map((s) => s.id);
  const spread = (i: number, shift = 0) => `${Array.from({ length: 60 / PERIOD }, (_, k) => ((i + shift) % PERIOD) + k * PERIOD).join(",")} * * * * *`;
  await prisma.schedule.createMany({ data: Array.from({ length: SCHEDULES }, (_, i) => ({ name: `sched-${i}`, cronExpression: spread(i) })) });
  const schedules = (await prisma.schedule.findMany({ select: { id: true }, orderBy: { id: "asc" } })).map((s) => s.id);
  await prisma.scheduleServer.createMany({ data: schedules.map((scheduleId, i) => ({ scheduleId, serverId: servers[i % SERVERS]! })) });
  const runner = process.argv.includes("--no-run")
    ? "runner off (backups stay PENDING)"
    : `runner ${CONCURRENCY} slots (1 per server), fake dumps to a local target`;
  console.log(`scheduler benchmark: ${SCHEDULES} schedules over ${SERVERS} servers, ${runner}, ${os.cpus().length} CPUs`);

  const [cold, coldMs] = await timed(() => scheduler.reconcile());
  const [, noopMs] = await timed(() => scheduler.reconcile());
  for (const id of schedules.slice(0, 100)) await prisma.schedule.update({ where: { id }, data: { cronExpression: spread(id, 7) } });
  const [changed, changedMs] = await timed(() => scheduler.reconcile());
  console.log(
    `\nreconcile: cold ${coldMs.toFixed(1)} ms (${cold.added} jobs added), unchanged ${noopMs.toFixed(1)} ms, 100 changed ${changedMs.toFixed(1)} ms (${changed.changed} replaced)`,
  );

  await scheduler.stop();
  await runtime.runner.idle();
  // A running system: every due time so far handled, so the restart has nothing to catch up.
  await prisma.schedule.updateMany({ data: { lastDueAt: new Date(Date.now() + 1000) } });
  ticks.length = 0;
  await scheduler.start();
  const spreadFrom = new Date(Math.ceil(Date.now() / 1000) * 1000);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const spreadTo = new Date(Math.floor(Date.now() / 1000) * 1000);
  await scheduler.stop();
  await report(`spread load (each schedule every ${PERIOD} s: ${(SCHEDULES / PERIOD).toFixed(1)} ticks/s for ${SECONDS} s)`, spreadFrom, spreadTo);

  const burstAt = new Date(Math.ceil((Date.now() + 4000) / 1000) * 1000);
  await prisma.schedule.updateMany({ data: { cronExpression: `${burstAt.getUTCSeconds()} * * * * *`, lastDueAt: new Date(Date.now() + 1000) } });
  await scheduler.start();
  await new Promise((r) => setTimeout(r, burstAt.getTime() - Date.now() + 3000));
  await scheduler.stop();
  await report(`burst (all ${SCHEDULES} schedules due at the same second)`, burstAt, new Date(burstAt.getTime() + 1000));
} finally {
  await scheduler.stop();
  await runtime.runner.stop();
  await db.drop();
  fs.rmSync(dir, { recursive: true, force: true });
}
