import { mysqlConnectionArgs } from "../process/client-args.ts";
import type { ServerConnection } from "../process/server-connection.ts";
import { spawnChild, type ExitInfo } from "../process/spawn.ts";
import type { Logger } from "../observability/logger.ts";

/** Backoff between restarts of an exited streamer: 1 s doubling to 30 s, reset after a minute of running. */
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
const HEALTHY_MS = 60_000;

export type BinlogTool = { path: string; flavor: "mariadb" | "mysql" };

/**
 * The continuous binlog download: `mariadb-binlog --read-from-remote-server --raw --stop-never`
 * writing the source's files, under their own names, into `spoolDir` from `startFile` on. It
 * registers with its own server id (MariaDB: --stop-never-slave-server-id, MySQL:
 * --connection-server-id) so it never clashes with a replica. The password travels in MYSQL_PWD only.
 */
export function binlogStreamCommand(conn: ServerConnection, tool: BinlogTool, spoolDir: string, startFile: string, streamServerId: number) {
  const idFlag = tool.flavor === "mariadb" ? `--stop-never-slave-server-id=${streamServerId}` : `--connection-server-id=${streamServerId}`;
  const args = [
    ...mysqlConnectionArgs(conn, tool.flavor),
    "--read-from-remote-server",
    "--raw",
    "--stop-never",
    idFlag,
    // The trailing slash makes it a directory prefix: each file keeps the source's name.
    `--result-file=${spoolDir}/`,
    startFile,
  ];
  return { command: tool.path, args, env: conn.password ? { MYSQL_PWD: conn.password } : ({} as Record<string, string>) };
}

/** A unique replication server id for the streamer of one SQLGuard server: far from usual ids. */
export function streamServerIdFor(serverId: number): number {
  return 0x70000000 + (serverId % 0x0fffffff);
}

export type StreamerOptions = {
  logger: Logger;
  /** Where to start: called before every (re)start; null stops the streamer for now (retried after backoff). */
  startCommand(): Promise<{ command: string; args: string[]; env: Record<string, string> } | null>;
  onExit?(exit: ExitInfo): void;
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
};

/**
 * Keeps one streamer running until stopped: it exits on every source restart (and on network
 * loss), so each exit is logged and followed by a restart after a growing backoff.
 */
export class BinlogStreamer {
  readonly #options: StreamerOptions;
  readonly #stop = new AbortController();
  #loop: Promise<void> | null = null;
  #restarts = 0;

  constructor(options: StreamerOptions) {
    this.#options = options;
  }

  get restarts(): number {
    return this.#restarts;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops the streamer (SIGTERM) and waits for it to exit. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { logger } = this.#options;
    const signal = this.#stop.signal;
    const sleep = this.#options.sleep ?? defaultSleep;
    let backoff = BACKOFF_MIN_MS;
    while (!signal.aborted) {
      const started = Date.now();
      let exit: ExitInfo | null = null;
      try {
        const cmd = await this.#options.startCommand();
        if (cmd && !signal.aborted) {
          const child = spawnChild(cmd.command, cmd.args, { env: cmd.env, signal });
          child.stdout.resume();
          exit = await child.exited;
          this.#options.onExit?.(exit);
        }
      } catch (error) {
        logger.warn({ err: error }, "the binlog streamer could not start");
      }
      if (signal.aborted) break;
      if (exit) logger.warn({ code: exit.code, signal: exit.signal, stderr: exit.stderrTail.slice(-500) }, "the binlog streamer exited; restarting it");
      this.#restarts++;
      backoff = Date.now() - started > HEALTHY_MS ? BACKOFF_MIN_MS : backoff;
      await sleep(backoff, signal);
      backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
    }
  }
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
}
