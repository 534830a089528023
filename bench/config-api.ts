// Latency of the configuration queries through the whole GraphQL stack (auth, Pothos, Prisma,
// MariaDB), in memory via yoga.fetch: 200 servers, 100 schedules. Prints p50/p95/max per query.
// Usage: npm run bench:api [-- --calls 200]
import { performance } from "node:perf_hooks";
import { createTestApp } from "../server/testing/test-app.ts";

const calls = Number(process.argv[process.argv.indexOf("--calls") + 1]) || 200;
const t = await createTestApp();
try {
  const admin = await t.as("ADMIN");
  await t.db.prisma.server.createMany({
    data: Array.from({ length: 200 }, (_, i) => ({
      name: `bench-${i}`,
      engine: "MARIADB" as const,
      host: "127.0.0.1",
      port: 3306,
      username: "root",
      labels: { env: i % 2 ? "prod" : "staging" },
      includeDatabases: [],
      excludeDatabases: [],
    })),
  });
  const servers = await t.db.prisma.server.findMany({ select: { id: true } });
  for (let i = 0; i < 100; i++) {
    await t.db.prisma.schedule.create({
      data: {
        name: `bench-schedule-${i}`,
        cronExpression: `${i % 60} * * * *`,
        servers: { create: servers.slice(i, i + 2).map((s) => ({ serverId: s.id })) },
      },
    });
  }

  const queries: Record<string, string> = {
    servers: "{ servers { id name engine host port passwordSet labels { key value } dumpOptions { name } } }",
    schedules: "{ schedules { id name cronExpression timezone nextRunAt allServers servers { name } storageTargets { name } } }",
    me: "{ me { username role } }",
  };
  console.log(`config API latency, ${calls} calls each (200 servers, ${100 + 4} schedules)`);
  for (const [name, query] of Object.entries(queries)) {
    const times: number[] = [];
    for (let i = 0; i < calls + 10; i++) {
      const start = performance.now();
      const r = await admin(query);
      if (r.errors) throw new Error(JSON.stringify(r.errors));
      if (i >= 10) times.push(performance.now() - start); // the first 10 warm up
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
    console.log(`${name.padEnd(10)} p50 ${at(0.5)} ms   p95 ${at(0.95)} ms   max ${at(1)} ms`);
  }
} finally {
  await t.close();
}
