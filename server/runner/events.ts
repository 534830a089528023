export type BackupEvent =
  | { type: "CREATED"; backupId: number }
  | { type: "STATUS"; backupId: number; status: string }
  | { type: "PROGRESS"; backupId: number; rawBytes: number; storedBytes: number; bytesPerSecond: number };

type Listener = (event: BackupEvent) => void;

/** In-process backup events (created, status, progress) for metrics and live subscriptions. */
export class BackupEvents {
  readonly #listeners = new Set<Listener>();

  /** Registers a listener; returns its unsubscribe function. A throwing listener never stops a backup. */
  on(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: BackupEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // listeners are observers; their failures are theirs
      }
    }
  }
}
