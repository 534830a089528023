import { Transform, type TransformCallback } from "node:stream";
import { compareVersions, versionNumbers } from "../process/programs.ts";

/**
 * The first line mariadb-dump writes since the May 2024 releases (`/*!999999\- …` at first,
 * `/*M!999999\- …` later): `\-` turns on the MariaDB client's sandbox mode. Oracle's mysql client
 * and older MariaDB clients do not know that command and stop at line 1 ("Unknown command '\-'").
 */
const SANDBOX_LINE = /^\/\*M?!999999\\- enable the sandbox mode \*\/ *\r?\n?$/;
/** The line is 41 bytes; a first line longer than this is passed on without looking further. */
const LOOK_AHEAD = 256;
/** The first release of each MariaDB series whose client understands the sandbox command. */
const SANDBOX_SINCE = [
  [10, 5, 25],
  [10, 6, 18],
  [10, 11, 8],
  [11, 0, 6],
  [11, 1, 5],
  [11, 2, 4],
  [11, 4, 2],
];

/**
 * Whether a mariadb/mysql client runs MariaDB's sandbox line itself: MariaDB clients from the
 * releases above (and every series after 11.4) do; Oracle's never does.
 */
export function understandsSandboxLine(client: { flavor: "mariadb" | "mysql"; version: string }): boolean {
  if (client.flavor !== "mariadb") return false;
  const version = versionNumbers(client.version);
  if (compareVersions(version.slice(0, 2), [11, 4]) > 0) return true;
  const since = SANDBOX_SINCE.find((s) => s[0] === version[0] && s[1] === version[1]);
  return since !== undefined && compareVersions(version, since) >= 0;
}

/**
 * Passes a SQL stream on unchanged, except that its first line is dropped when it is MariaDB's
 * sandbox line. Buffers at most the first 256 bytes; everything after flows through as is.
 * Dropping the line gives up nothing where SQLGuard uses it: the client runs with --binary-mode,
 * which already disables client commands such as `\!` (a shell) in piped input.
 */
export class SandboxLineFilter extends Transform {
  #head: Buffer | null = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#head === null) {
      done(null, chunk);
      return;
    }
    const head = Buffer.concat([this.#head, chunk]);
    const newline = head.indexOf(0x0a);
    if (newline === -1 && head.length < LOOK_AHEAD) {
      this.#head = head;
      done();
      return;
    }
    this.#head = null;
    const firstLine = newline === -1 ? head : head.subarray(0, newline + 1);
    done(null, isSandboxLine(firstLine) ? head.subarray(firstLine.length) : head);
  }

  override _flush(done: TransformCallback): void {
    const head = this.#head;
    this.#head = null;
    done(null, head?.length && !isSandboxLine(head) ? head : null);
  }
}

function isSandboxLine(line: Buffer): boolean {
  return line.length <= LOOK_AHEAD && SANDBOX_LINE.test(line.toString("latin1"));
}
