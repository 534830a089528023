import type { DrillStatus, RestoreStatus, VerificationResult } from "../db/generated/client.ts";

/**
 * What restores, verifications and drills announce. The metrics module hooks these
 * (`sqlguard_backup_verification_status`, drill results) and so can webhooks (a failed drill).
 * Labels it may use are bounded: server, database, storage target, result / status.
 */
export type RestoreEvent =
  | { type: "RESTORE_STATUS"; restoreId: number; status: RestoreStatus; serverName: string; database: string }
  | {
      type: "VERIFIED";
      artifactId: number;
      backupId: number;
      storageTargetId: number;
      storageTargetName: string;
      serverName: string;
      database: string;
      result: VerificationResult;
      at: Date;
    }
  | {
      type: "DRILL_FINISHED";
      drillId: number;
      backupId: number;
      sourceServerName: string;
      database: string;
      status: DrillStatus;
      restoreMs: number | null;
      error: string | null;
    };

type Listener = (event: RestoreEvent) => void;

/** In-process restore, verification and drill events; a throwing listener never stops the work. */
export class RestoreEvents {
  readonly #listeners = new Set<Listener>();

  /** Registers a listener; returns its unsubscribe function. */
  on(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls every listener with the event, ignoring their failures. */
  emit(event: RestoreEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // observers' failures are theirs
      }
    }
  }
}
