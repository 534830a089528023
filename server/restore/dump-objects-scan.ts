import { Transform, type TransformCallback } from "node:stream";
import { rewriteDefinerLine } from "./definer-rewrite.ts";

/** How much of a line is looked at: a DEFINER clause or an OWNER TO statement sits at its start. */
const HEAD = 4096;

/** An object of a dump that is created on behalf of an account (MySQL/MariaDB) or handed to a role (PostgreSQL). */
export type DumpObject = {
  /** TRIGGER, VIEW, PROCEDURE, FUNCTION, EVENT; PostgreSQL: TABLE, VIEW, FUNCTION, SEQUENCE, SCHEMA, TYPE… */
  kind: string;
  /** As written in the dump, without quotes (a MySQL name without its database). */
  name: string;
  /** MySQL/MariaDB: the DEFINER as `user@host`; PostgreSQL: the OWNER TO role. */
  account: string;
  /** The dump's line (1-based, as the client counts them) where the object's CREATE statement begins. */
  line: number;
};

const IDENT = "`(?:[^`]|``)+`|[A-Za-z0-9_$]+";
/** The kind and name after a DEFINER clause; a name written with its database (`db`.name) keeps only the name. */
const KIND_NAME = new RegExp(`\\b(TRIGGER|PROCEDURE|FUNCTION|EVENT|VIEW)\\s+(?:(?:${IDENT})\\s*\\.\\s*)?(${IDENT})`, "i");
const VIEW_LINE = new RegExp(`^/\\*!\\d{5} VIEW\\s+(?:(?:${IDENT})\\s*\\.\\s*)?(${IDENT})`, "i");
const OWNER_TO =
  /^ALTER ((?:[A-Z]+ )*?)(?:(TABLE|VIEW|SEQUENCE|FUNCTION|PROCEDURE|AGGREGATE|SCHEMA|TYPE|DOMAIN|MATERIALIZED VIEW|FOREIGN TABLE|LARGE OBJECT|EXTENSION|COLLATION|CONVERSION|TEXT SEARCH (?:CONFIGURATION|DICTIONARY)|PUBLICATION|SUBSCRIPTION|OPERATOR(?: CLASS| FAMILY)?|SERVER|EVENT TRIGGER|LANGUAGE|STATISTICS) )(.+) OWNER TO ("(?:[^"]|"")+"|[^\s;]+);/;

/**
 * Passes a plain SQL dump through unchanged while noting the objects in it that name an account:
 * MySQL/MariaDB `DEFINER=` clauses (triggers, views, routines, events, written at the start of a
 * line by mariadb-dump / mysqldump) or PostgreSQL `ALTER … OWNER TO` statements (outside COPY
 * data). Only the first 4 KiB of a line is held, so memory stays constant on any dump, and data
 * rows pass at once. Counts lines as the client does, so a client's "at line N" can be matched.
 */
export class DumpObjectScanner extends Transform {
  readonly objects: DumpObject[] = [];
  #head: Buffer | null = Buffer.alloc(0);
  #line = 1;
  #pendingView: { account: string; line: number } | null = null;
  /** The previous line began a view's CREATE statement (`/*!50001 CREATE ALGORITHM=… *\/`, its clause on the next line). */
  #afterViewStart = false;
  #inCopy = false;

  constructor(private readonly family: "mysql" | "pg") {
    super();
  }

  /** The object whose CREATE statement begins at `line` (a client's "ERROR … at line N"), or null. */
  objectAt(line: number): DumpObject | null {
    return this.objects.find((o) => o.line === line) ?? null;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let at = 0;
    while (at < chunk.length) {
      const newline = chunk.indexOf(0x0a, at);
      const end = newline === -1 ? chunk.length : newline + 1;
      if (this.#head !== null) {
        const part = chunk.subarray(at, Math.min(end, at + HEAD - this.#head.length));
        this.#head = this.#head.length ? Buffer.concat([this.#head, part]) : Buffer.from(part);
        if (newline !== -1 || this.#head.length >= HEAD) {
          this.#look(this.#head);
          this.#head = null;
        }
      }
      if (newline !== -1) {
        this.#line++;
        this.#head = Buffer.alloc(0);
      }
      at = end;
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.#head?.length) this.#look(this.#head);
    this.#head = null;
    done();
  }

  #look(head: Buffer): void {
    if (this.family === "pg") {
      this.#lookPg(head);
      return;
    }
    if (this.#pendingView) {
      const view = VIEW_LINE.exec(head.toString("latin1"));
      if (view) this.objects.push({ kind: "VIEW", name: unquote(view[1]!), ...this.#pendingView });
      this.#pendingView = null;
    }
    const viewStart = this.#afterViewStart;
    this.#afterViewStart = /^\/\*!\d{5} CREATE ALGORITHM=\w+ \*\/\s*$/.test(head.subarray(0, 64).toString("latin1"));
    const { line, definer } = rewriteDefinerLine(head);
    if (!definer) return;
    const account = `${definer.user}@${definer.host}`;
    const text = line.toString("latin1");
    const rest = text.slice(text.indexOf("DEFINER=CURRENT_USER") + "DEFINER=CURRENT_USER".length);
    const named = KIND_NAME.exec(rest);
    // A view's clause line (`/*!50013 DEFINER=… SQL SECURITY DEFINER */`) is followed by `/*!50001 VIEW name AS …`.
    if (named && !/^\s*SQL SECURITY/i.test(rest)) this.objects.push({ kind: named[1]!.toUpperCase(), name: unquote(named[2]!), account, line: this.#line });
    else this.#pendingView = { account, line: viewStart ? this.#line - 1 : this.#line };
  }

  #lookPg(head: Buffer): void {
    const text = head.toString("utf8");
    if (this.#inCopy) {
      if (/^\\\.\r?\n?$/.test(text)) this.#inCopy = false;
      return;
    }
    if (text.startsWith("COPY ") && /FROM stdin;\s*$/.test(text)) {
      this.#inCopy = true;
      return;
    }
    if (!text.startsWith("ALTER ")) return;
    const m = OWNER_TO.exec(text);
    if (m) this.objects.push({ kind: m[2]!, name: m[3]!, account: pgUnquote(m[4]!), line: this.#line });
  }
}

function unquote(name: string): string {
  const inner = name.startsWith("`") ? name.slice(1, -1).replace(/``/g, "`") : name;
  return Buffer.from(inner, "latin1").toString("utf8");
}

function pgUnquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name;
}
