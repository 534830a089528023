// Binlog archive lag under a steady write load: a private MariaDB (binlog on, ROW), the real
// streamer and archiver onto a local directory, and a writer committing --rate single-row
// transactions per second for --seconds. Each commit's lag is the time from its commit to the
// first moment the archive (a closed file or the open file's partial copy) holds an event of
// that second or later, sampled every 100 ms (binlog event times have 1 s resolution, so the
// figures are accurate to about a second). Prints p50 / p95 / max per RPO setting.
// Usage: npm run bench:pitr [-- --seconds 20 --rate 50 --rpo 5]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect } from "../server/db/connection.ts";
import { createLogger } from "../server/observability/logger.ts";
import { ServerPitr } from "../server/pitr/pitr-supervisor.ts";
import { LocalStore } from "../server/storage/local-store.ts";
import { startPrivateMariadb } from "../server/testing/private-mariadb.ts";
import { createTestDatabase } from "../server/testing/test-db.ts";

const arg = (name: string, fallback: number) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) || fallback;
const SECONDS = arg("seconds", 20);
const RATE = arg("rate", 50);
const RPO = arg("rpo", 5);

const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-bench-pitr-"));
const db = await createTestDatabase();
const source = await startPrivateMariadb("bench-pitr", { binlog: { serverId: 21 } });
const store = new LocalStore({ basePath: path.join(work, "archive") });
let pitr: ServerPitr | null = null;
try {
  const target = await db.prisma.storageTarget.create({ data: { name: "bench", kind: "LOCAL", path: path.join(work, "archive"), isDefault: true } });
  const server = await db.prisma.server.create({
    data: {
      name: "bench",
      engine: "MARIADB",
      host: "127.0.0.1",
      port: source.port,
      username: "root",
      labels: {},
      includeDatabases: [],
      excludeDatabases: [],
      pitrEnabled: true,
      pitrRpoSeconds: RPO,
      pitrStorageTargetIds: [target.id],
    },
  });
  const c = await connect({ host: "127.0.0.1", port: source.port, user: "root", database: "" }, { withDatabase: false });
  await c.query("CREATE DATABASE load_db");
  await c.query("CREATE TABLE load_db.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(100) NOT NULL)");
  pitr = new ServerPitr(
    {
      prisma: db.prisma,
      logger: createLogger({ level: "error", pretty: false }),
      instanceId: "bench",
      spoolRoot: path.join(work, "spool"),
      connectionOf: (s) => ({ engine: s.engine, host: s.host, port: s.port, username: s.username, password: null, tls: false }),
      storeFor: () => store,
      tickMs: 100,
    },
    server,
  );
  await pitr.start();

  const commits: number[] = [];
  const stored: Array<{ at: number; newestEvent: number }> = [];
  let writing = true;
  const sampler = (async () => {
    while (writing || stored.length === 0 || stored.at(-1)!.newestEvent < Math.floor(commits.at(-1)! / 1000) * 1000) {
      const stream = await db.prisma.pitrStream.findUnique({ where: { serverId: server.id } });
      if (stream?.lastEventAt) stored.push({ at: Date.now(), newestEvent: stream.lastEventAt.getTime() });
      await new Promise((r) => setTimeout(r, 100));
      if (!writing && Date.now() - commits.at(-1)! > 60_000) break;
    }
  })();
  const started = Date.now();
  for (let i = 0; Date.now() - started < SECONDS * 1000; i++) {
    const due = started + (i * 1000) / RATE;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    await c.query("INSERT INTO load_db.t (v) VALUES (?)", [`row ${i}`]);
    commits.push(Date.now());
  }
  writing = false;
  await sampler;
  await c.end();

  const lags = commits
    .map((at) => {
      const second = Math.floor(at / 1000) * 1000;
      const hit = stored.find((s) => s.at >= at && s.newestEvent >= second);
      return hit ? (hit.at - at) / 1000 : null;
    })
    .filter((x): x is number => x !== null)
    .sort((a, b) => a - b);
  const q = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))]!.toFixed(2);
  const archives = await db.prisma.pitrArchive.count({ where: { serverId: server.id } });
  console.log(`pitr archive lag: ${commits.length} commits at ${RATE}/s for ${SECONDS} s, rpoSeconds ${RPO}, ${archives} archive object(s)`);
  console.log(`  commit → stored: p50 ${q(0.5)} s, p95 ${q(0.95)} s, max ${lags.at(-1)!.toFixed(2)} s (${lags.length}/${commits.length} measured)`);
} finally {
  await pitr?.stop();
  await source.close();
  await db.drop();
  fs.rmSync(work, { recursive: true, force: true });
}
