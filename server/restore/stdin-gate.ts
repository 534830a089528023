import { Writable } from "node:stream";
import type { ChildHandle } from "../process/spawn.ts";

const GATE_BUFFER = 1 << 20;

/**
 * The last stage of a restore: writes into a client's stdin, but never lets the client see the end
 * of its input until `beforeRelease` resolves (the artifact's checksum matched and every producer
 * exited cleanly). Then it writes `trailer` (PostgreSQL: "COMMIT;") and ends stdin. On any failure,
 * or when destroyed before that, it kills the client first, so an open transaction rolls back and
 * a partial stream is never taken for a complete one.
 */
export class StdinGate extends Writable {
  readonly #client: ChildHandle;
  readonly #beforeRelease: () => Promise<void>;
  readonly #trailer: string;
  #released = false;
  #exited = false;

  constructor(client: ChildHandle, options: { beforeRelease: () => Promise<void>; trailer: string }) {
    super({ highWaterMark: GATE_BUFFER });
    this.#client = client;
    this.#beforeRelease = options.beforeRelease;
    this.#trailer = options.trailer;
    void client.exited.then(() => (this.#exited = true));
  }

  /** Kills the client at once (SIGKILL) unless it was released or has exited. */
  killClient(): void {
    if (this.#released || this.#exited || this.#client.pid === undefined) return;
    try {
      process.kill(this.#client.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.#exited) {
      done(new Error("the client exited before it read all the data"));
      return;
    }
    const stdin = this.#client.stdin;
    if (stdin.write(chunk)) {
      done();
      return;
    }
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      stdin.off("drain", onDrain);
      done(error);
    };
    const onDrain = () => finish();
    stdin.once("drain", onDrain);
    void this.#client.exited.then(() => finish(new Error("the client exited before it read all the data")));
  }

  override _final(done: (error?: Error | null) => void): void {
    this.#beforeRelease().then(
      () => {
        if (this.#exited) return done(new Error("the client exited before the end of its input"));
        this.#released = true;
        if (this.#trailer) this.#client.stdin.write(this.#trailer);
        this.#client.stdin.end();
        done();
      },
      (error: Error) => {
        this.killClient();
        done(error);
      },
    );
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    if (!this.#released) this.killClient();
    done(error);
  }
}
