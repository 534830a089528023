// Archive lag under a steady write load: a private MariaDB (binlog on, ROW) or, with --engine
// postgresql, a private PostgreSQL 15 (its slot and pg_receivewal --synchronous), the real
// streamer and archiver onto a local directory, and a writer committing --rate single-row
// transactions per second for --seconds. Each commit's lag is the time from its commit to the
// first moment the archive (a closed file or the open file's partial copy) holds a write of that
// moment or later, sampled every 100 ms. MariaDB: binlog event times have 1 s resolution, so the
// figures are accurate to about a second; PostgreSQL: the WAL file's write time (milliseconds).
// Usage: npm run bench:pitr [-- --seconds 20 --rate 50 --rpo 5 --engine mariadb|postgresql]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect } from "../server/db/connection.ts";
import type { Server } from "../server/db/generated/client.ts";
import { createLogger } from "../server/observability/logger.ts";
import { PgServerPitr } from "../server/pitr/pg/receiver.ts";
import { ServerPitr } from "../server/pitr/pitr-supervisor.ts";
import { LocalStore } from "../server/storage/local-store.ts";
import { startPrivateMariadb } from "../server/testing/private-mariadb.ts";
import { startPrivatePostgres } from "../server/testing/private-postgres.ts";
import { createTestDatabase } from "../server/testing/test-db.ts";

const arg = (name: string, fallback: number) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) || fallback;
const SECONDS = arg("seconds", 20);
const RATE = arg("rate", 50);
const RPO = arg("rpo", 5);
const PG = process.argv[process.argv.indexOf("--engine") + 1] === "postgresql";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-bench-pitr-"));
const db = await createTestDatabase();
const source = PG ? await startPrivatePostgres("bench-pitr") : await startPrivateMariadb("bench-pitr", { binlog: { serverId: 21 } });
const store = new LocalStore({ basePath: path.join(work, "archive") });
let pitr: ServerPitr | PgServerPitr | null = null;
try {
  const target = await db.prisma.storageTarget.create({ data: { name: "bench", kind: "LOCAL", path: path.join(work, "archive"), isDefault: true } });
  const server = await db.prisma.server.create({
    data: {
      name: "bench",
      engine: PG ? "POSTGRESQL" : "MARIADB",
      host: "127.0.0.1",
      port: source.port,
      username: PG ? "postgres" : "root",
      labels: {},
      includeDatabases: [],
      excludeDatabases: [],
      pitrEnabled: true,
      pitrRpoSeconds: RPO,
      pitrStorageTargetIds: [target.id],
    },
  });
  let insert: (i: number) => Promise<unknown>;
  let end: () => Promise<void>;
  if (PG) {
    const { default: pg } = await import("pg");
    const admin = new pg.Client({ host: "127.0.0.1", port: source.port, user: "postgres", database: "postgres" });
    await admin.connect();
    await admin.query("CREATE DATABASE load_db");
    await admin.end();
    const c = new pg.Client({ host: "127.0.0.1", port: source.port, user: "postgres", database: "load_db" });
    await c.connect();
    await c.query("CREATE TABLE t (id serial PRIMARY KEY, v varchar(100) NOT NULL)");
    insert = (i) => c.query("INSERT INTO t (v) VALUES ($1)", [`row ${i}`]);
    end = () => c.end();
  } else {
    const c = await connect({ host: "127.0.0.1", port: source.port, user: "root", database: "" }, { withDatabase: false });
    await c.query("CREATE DATABASE load_db");
    await c.query("CREATE TABLE load_db.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(100) NOT NULL)");
    insert = (i) => c.query("INSERT INTO load_db.t (v) VALUES (?)", [`row ${i}`]);
    end = () => c.end();
  }
  const deps = {
    prisma: db.prisma,
    logger: createLogger({ level: "error", pretty: false }),
    instanceId: "bench",
    spoolRoot: path.join(work, "spool"),
    connectionOf: (s: Server) => ({ engine: s.engine, host: s.host, port: s.port, username: s.username, password: null, tls: false }),
    storeFor: () => store,
    tickMs: 100,
  };
  pitr = PG ? new PgServerPitr(deps, server) : new ServerPitr(deps, server);
  await pitr.start();
  if (PG) {
    // The first base backup is taken when PITR turns on: measured after it, under the steady load alone.
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250)))
      if (await db.prisma.backup.count({ where: { serverId: server.id, status: "SUCCEEDED" } })) break;
  }

  const commits: number[] = [];
  const stored: Array<{ at: number; newestEvent: number }> = [];
  let writing = true;
  // The archive's newest write time: a binlog event's second (MariaDB), the WAL file's mtime (PostgreSQL).
  const resolution = PG ? 1 : 1000;
  const floor = (at: number) => Math.floor(at / resolution) * resolution;
  const sampler = (async () => {
    while (writing || stored.length === 0 || stored.at(-1)!.newestEvent < floor(commits.at(-1)!)) {
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
    await insert(i);
    commits.push(Date.now());
  }
  writing = false;
  await sampler;
  await end();

  const lags = commits
    .map((at) => {
      const hit = stored.find((s) => s.at >= at && s.newestEvent >= floor(at));
      return hit ? (hit.at - at) / 1000 : null;
    })
    .filter((x): x is number => x !== null)
    .sort((a, b) => a - b);
  const q = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))]!.toFixed(2);
  const archives = await db.prisma.pitrArchive.count({ where: { serverId: server.id } });
  console.log(
    `pitr archive lag (${PG ? "PostgreSQL WAL" : "MariaDB binlog"}): ${commits.length} commits at ${RATE}/s for ${SECONDS} s, rpoSeconds ${RPO}, ${archives} archive object(s)`,
  );
  console.log(`  commit → stored: p50 ${q(0.5)} s, p95 ${q(0.95)} s, max ${lags.at(-1)!.toFixed(2)} s (${lags.length}/${commits.length} measured)`);
} finally {
  await pitr?.stop();
  await source.close();
  await db.drop();
  fs.rmSync(work, { recursive: true, force: true });
}
