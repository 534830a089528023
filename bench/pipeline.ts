// Backup pipeline throughput and memory: builds a MariaDB database of about --size-mb of dump
// (default 1024; kept between runs), then times side by side raw mariadb-dump > file,
// mariadb-dump | zstd -3, mariadb-dump | gzip -6, and a SQLGuard backup of it to a local target
// (in a child process, so its peak RSS is its own). Prints wall times, MB/s, ratios and peak RSS.
// Usage: npm run bench:pipeline [-- --size-mb 1024 --size-mb 100]
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { connect } from "../server/db/connection.ts";

const sizes = process.argv.flatMap((a, i) => (a === "--size-mb" ? [Number(process.argv[i + 1])] : []));
if (sizes.length === 0) sizes.push(1024);
const MARIADB = { host: "127.0.0.1", port: 3306, user: "root" };
const DUMP = fs.existsSync("/usr/bin/mariadb-dump") ? "mariadb-dump" : "mysqldump";
const DUMP_ARGS = [
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
const ROW_BYTES = 134; // about what one generated row takes in the dump

/** Creates `sqlguard_bench_<mb>` with rows of mixed text and numbers, unless it already exists. */
async function ensureDatabase(mb: number): Promise<string> {
  const name = `sqlguard_bench_${mb}`;
  const conn = await connect({ ...MARIADB, database: "" }, { withDatabase: false });
  try {
    const exists = (await conn.query("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'done'", [name])) as Array<{
      n: bigint;
    }>;
    if (Number(exists[0]!.n) > 0) return name;
    await conn.query(`DROP DATABASE IF EXISTS ${name}`);
    await conn.query(`CREATE DATABASE ${name}`);
    await conn.query(`USE ${name}`);
    await conn.query(
      "CREATE TABLE events (id BIGINT PRIMARY KEY, account INT NOT NULL, kind VARCHAR(20) NOT NULL, amount DECIMAL(12,2), note VARCHAR(120), token CHAR(32), at DATETIME) ENGINE=InnoDB",
    );
    const rows = Math.round((mb * 1024 * 1024) / ROW_BYTES);
    const step = 500_000;
    process.stdout.write(`building ${name}: ${rows.toLocaleString()} rows `);
    for (let from = 1; from <= rows; from += step) {
      const to = Math.min(rows, from + step - 1);
      // seq_N_to_M is MariaDB's Sequence engine: the rows are generated inside the server.
      await conn.query(
        `INSERT INTO events SELECT seq, seq % 9973, ELT(1 + seq % 5, 'deposit', 'withdrawal', 'transfer', 'fee', 'refund'),
           (seq * 7919 % 1000000) / 100, CONCAT('customer note ', seq % 1000, ' for order #', seq, ' — ok'), MD5(seq),
           '2026-01-01' + INTERVAL (seq % 31536000) SECOND FROM seq_${from}_to_${to}`,
      );
      process.stdout.write(".");
    }
    await conn.query("CREATE TABLE done (id INT)");
    process.stdout.write("\n");
    return name;
  } finally {
    await conn.end();
  }
}

/** Runs `dump db | filter > file` (filter null = raw), returns wall ms and bytes written. */
function shellPipe(database: string, filter: string[] | null, file: string): Promise<{ ms: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(file, "w");
    const started = performance.now();
    const dump = spawn(DUMP, [...DUMP_ARGS, database], { stdio: ["ignore", filter ? "pipe" : out, "inherit"] });
    const last = filter ? spawn(filter[0]!, filter.slice(1), { stdio: ["pipe", out, "inherit"] }) : dump;
    if (filter) dump.stdout!.pipe(last.stdin!);
    last.on("close", (code) => {
      fs.closeSync(out);
      if (code !== 0) return reject(new Error(`${filter?.[0] ?? DUMP} exited ${code}`));
      resolve({ ms: performance.now() - started, bytes: fs.statSync(file).size });
    });
  });
}

function sqlguardBackup(
  database: string,
  dir: string,
): Promise<{ wallMs: number; rawBytes: number; storedBytes: number; peakRssBytes: number; rssBeforeBytes: number }> {
  return new Promise((resolve, reject) => {
    // The same V8 flags as `npm start` and the Docker image, so the RSS is production's.
    const child = spawn(process.execPath, ["--max-semi-space-size=4", "--import", "tsx", "bench/pipeline-sqlguard.ts", database, dir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.on("close", (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split("\n").at(-1)!)) : reject(new Error(`SQLGuard backup exited ${code}: ${out}`)),
    );
  });
}

const mbps = (bytes: number, ms: number) => (bytes / 1024 / 1024 / (ms / 1000)).toFixed(1);
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

for (const mb of sizes) {
  const database = await ensureDatabase(mb);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-bench-"));
  try {
    const raw = await shellPipe(database, null, path.join(work, "raw.sql"));
    const zstd = await shellPipe(database, ["zstd", "-3", "-q", "-c"], path.join(work, "dump.sql.zst"));
    const gzip = await shellPipe(database, ["gzip", "-6", "-c"], path.join(work, "dump.sql.gz"));
    fs.rmSync(path.join(work, "raw.sql"));
    const sg = await sqlguardBackup(database, path.join(work, "sqlguard"));
    console.log(`\npipeline benchmark: ${database}, dump ${mib(raw.bytes)} MiB (${DUMP}, ${os.cpus().length} CPUs)`);
    console.log(`  raw dump > file          ${(raw.ms / 1000).toFixed(2).padStart(7)} s  ${mbps(raw.bytes, raw.ms).padStart(7)} MB/s`);
    console.log(
      `  dump | zstd -3 > file    ${(zstd.ms / 1000).toFixed(2).padStart(7)} s  ${mbps(raw.bytes, zstd.ms).padStart(7)} MB/s  -> ${mib(zstd.bytes)} MiB`,
    );
    console.log(
      `  dump | gzip -6 > file    ${(gzip.ms / 1000).toFixed(2).padStart(7)} s  ${mbps(raw.bytes, gzip.ms).padStart(7)} MB/s  -> ${mib(gzip.bytes)} MiB`,
    );
    console.log(
      `  SQLGuard (zstd 3, local) ${(sg.wallMs / 1000).toFixed(2).padStart(7)} s  ${mbps(sg.rawBytes, sg.wallMs).padStart(7)} MB/s  -> ${mib(sg.storedBytes)} MiB`,
    );
    console.log(`  SQLGuard / zstd pipe: ${(sg.wallMs / zstd.ms).toFixed(3)}x (target <= 1.05x); SQLGuard / raw dump: ${(sg.wallMs / raw.ms).toFixed(3)}x`);
    console.log(`  SQLGuard peak RSS: ${mib(sg.peakRssBytes)} MiB (target < 150 MiB); RSS before the backup: ${mib(sg.rssBeforeBytes)} MiB`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
