import crypto from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";

const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts secrets (database and S3 passwords) for storage with AES-256-GCM.
 * Envelope: `v1:<base64(iv | tag | ciphertext)>`. Tampering or a wrong key makes `open` throw.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error("secret key must be 32 bytes");
    this.#key = key;
  }

  seal(plaintext: string): string {
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv("aes-256-gcm", this.#key, iv);
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`;
  }

  /** Decrypts an envelope made by `seal`; throws if it was altered or sealed under another key. */
  open(envelope: string): string {
    const [version, payload] = envelope.split(":", 2);
    if (version !== VERSION || !payload) throw new Error("unknown secret envelope format");
    const raw = Buffer.from(payload, "base64");
    const iv = raw.subarray(0, IV_BYTES);
    const tag = raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
    const decipher = crypto.createDecipheriv("aes-256-gcm", this.#key, iv);
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch (cause) {
      throw new Error("cannot decrypt a stored secret: the secret key differs from the one that encrypted it", { cause });
    }
  }
}

/** Derives the 32-byte key from a configured passphrase (HKDF-SHA256). */
export function keyFromPassphrase(passphrase: string): Buffer {
  return Buffer.from(crypto.hkdfSync("sha256", passphrase, "sqlguard", "sqlguard secret box v1", 32));
}

/**
 * Returns the configured key, or the one in `<dataDir>/secret.key`, creating that file (mode 0600)
 * with a random key on first use.
 */
export async function loadSecretKey(options: { secretKey?: string; dataDir: string }): Promise<Buffer> {
  if (options.secretKey) return keyFromPassphrase(options.secretKey);
  const file = path.join(options.dataDir, "secret.key");
  await fs.mkdir(options.dataDir, { recursive: true });
  try {
    await fs.writeFile(file, `${crypto.randomBytes(32).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  await fs.chmod(file, 0o600);
  const hex = (await fs.readFile(file, "utf8")).trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${file} does not hold a 64-digit hex key`);
  return Buffer.from(hex, "hex");
}
