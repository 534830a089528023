import { Transform, type TransformCallback } from "node:stream";

/** The longest `ALTER … OWNER TO …;` line looked at; a longer one (a huge function signature) passes unchanged. */
const LOOK_AHEAD = 4096;
const OWNER_LINE = /^ALTER [A-Z ]+ .+ OWNER TO (?:"(?:[^"]|"")+"|[^\s;]+);\r?\n?$/s;

/**
 * Drops the `ALTER <object> … OWNER TO <role>;` statements of a plain pg_dump stream, so that a
 * restoring user who is not a member of those roles (or where they do not exist) ends up owning
 * the objects itself, as `pg_restore --no-owner` does for custom archives. Works line by line with
 * constant memory (at most 4 KiB of a line is held, whatever the chunking) and never looks inside
 * COPY data (from `COPY … FROM stdin;` to `\.`), so rows are passed unchanged.
 */
export class PgOwnerFilter extends Transform {
  #head: Buffer | null = Buffer.alloc(0);
  #inCopy = false;
  #dropped = 0;

  /** How many OWNER TO statements were dropped so far. */
  get dropped(): number {
    return this.#dropped;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      const newline = chunk.indexOf(0x0a, at);
      const end = newline === -1 ? chunk.length : newline + 1;
      const complete = newline !== -1;
      if (this.#head === null) {
        out.push(chunk.subarray(at, end));
        at = end;
        if (complete) this.#head = Buffer.alloc(0);
        continue;
      }
      const head = this.#head.length ? Buffer.concat([this.#head, chunk.subarray(at, end)]) : chunk.subarray(at, end);
      at = end;
      const verdict = this.#decide(head, complete);
      if (verdict === "wait") {
        this.#head = Buffer.from(head);
        continue;
      }
      if (verdict === "keep") out.push(head);
      this.#head = complete ? Buffer.alloc(0) : null;
    }
    done(null, Buffer.concat(out));
  }

  override _flush(done: TransformCallback): void {
    const head = this.#head;
    this.#head = null;
    done(null, head?.length && this.#decide(head, true) !== "drop" ? head : null);
  }

  /** keep / drop the line start, or wait for more of it; notes the COPY blocks it passes. */
  #decide(head: Buffer, complete: boolean): "keep" | "drop" | "wait" {
    const start = head.subarray(0, 6).toString("latin1");
    if (this.#inCopy) {
      if ("\\.".startsWith(start.slice(0, 2)) && !complete && head.length < 4) return "wait";
      if (/^\\\.\r?\n?$/.test(head.subarray(0, 4).toString("latin1"))) this.#inCopy = false;
      return "keep";
    }
    if (!complete && head.length < 6 && ("ALTER ".startsWith(start) || "COPY ".startsWith(start))) return "wait";
    if (start.startsWith("COPY ")) {
      this.#inCopy = true;
      return "keep";
    }
    if (!start.startsWith("ALTER ")) return "keep";
    if (!complete && head.length < LOOK_AHEAD) return "wait";
    if (complete && head.length <= LOOK_AHEAD && OWNER_LINE.test(head.toString("latin1"))) {
      this.#dropped++;
      return "drop";
    }
    return "keep";
  }
}
