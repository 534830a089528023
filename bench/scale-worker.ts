// One worker process of bench/scale.ts: the real runner and work queue on the benchmark's metadata
// database, with the fake dump engine (server/scheduler/testing/fake-engine.ts) and a local target.
// Prints "ready", starts claiming on "go" (stdin), stops and exits on "stop".
import readline from "node:readline";
import { createPrisma } from "../server/db/client.ts";
import { createLogger } from "../server/observability/logger.ts";
import { fakeEngine } from "../server/scheduler/testing/fake-engine.ts";
import { SecretBox } from "../server/secrets/secret-box.ts";
import { createRuntime } from "../server/services.ts";

const url = process.env.BENCH_DATABASE_URL!;
const instanceId = process.env.BENCH_INSTANCE!;
const slots = Number(process.env.BENCH_SLOTS ?? 8);
const prisma = createPrisma(url);
const logger = createLogger({ level: "error", pretty: false, destination: process.stderr });
const runtime = createRuntime({
  prisma,
  secrets: new SecretBox(Buffer.alloc(32, 7)),
  logger,
  sessionTtlMs: 3_600_000,
  instanceId,
  limits: { maxConcurrent: slots, stallMs: 60_000, timeoutMs: 600_000, maxAttempts: 1, retryBaseMs: 1000, heartbeatMs: 5000 },
  engine: fakeEngine({ databases: () => Array.from({ length: Number(process.env.BENCH_DATABASES_PER_SERVER ?? 1) }, (_, i) => `db_${i}`) }),
});
const lines = readline.createInterface({ input: process.stdin });
process.stdout.write("ready\n");
for await (const line of lines) {
  if (line === "go") runtime.runner.startClaiming(Number(process.env.BENCH_POLL_MS ?? 100));
  if (line === "stop") break;
}
await runtime.runner.stop();
await prisma.$disconnect();
process.exit(0);
