// History and dashboard query latency over a large metadata database: inserts --rows backup
// records (default 1,000,000, each with one artifact) spread over 200 servers × 5 databases,
// 4 schedules and 2 storage targets over two years, then times `backups` (first page unfiltered,
// filtered by server+database, by status, by target, by time range, and a deep page) and
// `dashboard` through the whole GraphQL stack. Prints p50/p95/max over --calls calls.
// Usage: npm run bench:backups [-- --rows 1000000 --calls 200]
import { performance } from "node:perf_hooks";
import { cursorOf } from "../server/backups/backups.service.ts";
import { createTestApp } from "../server/testing/test-app.ts";

const arg = (name: string, fallback: number) => Number(process.argv[process.argv.indexOf(name) + 1]) || fallback;
const rows = arg("--rows", 1_000_000);
const calls = arg("--calls", 200);
const t = await createTestApp();
try {
  const admin = await t.as("ADMIN");
  const p = t.db.prisma;
  await p.server.createMany({
    data: Array.from({ length: 200 }, (_, i) => ({
      name: `srv-${i}`,
      engine: "MARIADB" as const,
      host: "127.0.0.1",
      port: 3306,
      username: "root",
      labels: {},
      includeDatabases: [],
      excludeDatabases: [],
    })),
  });
  const target2 = await p.storageTarget.create({ data: { name: "s3-bench", kind: "S3", bucket: "b", region: "us-east-1", accessKeyId: "a" } });
  const [firstServer] = await p.server.findMany({ orderBy: { id: "asc" }, take: 1 });
  const schedules = await p.schedule.findMany({ orderBy: { id: "asc" } });
  const local = await p.storageTarget.findFirstOrThrow({ where: { kind: "LOCAL" } });
  const s0 = firstServer!.id;
  const sch0 = schedules[0]!.id;

  const started = performance.now();
  // Generated inside MariaDB (Sequence engine) in batches: one backup every ~63 s over two years.
  const batch = 100_000;
  for (let from = 1; from <= rows; from += batch) {
    const to = Math.min(rows, from + batch - 1);
    await p.$executeRawUnsafe(`
      INSERT INTO Backup (serverId, serverName, engine, \`database\`, scheduleId, scheduleName, \`trigger\`, dueAt, status, createdAt, startedAt, finishedAt, durationMs, rawBytes, storedBytes, compression, sha256, attempt, error)
      SELECT ${s0} + seq % 200, CONCAT('srv-', seq % 200), 'MARIADB', CONCAT('db_', (seq DIV 200) % 5), ${sch0} + seq % 4, ELT(1 + seq % 4, 'hourly', 'daily', 'weekly', 'monthly'), 'SCHEDULED',
             '2024-11-23' + INTERVAL seq * 63 SECOND,
             IF(seq % 47 = 0, 'FAILED', IF(seq % 97 = 0, 'PARTIAL', 'SUCCEEDED')),
             '2024-11-23' + INTERVAL seq * 63 SECOND, '2024-11-23' + INTERVAL seq * 63 SECOND, '2024-11-23' + INTERVAL seq * 63 + 40 SECOND,
             40000 + seq % 20000, 100000000 + seq % 1000, 25000000 + seq % 1000, 'ZSTD', SHA2(seq, 256), 1, IF(seq % 47 = 0, 'the dump exited with code 2', NULL)
      FROM seq_${from}_to_${to}`);
  }
  await p.$executeRawUnsafe(`
    INSERT INTO BackupArtifact (backupId, storageTargetId, \`key\`, status, sizeBytes, storedAt)
    SELECT id, IF(id % 3 = 0, ${target2.id}, ${local.id}), CONCAT(serverName, '/', \`database\`, '/', scheduleName, '/', id, '.sql.zst'), IF(status = 'FAILED', 'FAILED', 'STORED'), storedBytes, finishedAt FROM Backup`);
  await p.$executeRawUnsafe("ANALYZE TABLE Backup, BackupArtifact");
  console.log(`inserted ${rows.toLocaleString()} backups and artifacts in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const middle = await p.backup.findFirstOrThrow({
    where: { id: { gt: Math.floor(rows / 2) } },
    orderBy: { id: "asc" },
    select: { id: true, createdAt: true },
  });
  const fields =
    "nodes { id status database serverName scheduleName createdAt storedBytes artifacts { status storageTarget { name } } } pageInfo { hasNextPage endCursor }";
  const queries: Record<string, [string, Record<string, unknown>]> = {
    "backups (first page)": [`{ backups(first: 50) { ${fields} } }`, {}],
    "backups (server + database)": [`query($s: ID!) { backups(first: 50, filter: { serverId: $s, database: "db_3" }) { ${fields} } }`, { s: s0 + 17 }],
    "backups (status FAILED)": [`{ backups(first: 50, filter: { status: [FAILED] }) { ${fields} } }`, {}],
    "backups (server + FAILED)": [`query($s: ID!) { backups(first: 50, filter: { serverId: $s, status: [FAILED] }) { ${fields} } }`, { s: s0 + 50 }],
    "backups (storage target)": [`query($t: ID!) { backups(first: 50, filter: { storageTargetId: $t }) { ${fields} } }`, { t: target2.id }],
    "backups (schedule + range)": [
      `query($sc: ID!) { backups(first: 50, filter: { scheduleId: $sc, from: "2025-06-01T00:00:00Z", to: "2025-07-01T00:00:00Z" }) { ${fields} } }`,
      { sc: sch0 + 1 },
    ],
    "backups (deep page)": [`query($a: String!) { backups(first: 50, after: $a) { ${fields} } }`, { a: cursorOf(middle) }],
    "backups (deep page, server)": [
      `query($a: String!, $s: ID!) { backups(first: 50, after: $a, filter: { serverId: $s }) { ${fields} } }`,
      { a: cursorOf(middle), s: s0 + 3 },
    ],
    ...(process.env.BENCH_NO_DASHBOARD
      ? {}
      : {
          dashboard: [
            "{ dashboard { totals { backups successRate24h successRate7d } databases { serverName database lastSuccessAt ageSeconds rpoSeconds status nextRunAt } } }",
            {},
          ] as [string, Record<string, unknown>],
        }),
  };
  console.log(`query latency over ${rows.toLocaleString()} backups, ${calls} calls each (ms)`);
  for (const [name, [query, variables]] of Object.entries(queries)) {
    const first = await admin(query, variables);
    if (first.errors) throw new Error(`${name}: ${JSON.stringify(first.errors)}`);
    const times: number[] = [];
    for (let i = 0; i < calls; i++) {
      const s = performance.now();
      await admin(query, variables);
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
    console.log(`  ${name.padEnd(30)} p50 ${at(0.5).padStart(7)}  p95 ${at(0.95).padStart(7)}  max ${times.at(-1)!.toFixed(1).padStart(7)}`);
  }
} finally {
  if (process.env.BENCH_KEEP_DB) console.log(`kept ${t.db.url}`);
  else await t.close();
  process.exit(0);
}
