// Backup pipeline throughput and memory, against what a user would otherwise run. Builds a MariaDB
// database of about --size-mb of dump (default 1024; kept between runs), then times, alternating
// round by round (--rounds, default 3):
//   plain pipe    bash -c 'mariadb-dump … db | zstd -3 -c > file'                 (a kernel pipe)
//   durable pipe  bash -c 'mariadb-dump … db | zstd -3 -c | tee file | sha256sum; sync file'
//   SQLGuard      a real server process (npm start's flags): runBackup over HTTP, then polling
//                 backup(id) until SUCCEEDED, as a user sees it; the phases come from its log.
//   SQLGuard AGE  the same with a profile `encryption: AGE` (age v1 to the instance key and a
//                 recovery recipient, after zstd): encrypted vs unencrypted in the same run.
// Prints medians, the ratios, per-phase timings and the server's RSS.
// Then the PARALLEL engine (--parallel-rounds, default 1; 0 skips it), on the same MariaDB database
// and on a PostgreSQL one of about the same size in 4 tables (`sqlguard_bench_pg_<mb>`, kept):
//   backups   SQLGuard SINGLE vs PARALLEL (mydumper --rows / pg_dump -Fd -j), and the plain pipe
//   restores  `zstd -dc | mariadb` / `zstd -dc | psql` vs SQLGuard's restoreBackup SINGLE and PARALLEL
//             (myloader / pg_restore -j), into new databases; with the spool's peak disk use.
// Usage: npm run bench:pipeline [-- --size-mb 1024 --rounds 3 --parallel-rounds 1]
// Only the PARALLEL rows of MariaDB: npm run bench:pipeline -- --rows parallel --only mariadb
// [--chunk-rows 500000]. CPU accounting without a quiet machine: bench/parallel-cpu.ts.
// Diagnosis: BENCH_SERVER_FLAGS adds node flags to the server (e.g. "--trace-gc" or "--cpu-prof
// --cpu-prof-dir=/tmp/prof"); BENCH_SERVER_LOG=FILE appends the server's stdout to FILE.
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { connect } from "../server/db/connection.ts";
import { generateIdentity } from "../server/encryption/age-keys.ts";
import { freePort, httpClient } from "../server/testing/server-process.ts";
import { ensureDatabase, MARIADB, ROW_BYTES } from "./mariadb-database.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SIZE_MB = arg("--size-mb", 1024);
const ROUNDS = arg("--rounds", 3);
const PARALLEL_ROUNDS = arg("--parallel-rounds", 1);
const text = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
/** `--rows parallel`: only the PARALLEL engine's rows (SINGLE vs PARALLEL, backups and restores), not the pipe/AGE rounds. */
const ROWS = text("--rows", "all");
/** `--only mariadb` / `--only postgresql`: the PARALLEL rows of one engine (the other's database is not built). */
const ONLY = text("--only", "all").toUpperCase();
/** mydumper's --rows in the bench's PARALLEL profile. */
const CHUNK_ROWS = arg("--chunk-rows", 500_000);
if (!["all", "parallel"].includes(ROWS)) throw new Error("--rows takes all or parallel");
if (!["ALL", "MARIADB", "POSTGRESQL"].includes(ONLY)) throw new Error("--only takes mariadb or postgresql");
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DUMP = fs.existsSync("/usr/bin/mariadb-dump") ? "mariadb-dump" : "mysqldump";
// What SQLGuard's default profile runs (server/runner/dumpers/mysql-dumper.ts), as a user would type it.
const DUMP_ARGS = [
  "--no-defaults",
  "--host=127.0.0.1",
  "--port=3306",
  "--user=root",
  "--protocol=TCP",
  "--single-transaction",
  "--quick",
  "--routines",
  "--triggers",
  "--events",
  "--hex-blob",
  "--default-character-set=utf8mb4",
];

const PG = { host: "127.0.0.1", port: 5432, user: process.env.TEST_PG_USER ?? "postgres" };

/** Creates `sqlguard_bench_pg_<mb>`: the same kind of rows in 4 tables (pg_dump -j dumps tables in parallel), unless it exists. */
async function ensurePgDatabase(mb: number): Promise<string> {
  const name = `sqlguard_bench_pg_${mb}`;
  const admin = new pg.Client({ ...PG, database: "postgres" });
  await admin.connect();
  try {
    const exists = (await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])).rowCount === 1;
    if (exists) {
      const db = new pg.Client({ ...PG, database: name });
      await db.connect();
      const done = (await db.query("SELECT 1 FROM pg_tables WHERE tablename = 'done'")).rowCount === 1;
      await db.end();
      if (done) return name;
      await admin.query(`DROP DATABASE ${name}`);
    }
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const db = new pg.Client({ ...PG, database: name });
  await db.connect();
  try {
    const perTable = Math.round((mb * 1024 * 1024) / ROW_BYTES / 4);
    process.stdout.write(`building ${name}: 4 x ${perTable.toLocaleString()} rows `);
    for (let t = 1; t <= 4; t++) {
      await db.query(
        `CREATE TABLE events_${t} (id bigint PRIMARY KEY, account int NOT NULL, kind varchar(20) NOT NULL, amount numeric(12,2), note varchar(120), token char(32), at timestamp)`,
      );
      for (let from = 1; from <= perTable; from += 500_000) {
        const to = Math.min(perTable, from + 499_999);
        await db.query(
          `INSERT INTO events_${t} SELECT g, g % 9973, (ARRAY['deposit','withdrawal','transfer','fee','refund'])[1 + g % 5], (g * 7919 % 1000000) / 100.0,
             'customer note ' || (g % 1000) || ' for order #' || g || ' — ok', md5(g::text), '2026-01-01'::timestamp + (g % 31536000) * interval '1 second'
           FROM generate_series(${from}::bigint, ${to}::bigint) g`,
        );
        process.stdout.write(".");
      }
    }
    await db.query("CREATE TABLE done (id int)");
    process.stdout.write("\n");
    return name;
  } finally {
    await db.end();
  }
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs a bash command line (a real kernel pipe, pipefail on); resolves with its wall time. */
function bash(line: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn("bash", ["-c", `set -euo pipefail; ${line}`], { stdio: ["ignore", "ignore", "inherit"] });
    child.on("close", (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`bash exited ${code}: ${line}`))));
  });
}

const dumpLine = (database: string) => [DUMP, ...DUMP_ARGS, database].map(quote).join(" ");

type BackupRun = { id: number; wallMs: number; rawBytes: number; storedBytes: number; phases: Record<string, number> | null; spoolPeakBytes: number };
type Sqlguard = {
  backup(database: string, dir: string, serverId?: number): Promise<BackupRun>;
  /** A server row (default profile, or a PARALLEL one with `parallel`); returns its id. */
  addServer(name: string, engine: "MARIADB" | "POSTGRESQL", parallel: boolean): Promise<number>;
  /** A MariaDB server row with a profile `encryption: AGE` and one recovery recipient; returns its id. */
  addEncryptedServer(name: string): Promise<number>;
  /** restoreBackup into a new database, polled until it ends; with the spool's peak disk use. */
  restore(backupId: number, database: string): Promise<{ wallMs: number; spoolPeakBytes: number }>;
  rss(): { currentBytes: number; peakBytes: number };
  /** CPU seconds (user + system) the server process has used so far (its children not counted). */
  cpuSeconds(): number;
  /** CPU seconds of the server's children that have exited (mydumper, myloader, zstd, dump clients). */
  childCpuSeconds(): number;
  stop(): Promise<void>;
};

/** A real SQLGuard server process with npm start's V8 flags over a fresh metadata database. */
async function startSqlguard(work: string): Promise<Sqlguard> {
  const port = await freePort();
  const metadata = `sqlguard_bench_meta_${crypto.randomBytes(4).toString("hex")}`;
  const password = "bench-password-1";
  const child = spawn(
    process.execPath,
    [
      "--max-semi-space-size=4",
      "--heap-growing-percent=100",
      ...(process.env.BENCH_SERVER_FLAGS ?? "").split(" ").filter(Boolean),
      "--import",
      "tsx",
      "server/main.ts",
    ],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        DATABASE_URL: `mysql://root@127.0.0.1:3306/${metadata}`,
        SQLGUARD_PORT: String(port),
        SQLGUARD_HOST: "127.0.0.1",
        SQLGUARD_DATA_DIR: path.join(work, "data"),
        SQLGUARD_ADMIN_PASSWORD: password,
        SQLGUARD_SCHEDULER_ENABLED: "false",
        SQLGUARD_LOG_LEVEL: "info",
        // glibc malloc as npm start and the Docker image set it.
        MALLOC_ARENA_MAX: "1",
        MALLOC_TRIM_THRESHOLD_: "65536",
        MALLOC_TOP_PAD_: "0",
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let log = "";
  child.stdout!.on("data", (c: Buffer) => {
    log += c.toString();
    if (process.env.BENCH_SERVER_LOG) fs.appendFileSync(process.env.BENCH_SERVER_LOG, c);
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`SQLGuard exited before it was ready:\n${log}`);
    if (
      await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 400) throw new Error(`SQLGuard was not ready in time:\n${log}`);
    await new Promise((r) => setTimeout(r, 150));
  }
  const gql = await httpClient(url, "admin", password);
  const data = async (query: string, variables: Record<string, unknown> = {}) => {
    const r = await gql(query, variables);
    if (r.errors?.length) throw new Error(r.errors.map((e) => e.message).join("; "));
    return r.data;
  };
  const server = await data(`mutation { createServer(input: { name: "bench", engine: MARIADB, host: "127.0.0.1", port: 3306, username: "root" }) { id } }`);
  const spool = path.join(work, "data", "spool");
  /** The spool's peak disk use while `run` runs (du-style, every 100 ms). */
  async function watchingSpool<T>(run: () => Promise<T>): Promise<{ result: T; peak: number }> {
    let peak = 0;
    const size = (dir: string): number => {
      let total = 0;
      for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true }) as fs.Dirent[]) {
        if (e.isFile()) total += fs.statSync(path.join(e.parentPath, e.name), { throwIfNoEntry: false })?.size ?? 0;
      }
      return total;
    };
    const timer = setInterval(() => {
      try {
        peak = Math.max(peak, size(spool));
      } catch {
        // a file went away while listed
      }
    }, 100);
    try {
      return { result: await run(), peak };
    } finally {
      clearInterval(timer);
    }
  }
  let profileId: number | null = null;
  let targets = 0;
  const status = (pid: number) => fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (text: string, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0) * 1024;
  return {
    async addServer(name, engine, parallel) {
      if (parallel && profileId === null) {
        const threads = Math.min(8, os.availableParallelism());
        profileId = Number(
          (
            await data(
              `mutation { createDumpOptions(input: { name: "bench-parallel", engine: PARALLEL, threads: ${threads}, chunkRows: ${CHUNK_ROWS} }) { id } }`,
            )
          ).createDumpOptions.id,
        );
      }
      const input = {
        name,
        engine,
        host: "127.0.0.1",
        port: engine === "POSTGRESQL" ? 5432 : 3306,
        username: engine === "POSTGRESQL" ? (process.env.TEST_PG_USER ?? "postgres") : "root",
        ...(parallel ? { dumpOptionsId: profileId } : {}),
      };
      return Number((await data(`mutation($input: ServerInput!) { createServer(input: $input) { id } }`, { input })).createServer.id);
    },
    async addEncryptedServer(name) {
      const recipient = generateIdentity().recipient;
      await data(`mutation($input: AddRecoveryRecipientInput!) { addRecoveryRecipient(input: $input) { id } }`, { input: { label: "bench", recipient } });
      const profile = await data(`mutation { createDumpOptions(input: { name: "bench-age", encryption: AGE }) { id } }`);
      const input = { name, engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", dumpOptionsId: Number(profile.createDumpOptions.id) };
      return Number((await data(`mutation($input: ServerInput!) { createServer(input: $input) { id } }`, { input })).createServer.id);
    },
    async restore(backupId, database) {
      const { result: wallMs, peak } = await watchingSpool(async () => {
        const started = performance.now();
        const r = await data(`mutation($input: RestoreBackupInput!) { restoreBackup(input: $input) { id } }`, { input: { backupId, database } });
        const id = Number(r.restoreBackup.id);
        for (;;) {
          await new Promise((res) => setTimeout(res, 250));
          const s = (await data(`query($id: ID!) { restore(id: $id) { status error } }`, { id })).restore;
          if (s.status === "SUCCEEDED") return performance.now() - started;
          if (s.status !== "RUNNING" && s.status !== "PENDING") throw new Error(`restore ${s.status}: ${s.error}`);
        }
      });
      return { wallMs, spoolPeakBytes: peak };
    },
    async backup(database, dir, serverId = Number(server.createServer.id)) {
      const target = await data(`mutation($input: StorageTargetInput!) { createStorageTarget(input: $input) { id } }`, {
        input: { name: `bench-local-${++targets}`, kind: "LOCAL", path: dir },
      });
      // Watched as the console watches it: the live backupEvents subscription (SSE), not polling.
      const watch = new AbortController();
      const events = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream", cookie: gql.cookie },
        body: JSON.stringify({ query: "subscription { backupEvents { backupId status } }" }),
        signal: watch.signal,
      });
      const ended = new Map<number, string>();
      let wake = () => {};
      const reading = (async () => {
        const decoder = new TextDecoder();
        let buffered = "";
        for await (const chunk of events.body!) {
          buffered += decoder.decode(chunk as Uint8Array, { stream: true });
          let cut: number;
          while ((cut = buffered.indexOf("\n\n")) >= 0) {
            const frame = buffered.slice(0, cut);
            buffered = buffered.slice(cut + 2);
            const json = frame
              .split("\n")
              .filter((l) => l.startsWith("data:"))
              .map((l) => l.slice(5))
              .join("");
            if (!json) continue;
            const event = JSON.parse(json).data?.backupEvents as { backupId: number; status: string | null } | undefined;
            if (event?.status && !["PENDING", "RUNNING"].includes(event.status)) {
              ended.set(Number(event.backupId), event.status);
              wake();
            }
          }
        }
      })().catch(() => {});
      const { result: timed, peak } = await watchingSpool(async () => {
        const started = performance.now();
        const run = await data(`mutation($input: RunBackupInput!) { runBackup(input: $input) { id } }`, {
          input: { serverId, databases: [database], storageTargetIds: [target.createStorageTarget.id] },
        });
        const backupId = Number(run.runBackup[0].id);
        while (!ended.has(backupId)) await new Promise<void>((r) => (wake = r));
        return { id: backupId, wallMs: performance.now() - started };
      });
      const { id, wallMs } = timed;
      watch.abort();
      await reading;
      const b = (await data(`query($id: ID!) { backup(id: $id) { status error rawBytes storedBytes } }`, { id })).backup;
      if (b.status !== "SUCCEEDED") throw new Error(`backup ${b.status}: ${b.error}`);
      const line = log
        .split("\n")
        .filter((l) => l.includes('"backup finished"') && l.includes(`"backupId":${id},`))
        .at(-1);
      const phases = line ? ((JSON.parse(line) as { phases?: Record<string, number> }).phases ?? null) : null;
      return { id, wallMs, rawBytes: Number(b.rawBytes), storedBytes: Number(b.storedBytes), phases, spoolPeakBytes: peak };
    },
    cpuSeconds: () => {
      // utime and stime, fields 14 and 15 of /proc/<pid>/stat (12 and 13 after the parenthesised name), in ticks.
      const fields = fs.readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    childCpuSeconds: () => {
      // cutime and cstime, fields 16 and 17.
      const fields = fs.readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return (Number(fields[13]) + Number(fields[14])) / 100;
    },
    rss: () => {
      const s = status(child.pid!);
      return { currentBytes: kib(s, "VmRSS"), peakBytes: kib(s, "VmHWM") };
    },
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      const conn = await connect({ ...MARIADB, database: "" }, { withDatabase: false });
      await conn.query(`DROP DATABASE IF EXISTS ${metadata}`).finally(() => conn.end());
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const secs = (ms: number) => `${(ms / 1000).toFixed(2).padStart(7)} s`;

const database = await ensureDatabase(SIZE_MB);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-bench-"));
const sqlguard = await startSqlguard(work);
try {
  if (ROWS === "all") await pipeRows(sqlguard, database, work);
  if (PARALLEL_ROUNDS > 0) await parallelRows(sqlguard, database, work);
} finally {
  await sqlguard.stop();
  fs.rmSync(work, { recursive: true, force: true });
}

/** The pipe / SQLGuard / SQLGuard AGE rounds on MariaDB, with their medians, phases, CPU and RSS. */
async function pipeRows(sqlguard: Sqlguard, database: string, work: string): Promise<void> {
  const idle = sqlguard.rss();
  const times = { plain: [] as number[], durable: [] as number[], sqlguard: [] as number[], encrypted: [] as number[] };
  const phases: Array<Record<string, number>> = [];
  const serverCpu: number[] = [];
  const encryptedPhases: Array<Record<string, number>> = [];
  let sizes = { rawBytes: 0, storedBytes: 0 };
  let encryptedBytes = 0;
  const encryptedServer = await sqlguard.addEncryptedServer("bench-age");
  const file = path.join(work, "dump.sql.zst");
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate the order so that a drift in the machine's load hits each contender alike.
    const runs: Array<() => Promise<void>> = [
      async () => void times.plain.push(await bash(`${dumpLine(database)} | zstd -3 -q -c > ${quote(file)}`)),
      async () =>
        void times.durable.push(
          await bash(`${dumpLine(database)} | zstd -3 -q -c | tee ${quote(file)} | sha256sum > ${quote(`${file}.sha256`)}; sync ${quote(file)}`),
        ),
      async () => {
        const dir = path.join(work, `sqlguard-${round}`);
        const cpuBefore = sqlguard.cpuSeconds();
        const r = await sqlguard.backup(database, dir);
        serverCpu.push(sqlguard.cpuSeconds() - cpuBefore);
        times.sqlguard.push(r.wallMs);
        if (r.phases) phases.push(r.phases);
        sizes = r;
        fs.rmSync(dir, { recursive: true, force: true });
      },
      async () => {
        const dir = path.join(work, `sqlguard-age-${round}`);
        const r = await sqlguard.backup(database, dir, encryptedServer);
        times.encrypted.push(r.wallMs);
        if (r.phases) encryptedPhases.push(r.phases);
        encryptedBytes = r.storedBytes;
        fs.rmSync(dir, { recursive: true, force: true });
      },
    ];
    for (const run of round % 2 ? runs : [...runs].reverse()) {
      await run();
      fs.rmSync(file, { force: true });
    }
    console.log(
      `round ${round}: plain ${secs(times.plain.at(-1)!)}, durable ${secs(times.durable.at(-1)!)}, SQLGuard ${secs(times.sqlguard.at(-1)!)}, SQLGuard AGE ${secs(times.encrypted.at(-1)!)}`,
    );
  }
  const peak = sqlguard.rss();
  const [p, d, s, e] = [median(times.plain), median(times.durable), median(times.sqlguard), median(times.encrypted)];
  console.log(
    `\npipeline benchmark: ${database}, dump ${mib(sizes.rawBytes)} MiB -> ${mib(sizes.storedBytes)} MiB (${DUMP}, ${os.cpus().length} CPUs, median of ${ROUNDS})`,
  );
  console.log(`  plain pipe    dump | zstd -3 > file                        ${secs(p)}`);
  console.log(`  durable pipe  dump | zstd -3 | tee file | sha256sum; sync  ${secs(d)}`);
  console.log(`  SQLGuard      runBackup -> SUCCEEDED (zstd 3, local)       ${secs(s)}`);
  console.log(`  SQLGuard AGE  runBackup -> SUCCEEDED (zstd 3, age, local)  ${secs(e)}   ${mib(encryptedBytes)} MiB stored`);
  console.log(`  SQLGuard / durable pipe: ${(s / d).toFixed(3)}x (target <= 1.05x); SQLGuard / plain pipe: ${(s / p).toFixed(3)}x`);
  console.log(`  SQLGuard AGE / SQLGuard: ${(e / s).toFixed(3)}x (target <= 1.05x)`);
  for (const [label, list] of [
    ["SQLGuard", phases],
    ["SQLGuard AGE", encryptedPhases],
  ] as const) {
    if (!list.length) continue;
    const names = Object.keys(list[0]!);
    console.log(`  ${label} phases (median ms): ${names.map((n) => `${n} ${median(list.map((ph) => ph[n] ?? 0))}`).join(", ")}`);
  }
  console.log(`  SQLGuard server CPU per backup (median; its children not counted): ${median(serverCpu).toFixed(2)} s`);
  console.log(
    `  SQLGuard server RSS: idle ${mib(idle.currentBytes)} MiB, peak ${mib(peak.peakBytes)} MiB (the data path adds ${mib(peak.peakBytes - idle.peakBytes)} MiB)`,
  );
}

/** The database server's pid (mariadbd / the oldest postgres), or null when it is not found. */
function databaseServerPid(engine: "MARIADB" | "POSTGRESQL"): number | null {
  const name = engine === "MARIADB" ? ["mariadbd", "mysqld"] : ["postgres"];
  let found: { pid: number; start: number } | null = null;
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    if (!name.includes(comm)) continue;
    const start = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    if (!found || start < found.start) found = { pid: Number(entry), start };
  }
  return found?.pid ?? null;
}

/** CPU seconds (user + system) of a process and its exited children (PostgreSQL's backends are its children). */
function processCpu(pid: number | null): number {
  if (pid === null) return 0;
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100;
}

/** Drops a database a restore row made (best effort). */
async function dropRestored(engine: "MARIADB" | "POSTGRESQL", name: string): Promise<void> {
  if (engine === "POSTGRESQL") {
    const c = new pg.Client({ ...PG, database: "postgres" });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => c.end());
    return;
  }
  const conn = await connect({ ...MARIADB, database: "" }, { withDatabase: false });
  await conn.query(`DROP DATABASE IF EXISTS \`${name}\``).finally(() => conn.end());
}

/**
 * The PARALLEL rows, per engine: SQLGuard SINGLE and PARALLEL backups, the plain pipe, then the
 * restores (plain client pipe, SQLGuard SINGLE, SQLGuard PARALLEL) into new databases.
 */
async function parallelRows(sqlguard: Sqlguard, mariaDatabase: string, work: string): Promise<void> {
  const pgDatabase = ONLY === "MARIADB" ? "" : await ensurePgDatabase(SIZE_MB);
  const all = [
    {
      engine: "MARIADB" as const,
      database: mariaDatabase,
      plainDump: (file: string) => `${dumpLine(mariaDatabase)} | zstd -3 -q -c > ${quote(file)}`,
      plainRestore: (file: string, db: string) =>
        `mariadb --no-defaults -h 127.0.0.1 -P 3306 -u root --protocol=TCP -e ${quote(`CREATE DATABASE \`${db}\``)} && zstd -dc ${quote(file)} | mariadb --no-defaults -h 127.0.0.1 -P 3306 -u root --protocol=TCP --binary-mode --max-allowed-packet=1G ${quote(db)}`,
      plainLabel: ["mariadb-dump | zstd -3 > file", "zstd -dc file | mariadb"],
    },
    {
      engine: "POSTGRESQL" as const,
      database: pgDatabase,
      plainDump: (file: string) => `pg_dump -h 127.0.0.1 -U ${quote(PG.user)} --no-owner --no-password ${quote(pgDatabase)} | zstd -3 -q -c > ${quote(file)}`,
      plainRestore: (file: string, db: string) =>
        `psql -h 127.0.0.1 -U ${quote(PG.user)} -q -d postgres -c ${quote(`CREATE DATABASE "${db}"`)} && zstd -dc ${quote(file)} | psql -h 127.0.0.1 -U ${quote(PG.user)} -q -v ON_ERROR_STOP=1 --single-transaction -d ${quote(db)} > /dev/null`,
      plainLabel: ["pg_dump | zstd -3 > file", "zstd -dc file | psql"],
    },
  ];
  const engines = all.filter((e) => ONLY === "ALL" || e.engine === ONLY);
  for (const e of engines) {
    const single = await sqlguard.addServer(`bench-${e.engine.toLowerCase()}-single`, e.engine, false);
    const parallel = await sqlguard.addServer(`bench-${e.engine.toLowerCase()}-parallel`, e.engine, true);
    const t = {
      plainDump: [] as number[],
      single: [] as number[],
      parallel: [] as number[],
      plainRestore: [] as number[],
      singleRestore: [] as number[],
      parallelRestore: [] as number[],
    };
    // CPU seconds per contender: the SQLGuard server, its children, and the database server (its
    // whole delta: on a shared machine it includes other clients' work).
    const cpu: Record<string, string> = {};
    const dbPid = databaseServerPid(e.engine);
    const counted = async <T>(key: string, run: () => Promise<T>): Promise<T> => {
      const before = [sqlguard.cpuSeconds(), sqlguard.childCpuSeconds(), processCpu(dbPid)];
      const result = await run();
      const after = [sqlguard.cpuSeconds(), sqlguard.childCpuSeconds(), processCpu(dbPid)];
      const [node, children, db] = after.map((v, i) => v - before[i]!);
      cpu[key] = `CPU ${(node! + children! + db!).toFixed(1)} s (server ${node!.toFixed(1)}, children ${children!.toFixed(1)}, database ${db!.toFixed(1)})`;
      return result;
    };
    let spoolBackup = 0;
    let spoolRestore = 0;
    let sizes = { single: 0, parallel: 0, raw: 0 };
    for (let round = 1; round <= PARALLEL_ROUNDS; round++) {
      const file = path.join(work, "plain.sql.zst");
      t.plainDump.push(await bash(e.plainDump(file)));
      const dir = (label: string) => path.join(work, `${e.engine}-${label}-${round}`);
      const s = await counted("single", () => sqlguard.backup(e.database, dir("single"), single));
      const p = await counted("parallel", () => sqlguard.backup(e.database, dir("parallel"), parallel));
      t.single.push(s.wallMs);
      t.parallel.push(p.wallMs);
      spoolBackup = Math.max(spoolBackup, p.spoolPeakBytes);
      sizes = { single: s.storedBytes, parallel: p.storedBytes, raw: p.rawBytes };
      const restored = (label: string) => `sqlguard_bench_r_${label}_${round}`;
      for (const label of ["plain", "single", "parallel"]) await dropRestored(e.engine, restored(label));
      t.plainRestore.push(await bash(e.plainRestore(file, restored("plain"))));
      await dropRestored(e.engine, restored("plain"));
      t.singleRestore.push((await counted("singleRestore", () => sqlguard.restore(s.id, restored("single")))).wallMs);
      await dropRestored(e.engine, restored("single"));
      const pr = await counted("parallelRestore", () => sqlguard.restore(p.id, restored("parallel")));
      t.parallelRestore.push(pr.wallMs);
      spoolRestore = Math.max(spoolRestore, pr.spoolPeakBytes);
      await dropRestored(e.engine, restored("parallel"));
      for (const label of ["single", "parallel"]) fs.rmSync(dir(label), { recursive: true, force: true });
      fs.rmSync(file, { force: true });
    }
    const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)])) as Record<keyof typeof t, number>;
    const threads = Math.min(8, os.availableParallelism());
    console.log(
      `\nPARALLEL engine: ${e.engine} ${e.database}, tar ${mib(sizes.raw)} MiB -> ${mib(sizes.parallel)} MiB (single: ${mib(sizes.single)} MiB), ${threads} threads, median of ${PARALLEL_ROUNDS}`,
    );
    console.log(`  backup   plain pipe   ${e.plainLabel[0]!.padEnd(34)} ${secs(m.plainDump)}`);
    console.log(`  backup   SQLGuard     SINGLE                             ${secs(m.single)}   ${cpu.single}`);
    console.log(
      `  backup   SQLGuard     PARALLEL                           ${secs(m.parallel)}   ${(m.single / m.parallel).toFixed(2)}x faster than SINGLE (target >= 1.8x); ${cpu.parallel}`,
    );
    console.log(`  restore  plain pipe   ${e.plainLabel[1]!.padEnd(34)} ${secs(m.plainRestore)}`);
    console.log(`  restore  SQLGuard     SINGLE                             ${secs(m.singleRestore)}   ${cpu.singleRestore}`);
    console.log(
      `  restore  SQLGuard     PARALLEL                           ${secs(m.parallelRestore)}   ${(m.singleRestore / m.parallelRestore).toFixed(2)}x faster than SINGLE (target >= 2x); ${cpu.parallelRestore}`,
    );
    console.log(`  peak spool disk use: backup ${mib(spoolBackup)} MiB, restore ${mib(spoolRestore)} MiB`);
  }
}
