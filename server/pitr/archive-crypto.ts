import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { PrismaClient } from "../db/client.ts";
import type { Server } from "../db/generated/client.ts";
import { AgeDecrypt, AgeEncrypt } from "../encryption/age-stream.ts";
import { type Decryption, heldIdentities, isEncryptedKey } from "../encryption/artifact-decryption.ts";
import type { RecipientKey } from "../encryption/keys.service.ts";
import type { SecretBox } from "../secrets/secret-box.ts";

/**
 * The keys a server's new point-in-time archives (binlogs, WAL segments, base backups) are
 * encrypted to, or null when its dump profile does not encrypt. Read at every shipment, so a key
 * added or retired applies to the next archive at once, as for dumps.
 */
export type ArchiveRecipients = (server: Pick<Server, "id">) => Promise<RecipientKey[] | null>;

/** ArchiveRecipients from the server's dump profile (`encryption: AGE`) and the key service. */
export function archiveRecipientsFrom(prisma: PrismaClient, keys: { currentRecipients(): Promise<RecipientKey[]> }): ArchiveRecipients {
  return async (server) => {
    // Read now, not from the archiving's snapshot of the server: a profile switched to encryption applies to the next object.
    const row = await prisma.server.findUnique({ where: { id: server.id }, select: { dumpOptions: { select: { encryption: true } } } });
    if (row?.dumpOptions?.encryption !== "AGE") return null;
    const recipients = await keys.currentRecipients();
    if (!recipients.length) throw new Error("encryption is on but there is no encryption key to encrypt to");
    return recipients;
  };
}

/** An age v1 file of `data` for the recipients (archives are small: one binlog or WAL segment). */
export async function encryptArchive(data: Buffer, recipients: RecipientKey[]): Promise<Buffer> {
  return collect(Readable.from([data]), new AgeEncrypt(recipients.map((r) => r.publicRaw)));
}

/**
 * The stored bytes of archive `key`, opened: decrypted when the key ends in `.age` (throws an
 * AgeError NO_IDENTITY naming the way out when no identity is at hand), as they are otherwise.
 */
export async function openArchive(key: string, stored: Buffer, decryption: Decryption | undefined): Promise<Buffer> {
  if (!isEncryptedKey(key)) return stored;
  return collect(Readable.from([stored]), new AgeDecrypt(decryption?.identities ?? [], decryption?.noIdentity ?? noDecryption(key)));
}

/**
 * How this instance opens encrypted point-in-time archives: every identity it holds (retired
 * instance keys too), and, when none opens one, the way out with a recovery identity.
 */
export async function archiveDecryption(prisma: PrismaClient, secrets: SecretBox): Promise<Decryption> {
  const held = await heldIdentities(prisma, secrets);
  return {
    identities: held.map((h) => h.identity),
    noIdentity: () =>
      "no identity this instance holds opens this encrypted point-in-time archive (the manifest beside it names the keys it was encrypted to): restore with `sqlguard restore --point-in-time … --identity <age identity file>` using one of them",
  };
}

/** The message for an encrypted archive read where no identity was passed at all. */
export function noDecryption(key: string): () => string {
  return () =>
    `archive object ${key} is encrypted and no identity was given to open it: restore with \`sqlguard restore --identity <age identity file>\` (or on an instance holding the instance key)`;
}

async function collect(source: Readable, transform: NodeJS.ReadWriteStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    source,
    transform,
    new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(chunks);
}
