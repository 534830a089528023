import crypto from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import type { AgeIdentity } from "./age-keys.ts";
import { aeadOpen, AgeError, buildHeader, hkdf, parseHeader, unwrapFileKey } from "./age-header.ts";

/** Plaintext bytes per payload chunk (the spec's 64 KiB). */
export const CHUNK = 64 * 1024;
const TAG = 16;
const SEALED_CHUNK = CHUNK + TAG;
const NONCE_BYTES = 16;

/** The STREAM nonce of chunk `counter`: 11-byte big-endian counter, then 1 for the last chunk. */
function chunkNonce(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(counter, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

function seal(key: Buffer, counter: number, last: boolean, plaintext: Buffer): Buffer[] {
  const cipher = crypto.createCipheriv("chacha20-poly1305", key, chunkNonce(counter, last), { authTagLength: TAG });
  const body = cipher.update(plaintext);
  cipher.final();
  return [body, cipher.getAuthTag()];
}

/** Collects chunks without copying them until a full unit is needed. */
class Pending {
  #parts: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.#parts.push(chunk);
    this.length += chunk.length;
  }

  /** Removes and returns the first `n` bytes (n ≤ length). */
  take(n: number): Buffer {
    const first = this.#parts[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#parts.shift();
      else this.#parts[0] = first.subarray(n);
    } else {
      // Copies only the `n` bytes that straddle parts; the rest stays where it is.
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const part = this.#parts[0]!;
        const used = Math.min(part.length, n - at);
        part.copy(out, at, 0, used);
        at += used;
        if (used === part.length) this.#parts.shift();
        else this.#parts[0] = part.subarray(used);
      }
    }
    this.length -= n;
    return out;
  }

  all(): Buffer {
    const out = Buffer.concat(this.#parts);
    this.#parts = [];
    this.length = 0;
    return out;
  }
}

/**
 * Encrypts a stream into an age v1 file for the given X25519 recipients (32-byte public keys):
 * header, 16-byte nonce, then 64 KiB chunks sealed with ChaCha20-Poly1305. Memory stays at one chunk.
 */
export class AgeEncrypt extends Transform {
  readonly #key: Buffer;
  readonly #pending = new Pending();
  #counter = 0;

  constructor(recipients: Buffer[]) {
    super();
    const fileKey = crypto.randomBytes(16);
    const nonce = crypto.randomBytes(NONCE_BYTES);
    this.#key = hkdf(fileKey, nonce, "payload");
    this.push(Buffer.concat([buildHeader(recipients, fileKey), nonce]));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#pending.push(chunk);
    // The chunk that ends the stream is sealed as the last one: keep one back until then.
    while (this.#pending.length > CHUNK) for (const part of seal(this.#key, this.#counter++, false, this.#pending.take(CHUNK))) this.push(part);
    done();
  }

  override _flush(done: TransformCallback): void {
    for (const part of seal(this.#key, this.#counter++, true, this.#pending.all())) this.push(part);
    done();
  }
}

/**
 * Decrypts an age v1 file with the first identity that opens it. Errors (AgeError): MALFORMED,
 * NO_IDENTITY (none of `identities` is a recipient; `describe()` names who is), TAMPERED (a header
 * MAC or chunk tag does not match: altered, reordered or swapped chunks), TRUNCATED (the stream
 * ends before a final chunk). Nothing of a chunk is passed on before its tag was checked.
 */
export class AgeDecrypt extends Transform {
  readonly #identities: AgeIdentity[];
  readonly #noIdentity: () => string;
  #header = new Pending();
  #key: Buffer | null = null;
  readonly #pending = new Pending();
  #counter = 0;

  constructor(identities: AgeIdentity[], noIdentity: () => string = () => "none of the given identities opens this age file") {
    super();
    this.#identities = identities;
    this.#noIdentity = noIdentity;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      if (!this.#key) {
        this.#header.push(chunk);
        const data = this.#header.all();
        this.#header.push(data);
        const header = parseHeader(data);
        if (!header || data.length < header.length + NONCE_BYTES) {
          done();
          return;
        }
        const fileKey = unwrapFileKey(header, this.#identities);
        if (!fileKey) throw new AgeError("NO_IDENTITY", this.#noIdentity());
        this.#key = hkdf(fileKey, data.subarray(header.length, header.length + NONCE_BYTES), "payload");
        this.#header = new Pending();
        chunk = data.subarray(header.length + NONCE_BYTES);
      }
      if (chunk.length) this.#pending.push(chunk);
      while (this.#pending.length > SEALED_CHUNK) this.push(this.#open(this.#pending.take(SEALED_CHUNK), false));
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (!this.#key) throw new AgeError("TRUNCATED", "the age file ends inside its header");
      const rest = this.#pending.all();
      if (rest.length < TAG) throw new AgeError("TRUNCATED", "the age file was cut short: it ends before its final chunk");
      const plain = this.#open(rest, true);
      if (plain.length === 0 && this.#counter > 1) throw new AgeError("MALFORMED", "the age file ends with an empty final chunk");
      this.push(plain);
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  #open(sealed: Buffer, last: boolean): Buffer {
    const plain = aeadOpen(this.#key!, chunkNonce(this.#counter++, last), sealed);
    if (plain) return plain;
    throw last
      ? new AgeError("TAMPERED", `chunk ${this.#counter - 1} of the age payload fails authentication, or the file was cut short at a chunk boundary`)
      : new AgeError("TAMPERED", `chunk ${this.#counter - 1} of the age payload fails authentication: the file was altered or its chunks reordered`);
  }
}
