import type { AuditLog } from "../audit/audit-log.ts";
import type { PrismaClient } from "../db/client.ts";
import type { EncryptionKey } from "../db/generated/client.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import { type AgeIdentity, encodeIdentity, fingerprintOf, generateIdentity, parseIdentity, parseRecipient } from "./age-keys.ts";

/** A key new artifacts are encrypted to. */
export type RecipientKey = { id: number; kind: EncryptionKey["kind"]; label: string; recipient: string; fingerprint: string; publicRaw: Buffer };

/** An identity this instance holds (an instance key, current or retired). */
export type HeldIdentity = { id: number; identity: AgeIdentity };

/** A key as the API lists it: never its identity. */
export type KeyView = Omit<EncryptionKey, "identityEnc"> & { artifactCount: number; backupCount: number; identityHeld: boolean };

const LABEL_MAX = 100;

/**
 * The keys artifacts are encrypted to: the instance key (generated on first use, its identity
 * sealed with the secret box) and the recovery recipients users hold the identities of. Adding or
 * retiring a key applies to the next backup at once (every backup reads the current set).
 */
export class EncryptionKeys {
  constructor(private readonly deps: { prisma: PrismaClient; secrets: SecretBox; audit: AuditLog }) {}

  /** The current instance key, generated (and audited) when there is none. */
  async instanceKey(): Promise<EncryptionKey> {
    const { prisma } = this.deps;
    const current = await prisma.encryptionKey.findFirst({ where: { kind: "INSTANCE", retiredAt: null }, orderBy: { id: "asc" } });
    if (current) return current;
    const identity = generateIdentity();
    const created = await prisma.encryptionKey.create({
      data: {
        kind: "INSTANCE",
        label: "instance key",
        recipient: identity.recipient,
        fingerprint: fingerprintOf(identity.recipient),
        identityEnc: this.deps.secrets.seal(encodeIdentity(identity)),
      },
    });
    // Two instances may have generated one at once: the oldest wins, the other is removed unused.
    const winner = await prisma.encryptionKey.findFirst({ where: { kind: "INSTANCE", retiredAt: null }, orderBy: { id: "asc" } });
    if (winner && winner.id !== created.id) {
      await prisma.encryptionKey.delete({ where: { id: created.id } });
      return winner;
    }
    await this.deps.audit.record("system", "encryptionKey.create", "EncryptionKey", created.id, null, created);
    return created;
  }

  /** The keys a new artifact is encrypted to: the instance key and every active recovery recipient. */
  async currentRecipients(): Promise<RecipientKey[]> {
    const instance = await this.instanceKey();
    const recovery = await this.deps.prisma.encryptionKey.findMany({ where: { kind: "RECOVERY", retiredAt: null }, orderBy: { id: "asc" } });
    return [instance, ...recovery].map((k) => ({
      id: k.id,
      kind: k.kind,
      label: k.label,
      recipient: k.recipient,
      fingerprint: k.fingerprint,
      publicRaw: parseRecipient(k.recipient),
    }));
  }

  /**
   * Every identity this instance holds (instance keys, retired ones too: their artifacts still open
   * with them). An identity the secret key cannot open is left out (the secret key was changed).
   */
  async identities(): Promise<HeldIdentity[]> {
    const rows = await this.deps.prisma.encryptionKey.findMany({ where: { identityEnc: { not: null } }, orderBy: { id: "asc" } });
    const held: HeldIdentity[] = [];
    for (const row of rows) {
      try {
        held.push({ id: row.id, identity: parseIdentity(this.deps.secrets.open(row.identityEnc!)) });
      } catch {
        // Unusable here; restores then name the keys that would open the artifact.
      }
    }
    return held;
  }

  /**
   * Every key, instance keys first, then oldest first, with the stored copies (and backups) it opens; the instance key is
   * generated first if there is none yet, so the list always shows what new backups use.
   */
  async list(): Promise<KeyView[]> {
    const { prisma } = this.deps;
    await this.instanceKey();
    const [rows, counts] = await Promise.all([
      prisma.encryptionKey.findMany({ orderBy: [{ kind: "asc" }, { id: "asc" }] }),
      prisma.$queryRaw<Array<{ keyId: number; artifacts: bigint; backups: bigint }>>`
        SELECT k.keyId AS keyId, COUNT(*) AS artifacts, COUNT(DISTINCT a.backupId) AS backups
        FROM ArtifactEncryptionKey k JOIN BackupArtifact a ON a.id = k.artifactId
        WHERE a.status IN ('STORED', 'CORRUPT') GROUP BY k.keyId`,
    ]);
    const byKey = new Map(counts.map((c) => [Number(c.keyId), c]));
    return rows.map(({ identityEnc, ...k }) => ({
      ...k,
      artifactCount: Number(byKey.get(k.id)?.artifacts ?? 0),
      backupCount: Number(byKey.get(k.id)?.backups ?? 0),
      identityHeld: identityEnc !== null,
    }));
  }

  /** Adds a recovery recipient (`age1…`) that every new backup is encrypted to. */
  async addRecoveryRecipient(actor: string, input: { label: string; recipient: string }): Promise<EncryptionKey> {
    const label = input.label.trim();
    const recipient = input.recipient.trim();
    const problems: Array<{ field: string; problem: string }> = [];
    if (!label) problems.push({ field: "label", problem: "must not be empty" });
    else if (label.length > LABEL_MAX) problems.push({ field: "label", problem: `must be at most ${LABEL_MAX} characters` });
    try {
      parseRecipient(recipient);
    } catch (error) {
      problems.push({ field: "recipient", problem: `${(error as Error).message} (paste the "public key: age1…" line age-keygen prints)` });
    }
    if (problems.length) throw ValidationError.of(problems);
    const { prisma } = this.deps;
    if (await prisma.encryptionKey.findUnique({ where: { recipient } }))
      throw new ConflictError("recipient", "this recipient is already a key of this instance");
    return prisma.$transaction(async (tx) => {
      const created = await tx.encryptionKey.create({ data: { kind: "RECOVERY", label, recipient, fingerprint: fingerprintOf(recipient) } });
      await this.deps.audit.record(actor, "encryptionKey.create", "EncryptionKey", created.id, null, created, tx);
      return created;
    });
  }

  /**
   * Retires a key: new backups and rewraps leave it out; artifacts encrypted to it still open with
   * it. Retiring the instance key makes the next backup generate a new one. The last key not
   * retired cannot be retired (ConflictError on `id`): new backups would have no key to go to.
   */
  async retire(actor: string, id: number): Promise<EncryptionKey> {
    const { prisma } = this.deps;
    const before = await prisma.encryptionKey.findUnique({ where: { id } });
    if (!before) throw new NotFoundError("encryption key", id);
    if (before.retiredAt) return before;
    return prisma.$transaction(async (tx) => {
      // Under the row locks of every usable key, so that two retires at once cannot both pass.
      const usable = await tx.$queryRaw<Array<{ id: number }>>`SELECT id FROM EncryptionKey WHERE retiredAt IS NULL FOR UPDATE`;
      if (usable.length <= 1) throw new ConflictError("id", "this is the last usable encryption key: add a recovery recipient before retiring it");
      const after = await tx.encryptionKey.update({ where: { id }, data: { retiredAt: new Date() } });
      await this.deps.audit.record(actor, "encryptionKey.retire", "EncryptionKey", id, before, after, tx);
      return after;
    });
  }

  /** Names keys for messages: `#3 (instance key, fingerprint 1a2b…)`. Unknown ids are named as such. */
  async describe(ids: number[]): Promise<string> {
    if (!ids.length) return "no key known to this instance";
    const rows = await this.deps.prisma.encryptionKey.findMany({ where: { id: { in: ids } } });
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids
      .map((id) => {
        const k = byId.get(id);
        return k
          ? `#${id} (${k.kind === "INSTANCE" ? "instance key" : `recovery key ${JSON.stringify(k.label)}`}, fingerprint ${k.fingerprint})`
          : `#${id} (deleted)`;
      })
      .join(", ");
  }
}
