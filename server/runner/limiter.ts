type Waiter = { key: number; max: number; start: () => void };

/**
 * Bounds how many backups run at once: at most `globalMax` overall and each server's own limit.
 * Waiters start in arrival order, except that one blocked by its server's limit does not hold up
 * backups of other servers.
 */
export class SlotLimiter {
  readonly #running = new Map<number, number>();
  readonly #queue: Waiter[] = [];
  #total = 0;

  constructor(private readonly globalMax: number) {}

  /** Waits for a slot for `key` (a server id, whose limit is `max`); resolves with its release. */
  acquire(key: number, max: number): Promise<() => void> {
    return new Promise((resolve) => {
      this.#queue.push({
        key,
        max,
        start: () => {
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            this.#total--;
            this.#running.set(key, (this.#running.get(key) ?? 1) - 1);
            this.#pump();
          });
        },
      });
      this.#pump();
    });
  }

  get running(): number {
    return this.#total;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  #pump(): void {
    for (let i = 0; i < this.#queue.length && this.#total < this.globalMax; ) {
      const w = this.#queue[i]!;
      const mine = this.#running.get(w.key) ?? 0;
      if (mine >= w.max) {
        i++;
        continue;
      }
      this.#queue.splice(i, 1);
      this.#total++;
      this.#running.set(w.key, mine + 1);
      w.start();
    }
  }
}
