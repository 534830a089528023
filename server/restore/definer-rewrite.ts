import { Transform, type TransformCallback } from "node:stream";

/**
 * How far into a line a DEFINER clause is looked for. The clause follows a short prefix
 * (`/*!50003 CREATE*\/ /*!50017 `, `CREATE ALGORITHM=UNDEFINED `) and names an account of at most
 * 80 + 255 characters, each quote possibly doubled: 2 KiB is more than any real one needs.
 */
const LOOK_AHEAD = 2048;

const QUOTED = "`(?:[^`]|``)*`|'(?:[^'\\\\]|\\\\.|'')*'|\"(?:[^\"\\\\]|\\\\.)*\"";
const BARE = "[A-Za-z0-9_$.%:-]+";
/**
 * A DEFINER clause where mariadb-dump and mysqldump write them, always at the start of a line:
 * - triggers and events: `/*!50003 CREATE*\/ /*!50017 DEFINER=`u`@`h`*\/ /*!50003 TRIGGER …`
 * - routines (and mydumper's schema files, SHOW CREATE output): `CREATE DEFINER=`u`@`h` PROCEDURE …`
 * - views: `/*!50013 DEFINER=`u`@`h` SQL SECURITY DEFINER *\/` (or `CREATE ALGORITHM=… DEFINER=…`).
 * Group 1 is the prefix kept, 2 and 3 the account's user and host.
 */
const CLAUSE = new RegExp(
  `^((?:/\\*!\\d{5} )?(?:CREATE(?: OR REPLACE)?(?: ALGORITHM=\\w+)?(?: ?\\*/)? ?(?:/\\*!\\d{5} )?)?)DEFINER ?= ?(${QUOTED}|${BARE}) ?@ ?(${QUOTED}|${BARE})`,
  "i",
);
/** The first bytes a line with a DEFINER clause can begin with; any other line passes at once. */
const STARTS = ["/*!", "CREATE", "DEFINER"];

/** An account a rewritten clause named, as `user@host` with the quotes removed. */
export type RewrittenDefiner = { user: string; host: string };

/**
 * Rewrites every `DEFINER=user@host` clause of the CREATE TRIGGER / VIEW / PROCEDURE / FUNCTION /
 * EVENT statements in a mariadb-dump or mysqldump stream to `DEFINER=CURRENT_USER`, so that a user
 * without SUPER / SET USER (SET_USER_ID on MySQL 8) can restore the objects; they then belong to
 * the restoring user. Works line by line: only the start of a line is looked at (at most 2 KiB of
 * it is held, whatever the chunking), the rest of each line flows through untouched, so data rows
 * (INSERT lines) are never changed and memory stays constant. `onRewrite` hears each account replaced.
 */
export class DefinerRewriter extends Transform {
  /** The start of the current line while it may still hold a clause; null once it is decided. */
  #head: Buffer | null = Buffer.alloc(0);
  #count = 0;

  constructor(private readonly onRewrite?: (definer: RewrittenDefiner) => void) {
    super();
  }

  /** How many clauses were rewritten so far. */
  get rewritten(): number {
    return this.#count;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#head === null) {
        // Inside a decided line: pass everything up to and including its newline.
        const newline = chunk.indexOf(0x0a, at);
        const end = newline === -1 ? chunk.length : newline + 1;
        out.push(chunk.subarray(at, end));
        at = end;
        if (newline !== -1) this.#head = Buffer.alloc(0);
        continue;
      }
      const newline = chunk.indexOf(0x0a, at);
      const end = newline === -1 ? chunk.length : newline + 1;
      const head = this.#head.length ? Buffer.concat([this.#head, chunk.subarray(at, end)]) : chunk.subarray(at, end);
      at = end;
      const complete = newline !== -1;
      if (complete || !mayStartClause(head) || head.length >= LOOK_AHEAD) {
        out.push(this.#rewrite(head));
        this.#head = complete ? Buffer.alloc(0) : null;
      } else {
        // Not decided yet: the clause may be cut by the chunk's end.
        this.#head = Buffer.from(head);
      }
    }
    done(null, out.length === 1 ? out[0] : Buffer.concat(out));
  }

  override _flush(done: TransformCallback): void {
    const head = this.#head;
    this.#head = null;
    done(null, head?.length ? this.#rewrite(head) : null);
  }

  #rewrite(head: Buffer): Buffer {
    const { line, definer } = rewriteDefinerLine(head);
    if (definer) {
      this.#count++;
      this.onRewrite?.(definer);
    }
    return line;
  }
}

/**
 * The start of one line (up to its newline, or its first 2 KiB) with its DEFINER clause rewritten
 * to CURRENT_USER, and the account it named; the line as it is, and null, when it has none.
 */
export function rewriteDefinerLine(head: Buffer): { line: Buffer; definer: RewrittenDefiner | null } {
  if (!mayStartClause(head)) return { line: head, definer: null };
  const m = CLAUSE.exec(head.subarray(0, LOOK_AHEAD).toString("latin1"));
  if (!m) return { line: head, definer: null };
  return {
    line: Buffer.concat([Buffer.from(`${m[1]}DEFINER=CURRENT_USER`, "latin1"), head.subarray(m[0].length)]),
    definer: { user: unquote(m[2]!), host: unquote(m[3]!) },
  };
}

/** Whether a line beginning with these bytes can hold a clause (decided on the first few bytes). */
function mayStartClause(head: Buffer): boolean {
  const start = head.subarray(0, 7).toString("latin1").toUpperCase();
  return STARTS.some((s) => (start.length >= s.length ? start.startsWith(s) : s.startsWith(start)));
}

/** An identifier as written in a dump (backquoted, quoted or bare), without its quotes; bytes kept as latin1 → UTF-8. */
function unquote(text: string): string {
  const q = text[0];
  const inner =
    q === "`" ? text.slice(1, -1).replace(/``/g, "`") : q === "'" || q === '"' ? text.slice(1, -1).replace(/\\(.)/g, "$1").replace(/''/g, "'") : text;
  return Buffer.from(inner, "latin1").toString("utf8");
}
