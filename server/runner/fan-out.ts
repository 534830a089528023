import { PassThrough, Writable } from "node:stream";

const BRANCH_BUFFER = 1 << 20;

/**
 * Writes one stream to several branches at once (one per storage target), moving at the pace of
 * the slowest live branch, so memory stays bounded. A branch whose consumer fails is dropped and
 * no longer holds the others back; when every branch has failed, the fan-out fails.
 *
 * The branches are ended only after `beforeEnd` resolves: the caller checks there that every
 * producer (dump, compressor) exited cleanly. If it rejects, the branches are destroyed instead,
 * so no store ever commits an artifact of a failed dump.
 */
export class FanOut extends Writable {
  readonly branches: PassThrough[];
  readonly #alive = new Set<number>();
  readonly #dropWaiters = new Map<number, Array<() => void>>();
  readonly #beforeEnd: () => Promise<void>;
  #ended = false;

  constructor(count: number, beforeEnd: () => Promise<void>) {
    super({ highWaterMark: BRANCH_BUFFER });
    this.#beforeEnd = beforeEnd;
    this.branches = Array.from({ length: count }, (_, i) => {
      const branch = new PassThrough({ highWaterMark: BRANCH_BUFFER });
      branch.on("error", () => this.drop(i));
      // A consumer that gives up destroys its input: treat that as the branch failing.
      branch.on("close", () => {
        if (!this.#ended) this.drop(i);
      });
      this.#alive.add(i);
      return branch;
    });
  }

  /** Stops feeding branch `index` (its consumer failed). */
  drop(index: number): void {
    if (!this.#alive.delete(index)) return;
    const branch = this.branches[index]!;
    if (!branch.destroyed) branch.destroy();
    for (const wake of this.#dropWaiters.get(index) ?? []) wake();
    this.#dropWaiters.delete(index);
    if (this.#alive.size === 0 && !this.destroyed) this.destroy(new Error("every storage target failed"));
  }

  get aliveCount(): number {
    return this.#alive.size;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (error?: Error | null) => void): void {
    const waits: Promise<void>[] = [];
    for (const i of this.#alive) {
      if (!this.branches[i]!.write(chunk)) waits.push(this.#drainOrDrop(i));
    }
    if (waits.length === 0) done();
    else Promise.all(waits).then(() => done(), done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.#beforeEnd().then(
      () => {
        this.#ended = true;
        for (const i of this.#alive) this.branches[i]!.end();
        done();
      },
      (error: Error) => done(error),
    );
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    if (!this.#ended) {
      const reason = error ?? new Error("backup aborted");
      for (const branch of this.branches) if (!branch.destroyed) branch.destroy(reason);
    }
    done(error);
  }

  #drainOrDrop(index: number): Promise<void> {
    return new Promise((resolve) => {
      const branch = this.branches[index]!;
      const wake = () => {
        branch.off("drain", wake);
        resolve();
      };
      branch.once("drain", wake);
      this.#dropWaiters.set(index, [...(this.#dropWaiters.get(index) ?? []), wake]);
    });
  }
}
