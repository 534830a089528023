import crypto from "node:crypto";
import { createReadStream } from "node:fs";
import fs, { type FileHandle } from "node:fs/promises";
import path from "node:path";

/** One file of a tar: its name (no directories), size and SHA-256. */
export type TarMember = { name: string; size: number; sha256: string };

const BLOCK = 512;
/** ustar's size field holds 11 octal digits: below 8 GiB; larger members get a pax size record. */
const USTAR_MAX_SIZE = 8 ** 11 - 1;

/**
 * The files of a flat directory (a mydumper or `pg_dump -Fd` output) as one POSIX tar stream
 * (ustar, with pax records for long names and members of 8 GiB or more), so the artifact unpacks
 * with any `tar`. Each file is removed as soon as it has been read (the spool frees up as the
 * upload goes); `onMember` sees each member once it is complete. Throws when the directory holds
 * anything but regular files, or a file changed size while read.
 */
export async function* tarDirectory(dir: string, options: TarOptions = {}): AsyncGenerator<Buffer> {
  const mtime = Math.floor(Date.now() / 1000);
  for (const name of (await fs.readdir(dir)).sort()) yield* tarMember(dir, name, mtime, options);
  yield Buffer.alloc(BLOCK * 2);
}

type TarOptions = { onMember?: (m: TarMember) => void; signal?: AbortSignal };

/**
 * Like tarDirectory, for a directory a program is still writing: every `pollMs` the files
 * `closedFiles` names (complete: no longer open by the writer) are stored and removed, so the
 * upload runs alongside the dump and the spool holds only what is being written. Once `finished`
 * resolves (the writer exited cleanly) the rest follows; when it rejects, so does the stream, with
 * its error. A file that appears again under a name already stored (the writer reopened it) fails
 * the stream rather than store it twice or half.
 */
export async function* tarGrowingDirectory(
  dir: string,
  growing: { closedFiles: () => Promise<string[]>; finished: Promise<void>; pollMs?: number },
  options: TarOptions = {},
): AsyncGenerator<Buffer> {
  const mtime = Math.floor(Date.now() / 1000);
  const taken = new Set<string>();
  let done = false;
  let failure: unknown;
  const settled = growing.finished.then(
    () => void (done = true),
    (error: unknown) => void ((done = true), (failure = error)),
  );
  while (!done) {
    options.signal?.throwIfAborted();
    const ready = (await growing.closedFiles()).filter((n) => !taken.has(n)).sort();
    for (const name of ready) {
      yield* tarMember(dir, name, mtime, options);
      taken.add(name);
    }
    if (!ready.length) await Promise.race([settled, new Promise((r) => setTimeout(r, growing.pollMs ?? 200))]);
  }
  if (failure !== undefined) throw failure;
  for (const name of (await fs.readdir(dir)).sort()) {
    if (taken.has(name)) throw new Error(`${name} was written again after it had been stored`);
    yield* tarMember(dir, name, mtime, options);
  }
  yield Buffer.alloc(BLOCK * 2);
}

async function* tarMember(dir: string, name: string, mtime: number, options: TarOptions): AsyncGenerator<Buffer> {
  options.signal?.throwIfAborted();
  const file = path.join(dir, name);
  const stat = await fs.lstat(file);
  if (!stat.isFile()) throw new Error(`the spool holds ${JSON.stringify(name)}, which is not a regular file`);
  yield* headerBlocks(name, stat.size, mtime);
  const hash = crypto.createHash("sha256");
  let read = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, signal: options.signal }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    read += chunk.length;
    yield chunk;
  }
  if (read !== stat.size) throw new Error(`${name} changed size while it was read (${stat.size} then ${read} bytes)`);
  const pad = (BLOCK - (read % BLOCK)) % BLOCK;
  if (pad) yield Buffer.alloc(pad);
  await fs.unlink(file);
  options.onMember?.({ name, size: read, sha256: hash.digest("hex") });
}

function* headerBlocks(name: string, size: number, mtime: number): Generator<Buffer> {
  const nameBytes = Buffer.byteLength(name);
  const pax: string[] = [];
  if (nameBytes > 100) pax.push(paxRecord("path", name));
  if (size > USTAR_MAX_SIZE) pax.push(paxRecord("size", String(size)));
  if (pax.length) {
    const body = Buffer.from(pax.join(""));
    yield ustarHeader(`PaxHeaders/${name}`.slice(0, 99), body.length, mtime, "x");
    yield body;
    const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
    if (pad) yield Buffer.alloc(pad);
  }
  yield ustarHeader(nameBytes > 100 ? truncateBytes(name, 100) : name, Math.min(size, USTAR_MAX_SIZE), mtime, "0");
}

/** "<len> key=value\n", where len counts the whole record, itself included. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function truncateBytes(text: string, max: number): string {
  let out = text;
  while (Buffer.byteLength(out) > max) out = out.slice(0, -1);
  return out;
}

function ustarHeader(name: string, size: number, mtime: number, type: "0" | "x"): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  h.write("0000644\0", 100, "ascii");
  h.write("0000000\0", 108, "ascii");
  h.write("0000000\0", 116, "ascii");
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124, "ascii");
  h.write(`${mtime.toString(8).padStart(11, "0")}\0`, 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(type, 156, "ascii");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return h;
}

/**
 * Unpacks a tar stream into `dir` (which must exist), member by member as the bytes arrive: only
 * regular files with plain names (no directories, links or paths: what tarDirectory writes, or a
 * flat `tar -cf` of a dump directory). Resolves with the members (size, and SHA-256 unless `hash`
 * is false: a restore whose whole artifact is verified needs no per-member hashes, which cost about
 * a second of CPU per GiB); rejects on a damaged or truncated tar, or a member it refuses. Each
 * member is written in batches of up to WRITE_BATCH, one write in flight while the next gathers.
 */
export async function extractTar(source: AsyncIterable<Buffer>, dir: string, options: { signal?: AbortSignal; hash?: false }): Promise<ExtractedMember[]>;
export async function extractTar(source: AsyncIterable<Buffer>, dir: string, options?: { signal?: AbortSignal; hash?: true }): Promise<TarMember[]>;
export async function extractTar(
  source: AsyncIterable<Buffer>,
  dir: string,
  options: { signal?: AbortSignal; hash?: boolean } = {},
): Promise<ExtractedMember[]> {
  const reader = new BlockReader(source);
  const members: ExtractedMember[] = [];
  let paxPath: string | undefined;
  let paxSize: number | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    const header = await reader.exactly(BLOCK);
    if (!header) throw new Error("the tar ends without its closing blocks (truncated)");
    if (header.every((b) => b === 0)) break;
    checkChecksum(header);
    const type = String.fromCharCode(header[156]!);
    const size = paxSize ?? parseOctal(header.subarray(124, 136));
    const prefix = cString(header.subarray(345, 500));
    const name = paxPath ?? (prefix ? `${prefix}/${cString(header.subarray(0, 100))}` : cString(header.subarray(0, 100)));
    paxPath = paxSize = undefined;
    if (type === "x") {
      const body = await reader.exactly(size + padOf(size));
      if (!body) throw new Error("the tar is truncated inside a pax header");
      const records = parsePax(body.subarray(0, size));
      paxPath = records.path;
      paxSize = records.size === undefined ? undefined : Number(records.size);
      continue;
    }
    if (type === "g") {
      await reader.skip(size + padOf(size));
      continue;
    }
    const plain = name.replace(/^\.\//, "");
    if (type === "5" && !plain.replace(/\/$/, "").includes("/")) continue; // the "./" entry of `tar -C dir .`
    if (type !== "0" && type !== "\0")
      throw new Error(`the tar holds ${JSON.stringify(name)} of type ${JSON.stringify(type)}: only regular files are restored`);
    if (!plain || plain.includes("/") || plain === "." || plain === "..")
      throw new Error(`the tar holds ${JSON.stringify(name)}: only plain file names are restored`);
    const handle = await fs.open(path.join(dir, plain), "wx", 0o600);
    const hash = options.hash === false ? null : crypto.createHash("sha256");
    let inflight: Promise<unknown> | null = null;
    try {
      let left = size;
      let batch: Buffer[] = [];
      let batched = 0;
      while (left > 0) {
        const chunk = await reader.upTo(left);
        if (!chunk) throw new Error(`the tar is truncated inside ${plain}`);
        hash?.update(chunk);
        batch.push(chunk);
        batched += chunk.length;
        left -= chunk.length;
        if (batched >= WRITE_BATCH || left === 0) {
          await inflight;
          inflight = writeAll(handle, batch);
          batch = [];
          batched = 0;
        }
      }
      await inflight;
    } finally {
      // A failed write is reported by the await above; here only the handle is let go.
      await inflight?.catch(() => {});
      await handle.close();
    }
    if (!(await reader.skip(padOf(size)))) throw new Error(`the tar is truncated after ${plain}`);
    members.push(hash ? { name: plain, size, sha256: hash.digest("hex") } : { name: plain, size });
  }
  return members;
}

const padOf = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

/** A member as extractTar unpacked it: its SHA-256 only when it was asked for. */
export type ExtractedMember = { name: string; size: number; sha256?: string };

/** The most bytes of one member gathered while the previous batch is written. */
const WRITE_BATCH = 1 << 20;

/** Writes every buffer, in order, looping over short writes. */
async function writeAll(handle: FileHandle, buffers: Buffer[]): Promise<void> {
  let pending = buffers;
  while (pending.length) {
    let { bytesWritten } = await handle.writev(pending);
    while (pending.length && bytesWritten >= pending[0]!.length) {
      bytesWritten -= pending[0]!.length;
      pending = pending.slice(1);
    }
    if (bytesWritten > 0) pending = [pending[0]!.subarray(bytesWritten), ...pending.slice(1)];
  }
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString("utf8");
}

function parseOctal(bytes: Buffer): number {
  const text = cString(bytes).trim();
  if (!/^[0-7]*$/.test(text)) throw new Error("the tar has a damaged header (size)");
  return text ? Number.parseInt(text, 8) : 0;
}

function checkChecksum(header: Buffer): void {
  const stored = parseOctal(header.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  if (sum !== stored) throw new Error("the tar has a damaged header (checksum)");
}

function parsePax(body: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    const len = Number(body.subarray(at, space).toString("ascii"));
    if (!Number.isInteger(len) || len <= 0) throw new Error("the tar has a damaged pax header");
    const record = body.subarray(space + 1, at + len - 1).toString("utf8");
    const eq = record.indexOf("=");
    records[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return records;
}

/** Reads exact byte counts off a chunk stream, without copying more than it must. */
class BlockReader {
  readonly #chunks: AsyncIterator<Buffer>;
  #pending: Buffer = Buffer.alloc(0);
  #ended = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.#chunks = source[Symbol.asyncIterator]();
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#chunks.next();
    if (next.done) {
      this.#ended = true;
      return false;
    }
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, next.value]) : next.value;
    return true;
  }

  /** Exactly n bytes, or null at the end of the stream. */
  async exactly(n: number): Promise<Buffer | null> {
    while (this.#pending.length < n) if (!(await this.#fill())) return null;
    const out = this.#pending.subarray(0, n);
    this.#pending = this.#pending.subarray(n);
    return out;
  }

  /** Between 1 and n bytes, or null at the end of the stream. */
  async upTo(n: number): Promise<Buffer | null> {
    if (!this.#pending.length && !(await this.#fill())) return null;
    const out = this.#pending.subarray(0, Math.min(n, this.#pending.length));
    this.#pending = this.#pending.subarray(out.length);
    return out;
  }

  async skip(n: number): Promise<boolean> {
    let left = n;
    while (left > 0) {
      const chunk = await this.upTo(left);
      if (!chunk) return false;
      left -= chunk.length;
    }
    return true;
  }
}
