/**
 * A first-come, first-served counting semaphore: at most `max` holders at once. Scheduled runs go
 * through one, so a burst of ticks (a thousand schedules due in the same second) queues in due
 * order instead of exhausting the metadata database's connection pool.
 */
export class Gate {
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`Gate: max must be a positive integer, got ${max}`);
  }

  /** Runs `work` once a slot is free; the slot is released however it ends. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#active >= this.max) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }

  /** Holders now, and callers waiting for a slot. */
  get load(): { active: number; waiting: number } {
    return { active: this.#active, waiting: this.#waiting.length };
  }
}
