import crypto from "node:crypto";
import { type AgeIdentity, rawPublic, x25519PublicKey } from "./age-keys.ts";

/** The first line of every age v1 file. */
export const AGE_MAGIC = "age-encryption.org/v1";
const X25519_INFO = "age-encryption.org/v1/X25519";
const ZERO_NONCE = Buffer.alloc(12);
/** A header larger than this is not one SQLGuard would read (a few hundred bytes per recipient). */
export const MAX_HEADER_BYTES = 1 << 20;

export type AgeErrorCode = "MALFORMED" | "NO_IDENTITY" | "TAMPERED" | "TRUNCATED";

/** An age file that cannot be opened: malformed, not for these identities, altered or cut short. */
export class AgeError extends Error {
  constructor(
    readonly code: AgeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "AgeError";
  }
}

export type Stanza = { args: string[]; body: Buffer };

/** A parsed header: its stanzas, the bytes the MAC covers, the MAC, and its length in the file. */
export type ParsedHeader = { stanzas: Stanza[]; macInput: Buffer; mac: Buffer; length: number };

export function hkdf(ikm: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(crypto.hkdfSync("sha256", ikm, salt, info, 32));
}

function b64(bytes: Buffer): string {
  return bytes.toString("base64").replace(/=+$/, "");
}

/** Canonical unpadded base64 only, as the spec requires. */
function unb64(text: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]*$/.test(text)) throw new AgeError("MALFORMED", `${what} is not unpadded base64`);
  const bytes = Buffer.from(text, "base64");
  if (b64(bytes) !== text) throw new AgeError("MALFORMED", `${what} is not canonical base64`);
  return bytes;
}

function aead(key: Buffer, nonce: Buffer, plaintext: Buffer): Buffer {
  const cipher = crypto.createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** Decrypts and authenticates; null when the tag does not match. */
export function aeadOpen(key: Buffer, nonce: Buffer, sealed: Buffer): Buffer | null {
  if (sealed.length < 16) return null;
  const decipher = crypto.createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
  } catch {
    return null;
  }
}

/** The X25519 stanza wrapping `fileKey` for one recipient (a fresh ephemeral key each time). */
function x25519Stanza(recipient: Buffer, fileKey: Buffer): Stanza {
  const ephemeral = crypto.generateKeyPairSync("x25519");
  const share = rawPublic(ephemeral.publicKey);
  const shared = crypto.diffieHellman({ privateKey: ephemeral.privateKey, publicKey: x25519PublicKey(recipient) });
  const wrapKey = hkdf(shared, Buffer.concat([share, recipient]), X25519_INFO);
  return { args: ["X25519", b64(share)], body: aead(wrapKey, ZERO_NONCE, fileKey) };
}

function headerMac(fileKey: Buffer, macInput: Buffer): Buffer {
  return crypto
    .createHmac("sha256", hkdf(fileKey, Buffer.alloc(0), "header"))
    .update(macInput)
    .digest();
}

/** The age v1 header wrapping `fileKey` for every recipient (32-byte X25519 public keys). */
export function buildHeader(recipients: Buffer[], fileKey: Buffer): Buffer {
  if (!recipients.length) throw new Error("an age file needs at least one recipient");
  let text = `${AGE_MAGIC}\n`;
  for (const stanza of recipients.map((r) => x25519Stanza(r, fileKey))) {
    text += `-> ${stanza.args.join(" ")}\n`;
    const body = b64(stanza.body);
    for (let i = 0; i <= body.length; i += 64) text += `${body.slice(i, i + 64)}\n`;
    // A body whose length is a multiple of 64 ends with an empty line: the loop above wrote it.
  }
  const macInput = Buffer.from(`${text}---`);
  return Buffer.concat([macInput, Buffer.from(` ${b64(headerMac(fileKey, macInput))}\n`)]);
}

/**
 * Parses the header at the start of `data`: null when `data` ends before the header does (read
 * more); throws AgeError MALFORMED when it is not an age v1 header.
 */
export function parseHeader(data: Buffer): ParsedHeader | null {
  const magic = Buffer.from(`${AGE_MAGIC}\n`);
  const head = data.subarray(0, magic.length);
  if (!magic.subarray(0, head.length).equals(head)) throw new AgeError("MALFORMED", `not an age file: it does not start with ${AGE_MAGIC}`);
  const end = data.indexOf("\n--- ");
  if (end < 0) {
    if (data.length > MAX_HEADER_BYTES) throw new AgeError("MALFORMED", "the age header has no end");
    return null;
  }
  const macEnd = data.indexOf("\n", end + 5);
  if (macEnd < 0) return data.length > end + 100 ? fail("the header's MAC line is too long") : null;
  const macInput = data.subarray(0, end + 4);
  const mac = unb64(data.subarray(end + 5, macEnd).toString("latin1"), "the header MAC");
  if (mac.length !== 32) fail("the header MAC is not 32 bytes");
  const lines = data.subarray(magic.length, end).toString("latin1").split("\n");
  const stanzas: Stanza[] = [];
  for (let i = 0; i < lines.length; ) {
    const argLine = lines[i++]!;
    if (!argLine.startsWith("-> ")) fail("a header line does not start a stanza");
    const args = argLine.slice(3).split(" ");
    if (args.some((a) => !/^[\x21-\x7e]+$/.test(a))) fail("a stanza has an empty or invalid argument");
    let body = "";
    for (;;) {
      const line = lines[i++];
      if (line === undefined) fail("a stanza's body is not terminated by a short line");
      if (line!.length > 64) fail("a stanza's body line is longer than 64 columns");
      body += line;
      if (line!.length < 64) break;
    }
    stanzas.push({ args, body: unb64(body, "a stanza body") });
  }
  if (!stanzas.length) fail("the header has no recipient stanza");
  return { stanzas, macInput, mac, length: macEnd + 1 };
}

function fail(message: string): never {
  throw new AgeError("MALFORMED", message);
}

/**
 * The file key, unwrapped with the first identity one of the header's X25519 stanzas is for, its
 * header MAC checked. Returns null when no identity opens the header; throws AgeError TAMPERED
 * when one does but the MAC does not match (the header was altered), MALFORMED for a bad stanza.
 */
export function unwrapFileKey(header: ParsedHeader, identities: AgeIdentity[]): Buffer | null {
  for (const stanza of header.stanzas) {
    if (stanza.args[0] !== "X25519") continue;
    if (stanza.args.length !== 2) fail("an X25519 stanza must have exactly two arguments");
    const share = unb64(stanza.args[1]!, "an X25519 share");
    if (share.length !== 32) fail("an X25519 share is not 32 bytes");
    if (stanza.body.length !== 32) fail("an X25519 stanza body is not 32 bytes");
    for (const identity of identities) {
      let shared: Buffer;
      try {
        shared = crypto.diffieHellman({ privateKey: identity.privateKey, publicKey: x25519PublicKey(share) });
      } catch {
        fail("an X25519 share is a low-order point");
      }
      if (shared.every((b) => b === 0)) fail("an X25519 share is a low-order point");
      const wrapKey = hkdf(shared, Buffer.concat([share, identity.publicRaw]), X25519_INFO);
      const fileKey = aeadOpen(wrapKey, ZERO_NONCE, stanza.body);
      if (!fileKey) continue;
      if (fileKey.length !== 16) fail("the wrapped file key is not 16 bytes");
      if (!crypto.timingSafeEqual(headerMac(fileKey, header.macInput), header.mac))
        throw new AgeError("TAMPERED", "the age header was altered: its MAC does not match");
      return fileKey;
    }
  }
  return null;
}
