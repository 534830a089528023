import crypto from "node:crypto";
import { bech32Decode, bech32Encode } from "./bech32.ts";

/** An age X25519 identity (the private half) with its recipient (the public half). */
export type AgeIdentity = { privateKey: crypto.KeyObject; publicRaw: Buffer; recipient: string };

const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_X25519 = Buffer.from("302a300506032b656e032100", "hex");
const RECIPIENT_HRP = "age";
const IDENTITY_HRP = "age-secret-key-";

export function x25519PrivateKey(raw: Buffer): crypto.KeyObject {
  return crypto.createPrivateKey({ key: Buffer.concat([PKCS8_X25519, raw]), format: "der", type: "pkcs8" });
}

export function x25519PublicKey(raw: Buffer): crypto.KeyObject {
  return crypto.createPublicKey({ key: Buffer.concat([SPKI_X25519, raw]), format: "der", type: "spki" });
}

export function rawPublic(key: crypto.KeyObject): Buffer {
  return Buffer.from(key.export({ format: "der", type: "spki" }) as Buffer).subarray(-32);
}

function rawPrivate(key: crypto.KeyObject): Buffer {
  return Buffer.from(key.export({ format: "der", type: "pkcs8" }) as Buffer).subarray(-32);
}

/** A new random identity; `encodeIdentity` gives its `AGE-SECRET-KEY-1…` form. */
export function generateIdentity(): AgeIdentity {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("x25519");
  const publicRaw = rawPublic(publicKey);
  return { privateKey, publicRaw, recipient: bech32Encode(RECIPIENT_HRP, publicRaw) };
}

/** `AGE-SECRET-KEY-1…`, what age-keygen writes. A secret: never log it. */
export function encodeIdentity(identity: AgeIdentity): string {
  return bech32Encode(IDENTITY_HRP, rawPrivate(identity.privateKey), true);
}

/** Parses `AGE-SECRET-KEY-1…`; throws an Error saying what is wrong (never echoing the key). */
export function parseIdentity(text: string): AgeIdentity {
  let decoded;
  try {
    decoded = bech32Decode(text.trim());
  } catch (error) {
    throw new Error(`not an age identity: it ${(error as Error).message}`);
  }
  if (decoded.hrp !== IDENTITY_HRP || decoded.data.length !== 32) throw new Error("not an age X25519 identity (AGE-SECRET-KEY-1…)");
  const privateKey = x25519PrivateKey(decoded.data);
  const publicRaw = rawPublic(crypto.createPublicKey(privateKey));
  return { privateKey, publicRaw, recipient: bech32Encode(RECIPIENT_HRP, publicRaw) };
}

/** The 32 public bytes of an `age1…` recipient; throws an Error saying what is wrong. */
export function parseRecipient(text: string): Buffer {
  const trimmed = text.trim();
  let decoded;
  try {
    decoded = bech32Decode(trimmed);
  } catch (error) {
    throw new Error(`not an age recipient: it ${(error as Error).message}`);
  }
  if (decoded.hrp !== RECIPIENT_HRP) throw new Error(`not an age X25519 recipient: it must start with age1 (this one starts with ${decoded.hrp}1)`);
  if (decoded.data.length !== 32) throw new Error("not an age X25519 recipient: it does not hold a 32-byte key");
  if (trimmed !== trimmed.toLowerCase()) throw new Error("not an age recipient: it must be lower case");
  return decoded.data;
}

/**
 * A short fingerprint of a recipient, to tell keys apart in lists and manifests without the key
 * itself: the first 16 hex digits of SHA-256 over the `age1…` string (what `echo -n age1… |
 * sha256sum | cut -c1-16` prints).
 */
export function fingerprintOf(recipient: string): string {
  return crypto.createHash("sha256").update(recipient.trim()).digest("hex").slice(0, 16);
}

/**
 * The identities in an age identity file (age-keygen's output): one `AGE-SECRET-KEY-1…` per
 * line, `#` comments and blank lines ignored. Throws an Error naming the line.
 */
export function parseIdentityFile(text: string): AgeIdentity[] {
  const identities: AgeIdentity[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#")) return;
    try {
      identities.push(parseIdentity(trimmed));
    } catch (error) {
      throw new Error(`line ${i + 1}: ${(error as Error).message}`);
    }
  });
  if (!identities.length) throw new Error("holds no identity (AGE-SECRET-KEY-1… line)");
  return identities;
}
