import { pipeline, Transform, type Readable } from "node:stream";
import type { ArtifactStore } from "../../storage/artifact-store.ts";

/**
 * A pause in an artifact's stream, at a chosen read and byte offset: the reader gets the bytes
 * before it, then nothing until `open()`. Makes "cancel while it loads" deterministic: the test
 * waits for `reached`, acts, then opens the gate (or cancels, which destroys the stream).
 */
export class StreamGate {
  #open!: () => void;
  #reached!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.#open = resolve));
  readonly reached = new Promise<void>((resolve) => (this.#reached = resolve));
  #reads = 0;

  /** `read`: which `get` of the store to hold (1 = the first); `fraction`: where in it. */
  constructor(readonly options: { read: number; fraction: number }) {}

  open(): void {
    this.#open();
  }

  /** Wraps one opened stream: the chosen read is held, every other passes through. */
  wrap(source: Readable, size: number): Readable {
    this.#reads++;
    if (this.#reads !== this.options.read) return source;
    const limit = Math.max(1, Math.floor(size * this.options.fraction));
    let passed = 0;
    let held = false;
    const gate = this;
    const transform = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        if (held || passed + chunk.length <= limit) {
          passed += chunk.length;
          return done(null, chunk);
        }
        const head = chunk.subarray(0, limit - passed);
        passed = limit;
        held = true;
        if (head.length) this.push(head);
        gate.#reached();
        void gate.opened.then(() => done(null, chunk.subarray(head.length)));
      },
    });
    pipeline(source, transform, () => {});
    return transform;
  }

  /** A store whose `get` passes through this gate; everything else is the real store's. */
  store(inner: ArtifactStore): ArtifactStore {
    return {
      kind: inner.kind,
      put: (key, body, options) => inner.put(key, body, options),
      get: async (key, options) => {
        const head = await inner.head(key);
        return this.wrap(await inner.get(key, options), head?.bytes ?? 0);
      },
      head: (key) => inner.head(key),
      delete: (key) => inner.delete(key),
      list: (prefix) => inner.list(prefix),
      discard: (key) => inner.discard(key),
      removePartials: (olderThan) => inner.removePartials(olderThan),
    };
  }
}
