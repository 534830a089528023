import type { Decryption } from "../../encryption/artifact-decryption.ts";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { spawnChild } from "../../process/spawn.ts";
import type { ArtifactSource } from "../../restore/restore-artifact.ts";
import type { ArtifactStore } from "../../storage/artifact-store.ts";
import { INSTANCE_DIR_PREFIX, writeOwner } from "./orphan-instances.ts";
import { prepareDataDir, type PgRestorePlan } from "./restore-to-time.ts";

const run = promisify(execFile);

/** The bin directory of PostgreSQL `major` (pg_ctl is not on PATH on Debian): SQLGUARD_PG_BIN, /usr/lib/postgresql/<major>/bin, or PATH. */
export function pgBinDir(major: string): string {
  const fromEnv = process.env.SQLGUARD_PG_BIN;
  if (fromEnv) return fromEnv;
  const debian = `/usr/lib/postgresql/${major}/bin`;
  if (existsSync(path.join(debian, "pg_ctl"))) return debian;
  return "";
}

/** PostgreSQL refuses to run as root: the temporary instance runs as the postgres user then. */
function asPostgres(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
}

/** A restored data directory started as a temporary instance: on a free loopback port and a private socket directory. */
export type TemporaryInstance = {
  dir: string;
  dataDir: string;
  port: number;
  socketDir: string;
  logFile: string;
  /** The exact command that starts the directory again (as the postgres user). */
  startCommand: string;
  /** Stops the instance (fast), keeping the directory. Never throws. */
  stop(): Promise<void>;
  /** Stops the instance and removes its directory. Never throws. */
  discard(): Promise<void>;
};

/**
 * Builds a data directory for `plan` in a new directory under `workRoot` (the base backup, the
 * WAL up to the target, recovery_target_time with recovery_target_action = 'promote'), starts it
 * with pg_ctl on a free port (TCP on 127.0.0.1 and a private socket directory; the socket trusts
 * the local user, TCP keeps the source's pg_hba rules) and waits until recovery reached the
 * target and it was promoted. On any failure the instance is stopped and the directory removed.
 */
export async function startAtTime(
  plan: PgRestorePlan,
  storeFor: (targetId: number) => Promise<ArtifactStore>,
  workRoot: string,
  label: string,
  options: { user: string; signal?: AbortSignal; decryption?: Decryption },
): Promise<TemporaryInstance> {
  const { user, signal, decryption } = options;
  let bin = "";
  await fs.mkdir(workRoot, { recursive: true });
  const dir = await fs.mkdtemp(path.join(workRoot, `${INSTANCE_DIR_PREFIX}${label}-`));
  await fs.chmod(dir, 0o755);
  // A process that dies from here on leaves a postmaster and a copy of the cluster: the next start's sweep finds them by this file.
  await writeOwner(dir);
  const dataDir = path.join(dir, "data");
  const socketDir = path.join(dir, "socket");
  const logFile = path.join(dir, "server.log");
  let started = false;
  const stop = async () => {
    if (!started) return;
    const [cmd, args] = asPostgres(path.join(bin, "pg_ctl"), ["-D", dataDir, "-m", "fast", "-w", "-t", "60", "stop"]);
    await run(cmd, args).catch(() => {});
    started = false;
  };
  const discard = async () => {
    await stop();
    await fs.rm(dir, { recursive: true, force: true }).catch(() => {});
  };
  try {
    await fs.mkdir(socketDir, { mode: 0o700 });
    const port = await freeLoopbackPort();
    const prepared = await prepareDataDir(plan, storeFor, dataDir, { decryption });
    signal?.throwIfAborted();
    // A Debian cluster keeps its configuration in /etc: its base backup has none.
    for (const f of ["postgresql.conf", "pg_ident.conf"]) {
      if (!existsSync(path.join(dataDir, f))) await fs.writeFile(path.join(dataDir, f), "");
    }
    const hba = path.join(dir, "pg_hba.temporary.conf");
    const sourceHba = await fs.readFile(path.join(dataDir, "pg_hba.conf"), "utf8").catch(() => "");
    await fs.writeFile(hba, `# SQLGuard temporary instance: the private socket trusts the local user\nlocal all all trust\n${sourceHba}`);
    if (process.getuid?.() === 0) await run("chown", ["-R", "postgres:postgres", dir]);
    const major = (await fs.readFile(path.join(dataDir, "PG_VERSION"), "utf8")).trim();
    bin = pgBinDir(major);
    const options = [
      `-p ${port}`,
      `-k ${socketDir}`,
      "-c listen_addresses=127.0.0.1",
      `-c hba_file=${hba}`,
      `-c ident_file=${path.join(dataDir, "pg_ident.conf")}`,
      "-c ssl=off",
      "-c archive_mode=off",
      "-c cluster_name=sqlguard-pitr",
    ].join(" ");
    const [cmd, args] = asPostgres(path.join(bin, "pg_ctl"), ["-D", dataDir, "-l", logFile, "-W", "-o", options, "start"]);
    started = true;
    await run(cmd, args).catch(async (error: Error & { stderr?: string }) => {
      const tail = await fs.readFile(logFile, "utf8").catch(() => "");
      throw new Error(`the restored data directory did not start: ${(error.stderr ?? error.message).trim()} ${tail.slice(-1200)}`);
    });
    await waitPromoted({ socketDir, port, user, dataDir, logFile }, signal);
    return { dir, dataDir, port, socketDir, logFile, startCommand: prepared.startCommand, stop, discard };
  } catch (error) {
    await discard();
    throw error;
  }
}

/** A free TCP port on 127.0.0.1. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Waits until the instance left recovery; one that stopped (a target it could not reach) is an error quoting its log. */
async function waitPromoted(
  at: { socketDir: string; port: number; user: string; dataDir: string; logFile: string },
  signal?: AbortSignal,
  timeoutMs = 2 * 3600_000,
): Promise<void> {
  // pg_ctl returned at once (-W: a long replay would outlast its wait): the postmaster's pid file comes and, if it stops, goes.
  const started = Date.now();
  const deadline = started + timeoutMs;
  let seenPid = false;
  for (;;) {
    signal?.throwIfAborted();
    const state = await run("psql", ["-h", at.socketDir, "-p", String(at.port), "-d", "template1", "-Atqc", "SELECT pg_is_in_recovery()"], {
      env: { ...process.env, PGUSER: at.user, PGCONNECT_TIMEOUT: "5", PGPASSWORD: "" },
    }).then(
      (r) => r.stdout.trim(),
      () => "",
    );
    if (state === "f") return;
    const running = existsSync(path.join(at.dataDir, "postmaster.pid"));
    seenPid ||= running;
    if ((!running && (seenPid || Date.now() - started > 30_000)) || Date.now() > deadline) {
      const log = await fs.readFile(at.logFile, "utf8").catch(() => "");
      const fatal = log
        .split("\n")
        .filter((l) => /FATAL|PANIC/.test(l))
        .join("; ");
      throw new Error(`the restored instance did not reach the target: ${fatal || log.slice(-1200)}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/**
 * A restore of one database to a point in time on PostgreSQL, as a logical-backup tool hands it
 * to its user: the cluster restored to `at` as a temporary instance, `database` dumped from it
 * (plain SQL, the SHA-256 taken while it is written) into a file under the work directory, and
 * the instance stopped and removed at once. The caller restores the file like any artifact
 * (restoreArtifact: a new database, or an overwrite) and calls `discard` in the end.
 */
export async function dumpAtTime(
  storeFor: (targetId: number) => Promise<ArtifactStore>,
  plan: PgRestorePlan,
  input: { database: string; user: string; workRoot?: string; label: string; signal?: AbortSignal; decryption?: Decryption },
): Promise<{ plan: PgRestorePlan; source: ArtifactSource; rawBytes: number; discard(): Promise<void> }> {
  const instance = await startAtTime(plan, storeFor, input.workRoot ?? os.tmpdir(), input.label, {
    user: input.user,
    signal: input.signal,
    decryption: input.decryption,
  });
  const file = path.join(instance.dir, "dump.sql");
  try {
    const dump = spawnChild("pg_dump", ["--format=plain", "--no-password", "--no-owner"], {
      env: { PGHOST: instance.socketDir, PGPORT: String(instance.port), PGUSER: input.user, PGDATABASE: input.database, PGAPPNAME: "sqlguard-pitr" },
      signal: input.signal,
    });
    const hash = createHash("sha256");
    let rawBytes = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, callback) {
        hash.update(chunk);
        rawBytes += chunk.length;
        callback(null, chunk);
      },
    });
    await Promise.all([pipeline(dump.stdout, tap, createWriteStream(file, { mode: 0o600 })), dump.exited]);
    const exit = await dump.exited;
    if (exit.code !== 0) throw new Error(`pg_dump of ${input.database} from the restored instance failed: ${exit.stderrTail.slice(-800)}`);
    const sha256 = hash.digest("hex");
    // The database is in the file: the instance is not needed any longer.
    await instance.stop();
    await fs.rm(instance.dataDir, { recursive: true, force: true });
    await fs.rm(`${instance.dataDir}.wal`, { recursive: true, force: true });
    return {
      plan,
      rawBytes,
      source: { open: async () => createReadStream(file), sha256, compression: "NONE", format: "sql", decryption: null },
      discard: instance.discard,
    };
  } catch (error) {
    await instance.discard();
    throw error;
  }
}
