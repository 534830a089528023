/** Why a backup attempt failed; bounded, so it can label metrics. */
export type FailureReason =
  | "DUMP_FAILED"
  | "COMPRESSOR_FAILED"
  | "STALLED"
  | "TIMEOUT"
  | "CANCELLED"
  | "STORAGE_FAILED"
  | "CONNECTION_FAILED"
  | "INTERRUPTED"
  | "CONFIGURATION";

/**
 * A failed backup attempt. `transient` failures (connection refused, S3 unavailable, lost
 * connection during the dump) are retried with backoff; the others fail at once.
 */
export class BackupError extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
    readonly transient = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "BackupError";
  }
}

/** A dump program that exited non-zero; `stderrTail` holds its last words. */
export class DumpFailedError extends BackupError {
  constructor(
    readonly exitCode: number | null,
    readonly exitSignal: string | null,
    readonly stderrTail: string,
    transient: boolean,
  ) {
    const how = exitSignal ? `was killed by ${exitSignal}` : `exited with code ${exitCode}`;
    super("DUMP_FAILED", `the dump ${how}${stderrTail.trim() ? `: ${stderrTail.trim()}` : ""}`, transient);
    this.name = "DumpFailedError";
  }
}

/** Client errors that mean the server was briefly unreachable: worth another attempt. */
const TRANSIENT_DUMP_ERRORS = [
  /\(2002\)|\(2003\)|\(2006\)|\(2013\)/, // can't connect, server gone away, lost connection
  /Lost connection to (MySQL|MariaDB|server)/i,
  /Connection refused/i,
  /could not connect to server/i,
  /server closed the connection unexpectedly/i,
  /timeout expired/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /too many connections/i,
];

export function isTransientDumpError(stderr: string): boolean {
  return TRANSIENT_DUMP_ERRORS.some((re) => re.test(stderr));
}
