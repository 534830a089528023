import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { connect } from "../db/connection.ts";
import { freePort } from "./server-process.ts";

const run = promisify(execFile);
const READY_TIMEOUT_MS = 30_000;

/**
 * A MariaDB server of a test's own (never the shared one on 3306): a fresh data directory made by
 * mariadb-install-db, a free port and a socket in a temporary directory. A test can kill it (the
 * process dies as in a crash or a failover) and start it again on the same port and data.
 */
export type PrivateMariadb = {
  port: number;
  /** The data directory (binlog files live here when binlog is on). */
  datadir: string;
  /** `mysql://root@127.0.0.1:<port>/<database>`. */
  url(database: string): string;
  /** Starts the server again on the same port and data directory (after `kill`); resolves once it answers (at once when it runs). */
  start(): Promise<void>;
  /** SIGKILL: every connection drops at once, new ones are refused until `start`. */
  kill(): Promise<void>;
  /** Stops the server and removes its directory. */
  close(): Promise<void>;
};

/** Initialises and starts a private mariadbd; resolves once it accepts connections. */
export async function startPrivateMariadb(label = "meta", options: { binlog?: { serverId: number } } = {}): Promise<PrivateMariadb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sqlguard-${label}-`));
  const datadir = path.join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  // --no-defaults: the machine's my.cnf (the shared server's settings) must not apply here.
  await run("mariadb-install-db", [
    "--no-defaults",
    `--datadir=${datadir}`,
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
    ...(asRoot ? ["--user=root"] : []),
  ]);
  const port = await freePort();
  let child: ChildProcess | null = null;
  let log = "";

  const start = async () => {
    // Already running: a second mariadbd on the same data would fail, and the running one would be
    // forgotten here and never stopped (seen: an orphaned server after a test's afterAll).
    if (child && child.exitCode === null && child.signalCode === null) return;
    log = "";
    const server = spawn(
      "mariadbd",
      [
        "--no-defaults",
        `--datadir=${datadir}`,
        `--port=${port}`,
        "--bind-address=127.0.0.1",
        `--socket=${path.join(dir, "mariadbd.sock")}`,
        `--pid-file=${path.join(dir, "mariadbd.pid")}`,
        // A binlog server (point-in-time recovery tests): ROW format, as the archiver expects.
        ...(options.binlog
          ? ["--log-bin=binlog", `--server-id=${options.binlog.serverId}`, "--binlog-format=ROW", "--log-basename=binlog"]
          : ["--skip-log-bin"]),
        "--skip-name-resolve",
        "--innodb-buffer-pool-size=32M",
        ...(asRoot ? ["--user=root"] : []),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    server.stderr!.on("data", (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
    child = server;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`mariadbd exited with ${server.exitCode}:\n${log}`);
      const ok = await connect({ host: "127.0.0.1", port, user: "root", database: "" }, { withDatabase: false }).then(
        (c) => c.end().then(() => true),
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`mariadbd did not accept connections in time:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const stop = async (signal: NodeJS.Signals) => {
    const server = child;
    child = null;
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill(signal);
    await exited;
  };

  await start();
  return {
    port,
    datadir,
    url: (database) => `mysql://root@127.0.0.1:${port}/${database}`,
    start,
    kill: () => stop("SIGKILL"),
    async close() {
      await stop("SIGTERM");
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
