// Child of bench/pipeline.ts: one SQLGuard backup of a database to a local target, in a process of
// its own so its peak RSS is SQLGuard's alone. Prints one JSON line: wall time, sizes, peak RSS.
// Usage: node --import tsx bench/pipeline-sqlguard.ts <database> <target dir>
import { performance } from "node:perf_hooks";
import { createTestApp } from "../server/testing/test-app.ts";

const [database, dir] = process.argv.slice(2);
if (!database || !dir) throw new Error("usage: pipeline-sqlguard.ts <database> <target dir>");
const app = await createTestApp({ limits: { heartbeatMs: 5000 } });
try {
  const server = await app.db.prisma.server.create({
    data: { name: "bench", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", labels: {}, includeDatabases: [], excludeDatabases: [] },
  });
  const target = await app.db.prisma.storageTarget.create({ data: { name: "bench-local", kind: "LOCAL", path: dir } });
  const principal = { userId: 1, username: "admin", role: "ADMIN" as const, via: "session" as const };
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  const [backup] = await app.services.backups.runBackup(principal, { serverId: server.id, databases: [database], storageTargetIds: [target.id] });
  await app.runner.idle();
  const wallMs = performance.now() - started;
  const done = await app.db.prisma.backup.findUniqueOrThrow({ where: { id: backup!.id } });
  if (done.status !== "SUCCEEDED") throw new Error(`backup ${done.status}: ${done.error}`);
  console.log(
    JSON.stringify({
      wallMs,
      rawBytes: Number(done.rawBytes),
      storedBytes: Number(done.storedBytes),
      rssBeforeBytes: rssBefore,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    }),
  );
} finally {
  await app.close();
}
