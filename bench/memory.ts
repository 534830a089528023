// Resident memory of each role, as production runs it: the compiled build (dist/main.js, built first
// when stale) started by bin/sqlguard-server (npm start's and the image's malloc and V8 flags), each role over its own fresh metadata database. For each role:
//   idle    VmRSS 10 s after /readyz (startup done, the scheduler and leases running, nothing to do)
//   backup  the peak VmRSS (sampled every 100 ms) while it runs one backup of `sqlguard_bench_<mb>` (bench:pipeline's
//           database, built when missing) to a local target; "data path" is that peak minus idle.
//           `all` runs it itself; `worker` claims it from the queue after an `api` process (started
//           beside it, on the same metadata database) enqueued it; `api` runs no dumps.
// Targets (issue 15): worker <= 110 MB idle, all <= 150 MB idle, the data path adds <= 32 MB.
// Usage: npm run bench:memory [-- --size-mb 1024 --roles all,api,worker --idle-seconds 10 --tsx]
//   --roles  default: all, plus api and worker when this build has SQLGUARD_ROLE
//   --tsx    also measures `node --import tsx server/main.ts` (how production ran before dist/), idle only
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "../server/db/connection.ts";
import { freePort, httpClient } from "../server/testing/server-process.ts";
import { ensureDatabase, MARIADB } from "./mariadb-database.ts";

const argValue = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SIZE_MB = Number(argValue("--size-mb") ?? 1024);
const IDLE_SECONDS = Number(argValue("--idle-seconds") ?? 10);
const HAS_ROLES = fs.readFileSync(path.join(ROOT, "server/config/env.ts"), "utf8").includes("SQLGUARD_ROLE");
const ROLES = (argValue("--roles") ?? (HAS_ROLES ? "all,api,worker" : "all")).split(",") as Role[];
const WITH_TSX = process.argv.includes("--tsx");
const MB = 1_000_000;
const TARGET_IDLE: Record<Role, number | null> = { all: 150 * MB, worker: 110 * MB, api: null };
const TARGET_DATA_PATH = 32 * MB;
const PASSWORD = "bench-password-1";

type Role = "all" | "api" | "worker";
type Runtime = "dist" | "tsx";
type Proc = { child: ChildProcess; url: string; log: () => string; status(): { rss: number; hwm: number }; stop(): Promise<void> };

/** One server process of `role` on `metadata` (a database name on the local MariaDB). */
async function start(role: Role, metadata: string, work: string, runtime: Runtime): Promise<Proc> {
  const port = await freePort();
  // dist: bin/sqlguard-server, exactly as npm start and the Docker image start it (its malloc and V8 flags, by role).
  const [command, args] =
    runtime === "dist"
      ? [path.join(ROOT, "bin/sqlguard-server"), []]
      : [process.execPath, ["--max-semi-space-size=4", "--heap-growing-percent=100", "--import", "tsx", "server/main.ts"]];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      DATABASE_URL: `mysql://root@127.0.0.1:3306/${metadata}`,
      SQLGUARD_PORT: String(port),
      SQLGUARD_HOST: "127.0.0.1",
      SQLGUARD_DATA_DIR: path.join(work, `data-${role}-${port}`),
      SQLGUARD_ADMIN_PASSWORD: PASSWORD,
      SQLGUARD_SECRET_KEY: crypto.createHash("sha256").update(metadata).digest("base64"),
      SQLGUARD_SCHEDULER_ENABLED: "false",
      SQLGUARD_LOG_LEVEL: "info",
      ...(HAS_ROLES ? { SQLGUARD_ROLE: role } : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout!.on("data", (c: Buffer) => (log += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (log += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`SQLGuard (${role}) exited before it was ready:\n${log}`);
    if (
      await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 600) throw new Error(`SQLGuard (${role}) was not ready in time:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const kib = (text: string, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0) * 1024;
  return {
    child,
    url,
    log: () => log,
    status: () => {
      const s = fs.readFileSync(`/proc/${child.pid}/status`, "utf8");
      return { rss: kib(s, "VmRSS"), hwm: kib(s, "VmHWM") };
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

/** Through `api` (any role that serves GraphQL): a MariaDB server, a local target, one backup; resolves when it ended. */
async function backupThrough(api: Proc, database: string, dir: string): Promise<{ rawBytes: number }> {
  const gql = await httpClient(api.url, "admin", PASSWORD);
  const data = async (query: string, variables: Record<string, unknown> = {}) => {
    const r = await gql(query, variables);
    if (r.errors?.length) throw new Error(r.errors.map((e) => e.message).join("; "));
    return r.data;
  };
  const server = await data(`mutation { createServer(input: { name: "bench", engine: MARIADB, host: "127.0.0.1", port: 3306, username: "root" }) { id } }`);
  const target = await data(`mutation($input: StorageTargetInput!) { createStorageTarget(input: $input) { id } }`, {
    input: { name: "bench-memory", kind: "LOCAL", path: dir },
  });
  const run = await data(`mutation($input: RunBackupInput!) { runBackup(input: $input) { id } }`, {
    input: { serverId: Number(server.createServer.id), databases: [database], storageTargetIds: [target.createStorageTarget.id] },
  });
  const id = Number(run.runBackup[0].id);
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const b = (await data(`query($id: ID!) { backup(id: $id) { status error rawBytes } }`, { id })).backup;
    if (b.status === "SUCCEEDED") return { rawBytes: Number(b.rawBytes) };
    if (b.status !== "RUNNING" && b.status !== "PENDING") throw new Error(`backup ${b.status}: ${b.error}`);
  }
}

async function dropDatabase(name: string): Promise<void> {
  const conn = await connect({ ...MARIADB, database: "" }, { withDatabase: false });
  await conn.query(`DROP DATABASE IF EXISTS ${name}`).finally(() => conn.end());
}

type Row = { label: string; role: Role; idle: number; target: number | null; peak?: number; rawBytes?: number };

/** Starts `role`, reads its idle RSS, then (unless `api` or idle-only) its peak during one backup. */
async function measure(role: Role, runtime: Runtime, database: string | null, work: string): Promise<Row> {
  const metadata = `sqlguard_bench_mem_${crypto.randomBytes(4).toString("hex")}`;
  const procs: Proc[] = [];
  try {
    // A worker serves no GraphQL: an api process beside it seeds the database and enqueues the backup.
    const front = role === "worker" ? await start("api", metadata, work, runtime) : null;
    if (front) procs.push(front);
    const proc = await start(role, metadata, work, runtime);
    procs.push(proc);
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idle = proc.status().rss;
    const row: Row = { label: `${role} (${runtime})`, role, idle, target: TARGET_IDLE[role] };
    if (database && role !== "api") {
      const dir = path.join(work, `artifacts-${metadata}`);
      // Sampled (VmHWM would also hold startup's peak: migrations, seeding).
      let peak = idle;
      const sampler = setInterval(() => {
        peak = Math.max(peak, proc.status().rss);
      }, 100);
      try {
        row.rawBytes = (await backupThrough(front ?? proc, database, dir)).rawBytes;
      } finally {
        clearInterval(sampler);
      }
      row.peak = peak;
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return row;
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await dropDatabase(metadata);
  }
}

const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;

const build = spawnSync(process.execPath, ["scripts/build-server.mjs", "--if-stale"], { cwd: ROOT, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);
const database = await ensureDatabase(SIZE_MB);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-bench-memory-"));
const rows: Row[] = [];
try {
  for (const role of ROLES) {
    rows.push(await measure(role, "dist", database, work));
    console.log(`measured ${rows.at(-1)!.label}`);
  }
  if (WITH_TSX) {
    for (const role of ROLES) {
      rows.push(await measure(role, "tsx", null, work));
      console.log(`measured ${rows.at(-1)!.label}`);
    }
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}

const verdict = (value: number, limit: number | null) => (limit === null ? "" : value <= limit ? "ok" : "OVER");
console.log(`\nmemory benchmark: RSS per role (${os.cpus().length} CPUs, Node ${process.version}, idle after ${IDLE_SECONDS} s, backup of ${database})`);
console.log(
  `  ${"role".padEnd(16)} ${"idle RSS".padStart(10)} ${"target".padStart(9)}     ${"backup peak".padStart(11)} ${"data path".padStart(10)} ${"target".padStart(8)}`,
);
let failed = false;
for (const r of rows) {
  const idleVerdict = verdict(r.idle, r.target);
  const added = r.peak === undefined ? undefined : r.peak - r.idle;
  const addedVerdict = added === undefined ? "" : verdict(added, TARGET_DATA_PATH);
  if (r.label.endsWith("(dist)") && (idleVerdict === "OVER" || addedVerdict === "OVER")) failed = true;
  console.log(
    `  ${r.label.padEnd(16)} ${mb(r.idle).padStart(10)} ${(r.target === null ? "-" : `<= ${r.target / MB}`).padStart(9)} ${idleVerdict.padEnd(4)} ${(r.peak === undefined ? "-" : mb(r.peak)).padStart(11)} ${(added === undefined ? "-" : `+${mb(added)}`).padStart(10)} ${added === undefined ? "" : `<= ${TARGET_DATA_PATH / MB}`.padStart(8)} ${addedVerdict}`,
  );
}
const dumped = rows.find((r) => r.rawBytes)?.rawBytes;
if (dumped) console.log(`  (dump size ${mb(dumped)}; MB = 10^6 bytes)`);
process.exitCode = failed ? 1 : 0;
