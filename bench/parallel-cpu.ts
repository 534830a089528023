// CPU accounting of the SINGLE and PARALLEL engines on MariaDB, for a machine too busy for wall
// clocks: a private mariadbd (its CPU is then only ours), a database of --size-mb MiB in one table
// (bench/mariadb-database.ts's rows), then per contender the CPU seconds (user + system) of
// mariadbd, of this process (the pipeline's Node part) and of its children (mydumper, myloader,
// mariadb-dump, mariadb, zstd), and the wall time. On 2 cores a path's wall time is bounded below
// by its total CPU / 2. Usage: node --import tsx bench/parallel-cpu.ts [--size-mb 256] [--only backup|restore]
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { connect } from "../server/db/connection.ts";
import { runPipeline } from "../server/runner/backup-pipeline.ts";
import { buildDump, buildParallel } from "../server/runner/dumpers/build-dump.ts";
import { detectTools } from "../server/runner/dumpers/tools.ts";
import type { DumpProfile, ServerConnection } from "../server/runner/dumpers/types.ts";
import { LocalStore } from "../server/storage/local-store.ts";
import { restoreArtifact } from "../server/restore/restore-artifact.ts";
import { freePort } from "../server/testing/server-process.ts";
import { ROW_BYTES } from "./mariadb-database.ts";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const SIZE_MB = Number(arg("--size-mb", "256"));
const ONLY = arg("--only", "all");
const THREADS = Number(arg("--threads", "2"));
const CHUNK_ROWS = Number(arg("--chunk-rows", "500000"));
const KEEP = process.argv.includes("--keep");

const ticks = (pid: number | "self") => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // utime stime cutime cstime: fields 14-17, 12-15 after the name.
  return { self: (Number(f[11]) + Number(f[12])) / 100, children: (Number(f[13]) + Number(f[14])) / 100 };
};

const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-cpu-"));
const datadir = path.join(work, "data");
const asRoot = process.getuid?.() === 0;
await new Promise<void>((resolve, reject) =>
  spawn(
    "mariadb-install-db",
    ["--no-defaults", `--datadir=${datadir}`, "--auth-root-authentication-method=normal", "--skip-test-db", ...(asRoot ? ["--user=root"] : [])],
    {
      stdio: "ignore",
    },
  ).on("exit", (c) => (c === 0 ? resolve() : reject(new Error(`mariadb-install-db ${c}`)))),
);
const port = await freePort();
// The shared server's settings that matter here: 128 MiB buffer pool, 96 MiB redo log, no binlog.
const mariadbd = spawn(
  "mariadbd",
  [
    "--no-defaults",
    `--datadir=${datadir}`,
    `--port=${port}`,
    "--bind-address=127.0.0.1",
    `--socket=${path.join(work, "sock")}`,
    "--skip-log-bin",
    "--skip-name-resolve",
    "--innodb-buffer-pool-size=128M",
    "--innodb-log-file-size=96M",
    "--max-allowed-packet=64M",
    ...(asRoot ? ["--user=root"] : []),
  ],
  { stdio: "ignore" },
);
const db = { host: "127.0.0.1", port, user: "root", database: "" };
for (let i = 0; ; i++) {
  const ok = await connect(db, { withDatabase: false }).then(
    (c) => c.end().then(() => true),
    () => false,
  );
  if (ok) break;
  if (i > 300) throw new Error("mariadbd did not start");
  await new Promise((r) => setTimeout(r, 100));
}
const conn: ServerConnection = { engine: "MARIADB", host: "127.0.0.1", port, username: "root", password: null, tls: false };
const sql = async (q: string) => {
  const c = await connect(db, { withDatabase: false });
  try {
    return await c.query(q);
  } finally {
    await c.end();
  }
};

try {
  const rows = Math.round((SIZE_MB * 1024 * 1024) / ROW_BYTES);
  const built = performance.now();
  await sql("CREATE DATABASE src");
  await sql(
    "CREATE TABLE src.events (id BIGINT PRIMARY KEY, account INT NOT NULL, kind VARCHAR(20) NOT NULL, amount DECIMAL(12,2), note VARCHAR(120), token CHAR(32), at DATETIME) ENGINE=InnoDB",
  );
  for (let from = 1; from <= rows; from += 500_000) {
    const to = Math.min(rows, from + 499_999);
    await sql(`INSERT INTO src.events SELECT seq, seq % 9973, ELT(1 + seq % 5, 'deposit', 'withdrawal', 'transfer', 'fee', 'refund'),
         (seq * 7919 % 1000000) / 100, CONCAT('customer note ', seq % 1000, ' for order #', seq, ' — ok'), MD5(seq),
         '2026-01-01' + INTERVAL (seq % 31536000) SECOND FROM src.seq_${from}_to_${to}`);
  }
  console.log(`built src: ${rows.toLocaleString()} rows in ${((performance.now() - built) / 1000).toFixed(1)} s; load ${os.loadavg()[0]!.toFixed(2)}`);
  const tools = await detectTools();
  const version = String(((await sql("SELECT VERSION() AS v")) as Array<{ v: string }>)[0]!.v);
  const profile = { engine: "PARALLEL", threads: THREADS, chunkRows: CHUNK_ROWS } as DumpProfile;

  /** Lets the server finish the previous contender's background work (dirty pages, purge), so its CPU is not counted to the next. */
  const settle = async () => {
    await sql("SET GLOBAL innodb_max_dirty_pages_pct = 0");
    for (let i = 0; i < 120; i++) {
      const dirty = (await sql("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")) as Array<{ Value: string }>;
      const history = (await sql("SELECT `count` AS n FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'")) as Array<{ n: bigint }>;
      if (Number(dirty[0]!.Value) < 50 && Number(history[0]?.n ?? 0) < 100) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await sql("SET GLOBAL innodb_max_dirty_pages_pct = 90");
  };
  const measure = async <T>(label: string, run: () => Promise<T>): Promise<T> => {
    await settle();
    const [m0, p0] = [ticks(mariadbd.pid!), ticks("self")];
    const started = performance.now();
    const result = await run();
    const wall = (performance.now() - started) / 1000;
    const [m1, p1] = [ticks(mariadbd.pid!), ticks("self")];
    const cpu = { mariadbd: m1.self - m0.self, node: p1.self - p0.self, children: p1.children - p0.children };
    const total = cpu.mariadbd + cpu.node + cpu.children;
    const perGiB = 1024 / SIZE_MB;
    console.log(
      `${label.padEnd(22)} wall ${wall.toFixed(1).padStart(6)} s  CPU/GiB: mariadbd ${(cpu.mariadbd * perGiB).toFixed(1).padStart(5)}  node ${(cpu.node * perGiB).toFixed(1).padStart(5)}  children ${(cpu.children * perGiB).toFixed(1).padStart(5)}  total ${(total * perGiB).toFixed(1).padStart(5)}  (bound on 2 cores ${(total / 2).toFixed(1)} s; load ${os.loadavg()[0]!.toFixed(2)})`,
    );
    return result;
  };

  const store = new LocalStore({ basePath: path.join(work, "store") });
  const backup = async (parallel: boolean) => {
    const spool = fs.mkdtempSync(path.join(work, "spool-"));
    const dump = parallel ? await buildParallel(conn, profile, "src", tools, version, spool) : buildDump(conn, null, "src", tools, version);
    const key = parallel ? "parallel.tar.zst" : "single.sql.zst";
    let spoolPeak = 0;
    try {
      const r = await runPipeline({
        dump,
        compression: "ZSTD",
        level: 3,
        targets: [{ id: 1, store, key, contentType: "application/zstd" }],
        signal: new AbortController().signal,
      });
      spoolPeak = r.spoolPeakBytes ?? 0;
      return { key, sha256: r.sha256, rawBytes: r.rawBytes, storedBytes: r.storedBytes, spoolPeak, format: dump.format, skip: false };
    } finally {
      await dump.cleanup();
      fs.rmSync(spool, { recursive: true, force: true });
    }
  };
  const kept = path.join(work, "unpacked");
  const restore = async (b: { key: string; sha256: string; format: "sql" | "tar" | "pg-custom" }, database: string) => {
    await sql(`DROP DATABASE IF EXISTS ${database}`);
    const file = path.join(store.basePath, b.key);
    const [m0, p0, w0] = [ticks(mariadbd.pid!), ticks("self"), performance.now()];
    await restoreArtifact(
      { open: async () => createReadStream(file), sha256: b.sha256, compression: "ZSTD", format: b.format },
      { conn, database, mode: "create" },
      {
        signal: new AbortController().signal,
        spoolDir: path.join(work, "rspool"),
        threads: THREADS,
        onUnpacked: async (dir) => {
          const [m1, p1] = [ticks(mariadbd.pid!), ticks("self")];
          const total = m1.self - m0.self + (p1.self - p0.self) + (p1.children - p0.children);
          console.log(
            `  unpacked after ${((performance.now() - w0) / 1000).toFixed(1)} s wall, ${((total * 1024) / SIZE_MB).toFixed(1)} s CPU/GiB (node ${(((p1.self - p0.self) * 1024) / SIZE_MB).toFixed(1)})`,
          );
          // Hard links: the loader experiments (--myloader) reuse the unpacked dump.
          await new Promise<void>((resolve) => spawn("cp", ["-al", dir, kept]).on("exit", () => resolve()));
        },
      },
    );
  };
  const checksum = async (database: string) => String(((await sql(`CHECKSUM TABLE ${database}.events`)) as Array<{ Checksum: bigint }>)[0]!.Checksum);

  const single = await measure("backup SINGLE", () => backup(false));
  const parallel = await measure(`backup PARALLEL t${THREADS}`, () => backup(true));
  console.log(
    `  sizes: single ${(single.rawBytes / 2 ** 20).toFixed(0)} -> ${(single.storedBytes / 2 ** 20).toFixed(0)} MiB, parallel ${(parallel.rawBytes / 2 ** 20).toFixed(0)} -> ${(parallel.storedBytes / 2 ** 20).toFixed(0)} MiB, spool peak ${(parallel.spoolPeak / 2 ** 20).toFixed(0)} MiB`,
  );
  if (ONLY !== "backup") {
    if (ONLY === "parallel-restore") single.skip = true;
    const want = await checksum("src");
    if (!single.skip) await measure("restore SINGLE", () => restore(single, "r_single"));
    await measure(`restore PARALLEL t${THREADS}`, () => restore(parallel, "r_parallel"));
    for (const d of single.skip ? ["r_parallel"] : ["r_single", "r_parallel"]) {
      const got = await checksum(d);
      if (got !== want) console.log(`  CHECKSUM MISMATCH ${d}: ${got} != ${want}`);
    }
    console.log(`  checksums compared (${want})`);
    // Loader variants on the same unpacked dump: --myloader "-t 2 -q 1000;-t 2 -q 10"
    for (const variant of arg("--myloader", "").split(";").filter(Boolean)) {
      const args = variant.split(" ").filter(Boolean);
      await sql("DROP DATABASE IF EXISTS r_variant");
      await sql("CREATE DATABASE r_variant");
      fs.writeFileSync(path.join(work, "variant.cnf"), `[client]\nhost=127.0.0.1\nport=${port}\nuser=root\nprotocol=TCP\n`);
      await measure(
        `myloader ${variant}`,
        () =>
          new Promise<void>((resolve, reject) =>
            spawn("myloader", [`--defaults-file=${path.join(work, "variant.cnf")}`, `--directory=${kept}`, "--database=r_variant", ...args], {
              stdio: "inherit",
            }).on("exit", (c) => (c === 0 ? resolve() : reject(new Error(`myloader ${c}`)))),
          ),
      );
      if ((await checksum("r_variant")) !== want) console.log("  CHECKSUM MISMATCH r_variant");
    }
  }
  void crypto;
} finally {
  mariadbd.kill("SIGTERM");
  await new Promise((r) => mariadbd.once("exit", r));
  if (!KEEP) fs.rmSync(work, { recursive: true, force: true });
}
