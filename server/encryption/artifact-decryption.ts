import type { Readable } from "node:stream";
import type { PrismaClient } from "../db/client.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import { AgeError, parseHeader, unwrapFileKey, MAX_HEADER_BYTES, type ParsedHeader } from "./age-header.ts";
import { type AgeIdentity, parseIdentity } from "./age-keys.ts";

/** How an encrypted artifact is opened: the identities to try, and what to say when none opens it. */
export type Decryption = { identities: AgeIdentity[]; noIdentity: () => string };

/** Encrypted artifacts' keys end in `.age` (`<key>.sql.zst.age`, `.dump.age`, `.tar.zst.age`). */
export function isEncryptedKey(key: string): boolean {
  return key.endsWith(".age");
}

/** The key without its `.age` ending: what tells the dump format and compression apart. */
export function plainKeyOf(key: string): string {
  return isEncryptedKey(key) ? key.slice(0, -".age".length) : key;
}

/**
 * Every identity this instance holds (instance keys, retired ones too), read straight from the
 * metadata: an identity the secret key cannot open is left out. Read-only, for the read paths.
 */
export async function heldIdentities(prisma: PrismaClient, secrets: SecretBox): Promise<Array<{ id: number; identity: AgeIdentity }>> {
  const rows = await prisma.encryptionKey.findMany({ where: { identityEnc: { not: null } }, orderBy: { id: "asc" } });
  const held: Array<{ id: number; identity: AgeIdentity }> = [];
  for (const row of rows) {
    try {
      held.push({ id: row.id, identity: parseIdentity(secrets.open(row.identityEnc!)) });
    } catch {
      // Sealed under another secret key: unusable here, the message names the keys instead.
    }
  }
  return held;
}

/**
 * Names the keys that open an artifact, from its ArtifactEncryptionKey rows: `#3 (instance key,
 * fingerprint 1a2b…), #5 (recovery key "vault", fingerprint …)`; a key since deleted is named as such.
 */
export async function describeArtifactKeys(prisma: PrismaClient, artifactId: number): Promise<string> {
  const links = await prisma.artifactEncryptionKey.findMany({ where: { artifactId }, include: { key: true }, orderBy: { keyId: "asc" } });
  if (!links.length) return "no key recorded for it";
  return links
    .map(
      ({ keyId, key }) =>
        `#${keyId} (${key.kind === "INSTANCE" ? "instance key" : `recovery key ${JSON.stringify(key.label)}`}, fingerprint ${key.fingerprint}${key.retiredAt ? ", retired" : ""})`,
    )
    .join(", ");
}

/**
 * How the restore side opens one stored artifact: with the identities this instance holds, and a
 * message naming the keys that would open it when none of them does (the recovery identity then
 * opens it with `sqlguard restore --identity` or `age -d -i`).
 */
export async function decryptionForArtifact(prisma: PrismaClient, secrets: SecretBox, artifact: { id: number; key: string }): Promise<Decryption> {
  const [held, keys] = await Promise.all([heldIdentities(prisma, secrets), describeArtifactKeys(prisma, artifact.id)]);
  return { identities: held.map((h) => h.identity), noIdentity: () => noIdentityMessage(keys) };
}

/** The NO_IDENTITY message: which keys open the artifact, and how to use one of them. */
export function noIdentityMessage(keys: string): string {
  return `no identity this instance holds opens this encrypted artifact; it opens with ${keys}: restore it with \`sqlguard restore --identity <age identity file>\` (or \`age -d -i <file>\`) using one of them`;
}

/**
 * Reads the age header at the start of a stream (and the 16-byte payload nonce after it), then
 * destroys the stream. Returns the parsed header and its raw bytes; throws AgeError MALFORMED or
 * TRUNCATED when it is not a complete age header.
 */
export async function readHeader(stream: Readable): Promise<{ header: ParsedHeader; bytes: Buffer }> {
  const parts: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      length += chunk.length;
      const data = Buffer.concat(parts);
      const header = parseHeader(data);
      if (header) return { header, bytes: data.subarray(0, header.length) };
      if (length > MAX_HEADER_BYTES) break;
    }
  } finally {
    stream.destroy();
  }
  throw new AgeError("TRUNCATED", "the age file ends inside its header");
}

/**
 * Checks, before anything is written anywhere, that one of `decryption`'s identities opens the
 * artifact's header. Throws AgeError NO_IDENTITY (with the message naming the keys), TAMPERED,
 * MALFORMED or TRUNCATED.
 */
export async function assertOpens(stream: Readable, decryption: Decryption): Promise<void> {
  const { header } = await readHeader(stream);
  if (!unwrapFileKey(header, decryption.identities)) throw new AgeError("NO_IDENTITY", decryption.noIdentity());
}
