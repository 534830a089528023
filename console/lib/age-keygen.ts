// An age X25519 key pair made in the browser with WebCrypto, encoded as age-keygen does: the
// recipient is Bech32 "age" over the 32-byte public key, the identity upper-case Bech32
// "AGE-SECRET-KEY-" over the 32-byte private scalar (https://age-encryption.org/v1, "X25519").
import { bech32Encode } from "./bech32";

/** A fresh recovery key: `recipient` goes to the server, `identity` only into the user's file. */
export interface BrowserAgeKey {
  /** `age1…`, the public half. */
  recipient: string;
  /** `AGE-SECRET-KEY-1…`, the private half. A secret: never sent anywhere. */
  identity: string;
  /** When it was made, as age-keygen's `# created:` line writes it (RFC 3339, seconds). */
  createdAt: string;
}

/** Base64url (JWK) to bytes. */
function fromBase64Url(text: string): Uint8Array {
  const base64 = text
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

/**
 * Generates an X25519 key pair with `crypto.subtle` and encodes both halves. Throws an Error saying
 * why when the browser cannot (no WebCrypto outside HTTPS or localhost, or no X25519 support).
 */
export async function generateAgeKey(): Promise<BrowserAgeKey> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new Error("This browser offers no WebCrypto here (it needs HTTPS or localhost). Make the key with age-keygen and paste its public key.");
  let pair: CryptoKeyPair;
  try {
    pair = (await subtle.generateKey({ name: "X25519" }, true, ["deriveBits"])) as CryptoKeyPair;
  } catch {
    throw new Error("This browser cannot generate X25519 keys. Make the key with age-keygen and paste its public key.");
  }
  const publicRaw = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
  // The private scalar is the JWK's `d` (the PKCS #8 form carries it too, wrapped in DER).
  const jwk = await subtle.exportKey("jwk", pair.privateKey);
  const privateRaw = fromBase64Url(jwk.d ?? "");
  if (publicRaw.length !== 32 || privateRaw.length !== 32) throw new Error("The browser returned an X25519 key of an unexpected size.");
  const createdAt = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  return { recipient: bech32Encode("age", publicRaw), identity: bech32Encode("age-secret-key-", privateRaw, true), createdAt };
}

/** The identity file's text, in age-keygen's layout (`age -d -i FILE` and `age-keygen -y FILE` read it). */
export function identityFile(key: BrowserAgeKey): string {
  return `# created: ${key.createdAt}\n# public key: ${key.recipient}\n${key.identity}\n`;
}

/** `sqlguard-recovery-<label>.txt`, the label reduced to characters safe in a file name. */
export function identityFileName(label: string): string {
  const safe = label
    .trim()
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return `sqlguard-recovery-${safe || "key"}.txt`;
}
