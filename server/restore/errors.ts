import type { TargetReport } from "./target-state.ts";

/** Why a restore (or a drill's restore) failed; bounded, so it can label metrics. */
export type RestoreFailure =
  | "CHECKSUM_MISMATCH"
  | "CLIENT_FAILED"
  | "DECOMPRESS_FAILED"
  /** An encrypted artifact: no identity here opens it, or it was altered, reordered or cut short. */
  | "DECRYPT_FAILED"
  | "STORAGE_FAILED"
  | "CONNECTION_FAILED"
  | "TARGET_EXISTS"
  | "CONFIGURATION"
  | "CANCELLED"
  | "INTERRUPTED"
  /** MySQL/MariaDB overwrite: the restored copy was complete, but swapping it in failed. */
  | "SWAP_FAILED";

/** A failed restore. The message is fit for the record: it never holds a password. */
export class RestoreError extends Error {
  constructor(
    readonly reason: RestoreFailure,
    message: string,
    options?: { cause?: unknown; stderrTail?: string; target?: TargetReport },
  ) {
    super(message, { cause: options?.cause });
    this.name = "RestoreError";
    this.stderrTail = options?.stderrTail ?? "";
    this.target = options?.target ?? null;
  }

  /** The end of the client program's stderr, when it ran. */
  readonly stderrTail: string;
  /** What the failed restore left the target as, once restoreArtifact has settled it. */
  readonly target: TargetReport | null;
}

/** The artifact read back differs from its recorded SHA-256: it must never be trusted. */
export class ChecksumMismatchError extends RestoreError {
  constructor(
    readonly expected: string,
    readonly actual: string,
    consequence: string,
  ) {
    super("CHECKSUM_MISMATCH", `checksum mismatch: the artifact's SHA-256 is ${actual}, the backup recorded ${expected}; ${consequence}`);
    this.name = "ChecksumMismatchError";
  }
}

/**
 * Turns whatever stopped a restore into the RestoreError that explains it best: one already
 * settled (with the target's state) as it is, else the cancel or shutdown when the signal fired.
 */
export function toRestoreError(error: unknown, signal?: AbortSignal): RestoreError {
  if (error instanceof RestoreError && error.target) return error;
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof RestoreError) return reason;
    return new RestoreError("CANCELLED", "the restore was cancelled");
  }
  if (error instanceof RestoreError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new RestoreError("CLIENT_FAILED", message, { cause: error });
}

/** Replaces every occurrence of a password in a text (errors, stderr tails). */
export function scrubSecret(text: string, secret: string | null | undefined): string {
  return secret ? text.split(secret).join("[redacted]") : text;
}
