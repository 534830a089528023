import { setLongInterval } from "../process/timers.ts";

/**
 * The clock adapter: what time it is, and "call me every n ms". The scheduler, the lease keeper
 * and the retention sweeper read time only through it, so tests can simulate hours or months of
 * operation with a ManualClock instead of waiting.
 */
export type Clock = {
  now(): Date;
  /** Calls `fn` every `ms`; returns the function that stops it. Errors are the caller's to catch. */
  every(ms: number, fn: () => void): () => void;
};

/**
 * Wall-clock time and real timers (unref'd: they never keep the process alive on their own). An
 * interval longer than Node's timer limit (~24.8 days) waits in steps instead of firing at once.
 */
export const systemClock: Clock = {
  now: () => new Date(),
  every: (ms, fn) => setLongInterval(fn, ms, { unref: true }),
};

type Repeating = { everyMs: number; nextAt: number; fn: () => void };

/**
 * A clock that moves only when told. `every` callbacks run, in time order, as `advance` or `set`
 * passes their due times; `advance` then waits a macrotask so their async work can settle.
 */
export class ManualClock implements Clock {
  #now: number;
  readonly #timers = new Set<Repeating>();

  constructor(start: Date | string) {
    this.#now = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  every(ms: number, fn: () => void): () => void {
    const timer = { everyMs: ms, nextAt: this.#now + ms, fn };
    this.#timers.add(timer);
    return () => this.#timers.delete(timer);
  }

  /** Moves time forward by `ms`, firing the interval callbacks due on the way. */
  async advance(ms: number): Promise<void> {
    await this.set(new Date(this.#now + ms));
  }

  /** Moves time to `at` (never backwards), firing the interval callbacks due on the way. */
  async set(at: Date | string): Promise<void> {
    const target = new Date(at).getTime();
    if (target < this.#now) throw new RangeError(`ManualClock.set: ${new Date(target).toISOString()} is before the current time ${this.now().toISOString()}`);
    for (;;) {
      const due = [...this.#timers].filter((t) => t.nextAt <= target).sort((a, b) => a.nextAt - b.nextAt)[0];
      if (!due) break;
      this.#now = due.nextAt;
      due.nextAt += due.everyMs;
      due.fn();
    }
    this.#now = target;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
