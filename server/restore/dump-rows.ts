/** Which dump program wrote the SQL: quoting and data statements differ. */
export type DumpDialect = "mysql" | "pg";

const NL = 0x0a;
/** Enough of a line to tell a data statement (and its table name) from anything else. */
const HEAD_MAX = 512;
/** A COPY line names every column: longer than a head, but bounded. */
const COPY_LINE_MAX = 1 << 20;

const MYSQL_INSERT = /^(?:INSERT(?: IGNORE)?|REPLACE) INTO `((?:[^`]|``)+)`/;
const PG_IDENT = String.raw`(?:"(?:[^"]|"")+"|[^\s."(]+)`;
const PG_NAME = `(${PG_IDENT}(?:\\.${PG_IDENT})?)`;
const PG_INSERT = new RegExp(`^INSERT INTO ${PG_NAME}(?= |\\()`);
const PG_COPY = new RegExp(`^COPY ${PG_NAME} (?:\\(.*\\) )?FROM stdin;$`);

type Insert = { kind: "insert"; table: string; values: boolean; word: string; depth: number; quote: number; escape: boolean };
type State =
  | { kind: "head" }
  /** The rest of a line without data: skipped (MySQL) or lexed for strings and bodies (PostgreSQL). */
  | { kind: "rest" }
  | Insert
  | { kind: "copy"; table: string; prefix: string };

/**
 * Counts the rows of each table in a plain SQL dump as it streams past, in constant memory: the
 * tuples of every data INSERT (mysqldump's extended inserts, `--skip-extended-insert`,
 * `--complete-insert`, `--insert-ignore`, `--replace`; pg_dump's `--inserts`, `--column-inserts`,
 * `--rows-per-insert`) and the lines of every `COPY … FROM stdin` block (pg_dump's default, and
 * what pg_restore writes for a custom archive). Restore drills compare a restored database with
 * these counts: they are the dump's own rows, taken in the dump's own snapshot.
 *
 * Data statements are recognised at the start of a line, where both programs write them, and never
 * inside a MySQL `DELIMITER ;;` block (routines, triggers, events) or a PostgreSQL string, quoted
 * identifier or dollar-quoted body, where the same words may appear as code. Tables are named as
 * captureTableStats names them: MySQL the table name, PostgreSQL `schema.table`, unquoted. A table
 * with a COPY block is listed even when it has no row; MySQL writes no INSERT for an empty table.
 */
export class DumpRowCounter {
  readonly rows = new Map<string, number>();
  readonly #dialect: DumpDialect;
  #state: State = { kind: "head" };
  #head: Buffer[] = [];
  #headBytes = 0;
  #headPrefix = "";
  /** MySQL: the client delimiter (`;;` around routines); data statements only under `;`. */
  #delimiter = ";";
  readonly #pg = new PgLexer();

  constructor(dialect: DumpDialect) {
    this.#dialect = dialect;
  }

  /** Feeds the next bytes of the dump. */
  write(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      const state = this.#state;
      if (state.kind === "head") i = this.#readHead(chunk, i);
      else if (state.kind === "rest") i = this.#readRest(chunk, i);
      else if (state.kind === "insert") i = this.#readInsert(state, chunk, i);
      else i = this.#readCopy(state, chunk, i);
    }
  }

  /** The first bytes of a line, until it can be told what the line is. */
  #readHead(chunk: Buffer, i: number): number {
    // Inside a PostgreSQL string or body a line is text or code, never a statement of its own.
    if (this.#dialect === "pg" && this.#pg.quoted) {
      this.#state = { kind: "rest" };
      return i;
    }
    const end = chunk.indexOf(NL, i);
    const stop = end === -1 ? chunk.length : end;
    if (this.#headPrefix.length < 5) this.#headPrefix += chunk.subarray(i, Math.min(stop, i + 5 - this.#headPrefix.length)).toString("latin1");
    const limit = this.#headPrefix === "COPY " ? COPY_LINE_MAX : HEAD_MAX;
    const take = Math.min(stop - i, limit - this.#headBytes);
    this.#head.push(chunk.subarray(i, i + take));
    this.#headBytes += take;
    const complete = end !== -1 && i + take === end;
    if (!complete && this.#headBytes < limit) return i + take; // the chunk ended: wait for more
    const head = Buffer.concat(this.#head);
    this.#head = [];
    this.#headBytes = 0;
    this.#headPrefix = "";
    this.#classify(head, complete);
    return complete ? end + 1 : i + take;
  }

  /** Decides what a line is from its head; `complete`: the head is the whole line, newline consumed. */
  #classify(head: Buffer, complete: boolean): void {
    const text = head.toString("utf8");
    if (this.#dialect === "mysql") {
      const delimiter = complete ? /^DELIMITER (\S+)/.exec(text) : null;
      if (delimiter) this.#delimiter = delimiter[1]!;
      const insert = this.#delimiter === ";" ? MYSQL_INSERT.exec(text) : null;
      if (insert) {
        this.#startInsert(insert[1]!.replace(/``/g, "`"), head.subarray(Buffer.byteLength(insert[0])), complete);
        return;
      }
    } else {
      const copy = complete ? PG_COPY.exec(text) : null;
      if (copy) {
        const table = pgName(copy[1]!);
        this.rows.set(table, this.rows.get(table) ?? 0);
        this.#state = { kind: "copy", table, prefix: "" };
        return;
      }
      const insert = PG_INSERT.exec(text);
      if (insert) {
        this.#startInsert(pgName(insert[1]!), head.subarray(Buffer.byteLength(insert[0])), complete);
        return;
      }
      this.#pg.lex(head);
      if (complete) this.#pg.endLine();
    }
    this.#state = complete ? { kind: "head" } : { kind: "rest" };
  }

  /** An INSERT into `table`; `rest` is the rest of its head. */
  #startInsert(table: string, rest: Buffer, complete: boolean): void {
    this.rows.set(table, this.rows.get(table) ?? 0);
    const state: Insert = { kind: "insert", table, values: false, word: "", depth: 0, quote: 0, escape: false };
    this.#state = state;
    const bytes = complete ? Buffer.concat([rest, Buffer.from("\n")]) : rest;
    this.#readInsert(state, bytes, 0);
    // The statement ended within its head: with the line complete, the next byte starts a line.
    if (this.#state !== state && complete) this.#state = { kind: "head" };
  }

  #readRest(chunk: Buffer, i: number): number {
    const end = chunk.indexOf(NL, i);
    const stop = end === -1 ? chunk.length : end;
    if (this.#dialect === "pg") this.#pg.lex(chunk.subarray(i, stop));
    if (end === -1) return chunk.length;
    if (this.#dialect === "pg") this.#pg.endLine();
    this.#state = { kind: "head" };
    return end + 1;
  }

  /**
   * An INSERT after its table name: an optional column list, VALUES, then one parenthesised tuple
   * per row, up to the `;` that ends the statement. Strings are skipped: '…' (and MySQL's "…"),
   * with MySQL's backslash escapes; a doubled quote closes and reopens, which comes to the same.
   */
  #readInsert(s: Insert, chunk: Buffer, i: number): number {
    const mysql = this.#dialect === "mysql";
    for (; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (s.quote) {
        if (s.escape) s.escape = false;
        else if (c === 0x5c && mysql && s.quote !== 0x60) s.escape = true;
        else if (c === s.quote) s.quote = 0;
        continue;
      }
      if (c === 0x27 || (c === 0x22 && (mysql || !s.values)) || (c === 0x60 && mysql)) {
        s.quote = c;
        continue;
      }
      if (!s.values) {
        if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) {
          s.word += String.fromCharCode(c);
          continue;
        }
        if (s.word.toUpperCase() === "VALUES") s.values = true;
        s.word = "";
      }
      if (c === 0x28) {
        if (s.depth === 0 && s.values) this.rows.set(s.table, this.rows.get(s.table)! + 1);
        s.depth++;
      } else if (c === 0x29) {
        s.depth--;
      } else if (c === 0x3b && s.depth === 0) {
        this.#state = { kind: "rest" };
        return i + 1;
      }
    }
    return i;
  }

  /** COPY data: one row per line, up to the line `\.`. */
  #readCopy(s: Extract<State, { kind: "copy" }>, chunk: Buffer, i: number): number {
    while (i < chunk.length) {
      const end = chunk.indexOf(NL, i);
      const stop = end === -1 ? chunk.length : end;
      if (s.prefix.length < 3) s.prefix += chunk.subarray(i, Math.min(stop, i + 3 - s.prefix.length)).toString("latin1");
      if (end === -1) return chunk.length;
      if (s.prefix === "\\.") {
        this.#state = { kind: "head" };
        return end + 1;
      }
      this.rows.set(s.table, this.rows.get(s.table)! + 1);
      s.prefix = "";
      i = end + 1;
    }
    return i;
  }
}

/**
 * Follows pg_dump's SQL outside data statements: '…' strings, "…" identifiers and $tag$…$tag$
 * bodies (which span lines), and -- comments (which end with theirs).
 */
class PgLexer {
  /** The text that closes what is open: `'`, `"`, a `$tag$`, or null. */
  #close: string | null = null;
  /** The letters of a `$tag` read so far after a `$`, or null. */
  #tag: string | null = null;
  #comment = false;
  #dash = false;

  get quoted(): boolean {
    return this.#close !== null;
  }

  lex(bytes: Buffer): void {
    for (const c of bytes) {
      if (this.#comment) continue;
      const ch = String.fromCharCode(c);
      if (this.#tag !== null) {
        if (ch === "$") {
          const tag = `$${this.#tag}$`;
          this.#tag = null;
          if (this.#close === null) this.#close = tag;
          else if (this.#close === tag) this.#close = null;
          else this.#tag = ""; // another `$…$` inside a body: this `$` may begin the closing tag
          continue;
        }
        if (/[A-Za-z_]/.test(ch) || (this.#tag !== "" && /[0-9]/.test(ch))) {
          this.#tag += ch;
          continue;
        }
        this.#tag = null; // `$1`, `$x ` …: not a tag; the character counts on its own
      }
      if (this.#close === "'" || this.#close === '"') {
        if (ch === this.#close) this.#close = null;
        continue;
      }
      if (this.#close !== null) {
        if (ch === "$") this.#tag = "";
        continue;
      }
      if (ch === "'" || ch === '"') this.#close = ch;
      else if (ch === "$") this.#tag = "";
      else if (ch === "-" && this.#dash) this.#comment = true;
      this.#dash = ch === "-";
    }
  }

  endLine(): void {
    this.#comment = false;
    this.#dash = false;
    this.#tag = null;
  }
}

/** `public.items`, `"My Schema"."a ""b"""` → `public.items`, `My Schema.a "b"`. */
function pgName(qualified: string): string {
  const parts = qualified.match(/"(?:[^"]|"")+"|[^.]+/g) ?? [qualified];
  return parts.map((p) => (p.startsWith('"') ? p.slice(1, -1).replace(/""/g, '"') : p)).join(".");
}
