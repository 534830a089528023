import { AppError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";

/** Node and driver error codes of a connection that failed, dropped or timed out. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "ENOTFOUND",
  "PROTOCOL_CONNECTION_LOST",
  "ER_SOCKET_UNEXPECTED_CLOSE",
  "ER_CONNECTION_TIMEOUT",
  "ER_GET_CONNECTION_TIMEOUT",
  "ER_CMD_CONNECTION_CLOSED",
  "ER_CONNECTION_ALREADY_CLOSED",
  "ER_SOCKET",
  "ER_SOCKET_TIMEOUT",
  // Prisma: can't reach the server, timed out, server closed the connection, pool timeout,
  // transaction could not start, write conflict or deadlock.
  "P1001",
  "P1002",
  "P1008",
  "P1017",
  "P2024",
  "P2028",
  "P2034",
]);

/**
 * Numeric codes: MariaDB Connector/Node's own (45001 closed, 45009 socket closed, 45012 connect
 * timeout, 45013 connection closed, 45019 socket error, 45026 socket timeout, 45028 pool timeout),
 * and server errors that end a session or ask for a retry (1040 too many connections, 1053 server
 * shutdown, 1205 lock wait timeout, 1213 deadlock, 1927 connection killed, 2002/2003/2006/2013 lost).
 */
const CONNECTION_ERRNOS = new Set([45001, 45009, 45012, 45013, 45019, 45026, 45028, 1040, 1053, 1205, 1213, 1927, 2002, 2003, 2006, 2013]);

/**
 * True when `error` says the metadata database could not be reached, dropped the connection or
 * asked for a retry (deadlock, lock wait), not that the statement was wrong: worth retrying unchanged. Looks through
 * Prisma's wrapping (`meta.driverAdapterError.cause`) and `cause` chains.
 */
export function isTransientDbError(error: unknown): boolean {
  const seen = new Set<unknown>();
  const queue = [error];
  while (queue.length) {
    const e = queue.shift() as Record<string, any> | null | undefined;
    if (!e || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    if (e instanceof MetadataUnavailableError) return true;
    if (typeof e.code === "string" && CONNECTION_CODES.has(e.code)) return true;
    for (const n of [e.code, e.errno, e.originalCode]) if (CONNECTION_ERRNOS.has(Number(n))) return true;
    if (typeof e.sqlState === "string" && e.sqlState.startsWith("08")) return true;
    if (typeof e.state === "string" && e.state.startsWith("08")) return true;
    queue.push(e.cause, e.meta?.driverAdapterError, e.meta?.driverAdapterError?.cause);
  }
  return false;
}

/** A record could not be written because the metadata database stayed unreachable (and the writer gave up). */
export class MetadataUnavailableError extends AppError {
  constructor(what: string, cause: unknown) {
    super("UNAVAILABLE", `the metadata database is unreachable: could not ${what}`, { cause });
  }
}

export type RecordWriterOptions = {
  logger: Logger;
  /** First wait after a failed write; doubles up to `maxDelayMs` (with jitter). */
  firstDelayMs?: number;
  maxDelayMs?: number;
};

/**
 * Writes (and the reads they depend on) that must outlive an outage of the metadata database: a
 * write that fails because the database is unreachable is retried with backoff until it goes
 * through; any other error is thrown at once. Retrying stops when the caller's signal aborts or
 * the writer is stopped (shutdown): then MetadataUnavailableError, and the row is left as it is for
 * the recovery at the next start or another instance's lease sweep. The writes given to it are
 * conditional (or idempotent), so a write that did commit before its connection dropped is
 * harmless to repeat.
 */
export class RecordWriter {
  readonly #log: Logger;
  readonly #first: number;
  readonly #max: number;
  readonly #sleepers = new Set<() => void>();
  #stopped = false;

  constructor(options: RecordWriterOptions) {
    this.#log = options.logger.child({ component: "records" });
    this.#first = options.firstDelayMs ?? 250;
    this.#max = options.maxDelayMs ?? 5000;
  }

  /** Runs `fn` until it succeeds, fails for another reason, or retrying is stopped (see the class). */
  async write<T>(what: string, fn: () => Promise<T>, options: { signal?: AbortSignal; fields?: Record<string, unknown> } = {}): Promise<T> {
    let failures = 0;
    let delay = this.#first;
    for (;;) {
      try {
        const result = await fn();
        if (failures) this.#log.info({ ...options.fields, failures }, `metadata database reachable again: ${what}`);
        return result;
      } catch (error) {
        if (!isTransientDbError(error)) throw error;
        failures++;
        if (this.#stopped || options.signal?.aborted) throw new MetadataUnavailableError(what, error);
        if (failures === 1 || failures % 20 === 0)
          this.#log.warn({ ...options.fields, err: error, failures }, `metadata database unreachable, retrying: ${what}`);
        await this.#sleep(Math.round(delay * (0.75 + Math.random() * 0.5)), options.signal);
        delay = Math.min(this.#max, delay * 2);
      }
    }
  }

  /** Shutdown: retries end at once (each write still gets its first attempt). */
  stop(): void {
    this.#stopped = true;
    for (const wake of this.#sleepers) wake();
  }

  #sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", wake);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
      signal?.addEventListener("abort", wake, { once: true });
    });
  }
}
