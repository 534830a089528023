import type { PrismaClient } from "../db/client.ts";
import type { ArtifactPinOwner } from "../db/generated/enums.ts";

/** Who reads an artifact: a restore, a drill (their ids) or a verification (the artifact's id). */
export type PinOwner = { kind: ArtifactPinOwner; id: number };

/** A live pin as retention and deleteBackup report it. */
export type PinInfo = { artifactId: number; ownerKind: ArtifactPinOwner; ownerId: number; instanceId: string; expiresAt: Date };

/** A held pin: renewed in the background until `release`. */
export type PinHandle = { id: number; artifactId: number; release(): Promise<void> };

/** How long a pin lasts without renewal: a holder that died frees its artifacts after this. */
export const PIN_TTL_MS = 120_000;
/** A deletion claim older than this is taken to belong to a sweep that died: readers may pin again. */
export const CLAIM_TTL_MS = 600_000;

/** The artifact cannot be pinned: it is gone, not readable, or retention is deleting it. */
export class PinRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PinRefusedError";
  }
}

/** A deletion met a live pin: the artifact is kept until its readers are done. */
export class ArtifactPinnedError extends Error {
  constructor(readonly pins: PinInfo[]) {
    super(`artifact ${pins[0]?.artifactId} is being read by ${describePins(pins)}`);
    this.name = "ArtifactPinnedError";
  }
}

/** "restore 12, verification of artifact 3": who holds the pins, for messages and sweep reports. */
export function describePins(pins: PinInfo[]): string {
  const names = pins.map((p) => (p.ownerKind === "VERIFICATION" ? `a verification` : `${p.ownerKind.toLowerCase()} ${p.ownerId}`));
  return [...new Set(names)].join(", ");
}

// MISSING too: verification re-reads an artifact reported missing (it may have been put back).
const READABLE = ["STORED", "CORRUPT", "MISSING"];

/**
 * Pins an artifact before its first read: under the artifact's row lock, so it serializes with
 * `claimForDeletion` (either the pin is seen by the deletion, or the claim refuses the pin). The
 * pin is renewed every third of `ttlMs` until released; one whose holder died expires. Throws
 * PinRefusedError when the artifact is gone, not STORED/CORRUPT/MISSING, or claimed for deletion.
 */
export async function pinArtifact(
  prisma: PrismaClient,
  artifactId: number,
  owner: PinOwner,
  options: { instanceId: string; ttlMs?: number },
): Promise<PinHandle> {
  const ttlMs = options.ttlMs ?? PIN_TTL_MS;
  const pin = await prisma.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT id FROM BackupArtifact WHERE id = ${artifactId} FOR UPDATE`;
    // A consistent read after the lock was granted: it sees every claim committed before it.
    const artifact = await tx.backupArtifact.findUnique({ where: { id: artifactId }, select: { status: true, deletingAt: true } });
    if (!artifact) throw new PinRefusedError(`artifact ${artifactId} no longer exists`);
    if (!READABLE.includes(artifact.status)) throw new PinRefusedError(`artifact ${artifactId} is ${artifact.status}: there is nothing to read`);
    const now = Date.now();
    if (artifact.deletingAt && artifact.deletingAt.getTime() > now - CLAIM_TTL_MS)
      throw new PinRefusedError(`artifact ${artifactId} is being deleted by retention (or deleteBackup)`);
    return tx.artifactPin.create({
      data: { artifactId, ownerKind: owner.kind, ownerId: owner.id, instanceId: options.instanceId, expiresAt: new Date(now + ttlMs) },
    });
  });
  let released = false;
  const renew = setInterval(
    () => {
      void prisma.artifactPin.updateMany({ where: { id: pin.id }, data: { expiresAt: new Date(Date.now() + ttlMs) } }).catch(() => {
        // The next renewal tries again; a pin that lapses lets retention delete, never corrupts.
      });
    },
    Math.max(1, Math.floor(ttlMs / 3)),
  );
  renew.unref();
  return {
    id: pin.id,
    artifactId,
    async release() {
      if (released) return;
      released = true;
      clearInterval(renew);
      await prisma.artifactPin.deleteMany({ where: { id: pin.id } });
    },
  };
}

/** Runs `read` with the artifact pinned, and releases the pin after it however it ends. */
export async function withArtifactPin<T>(
  prisma: PrismaClient,
  artifactId: number,
  owner: PinOwner,
  options: { instanceId: string; ttlMs?: number },
  read: () => Promise<T>,
): Promise<T> {
  const pin = await pinArtifact(prisma, artifactId, owner, options);
  try {
    return await read();
  } finally {
    await pin.release().catch(() => {
      // It expires on its own.
    });
  }
}

/** The live (unexpired) pins on these artifacts. */
export async function livePins(prisma: Pick<PrismaClient, "artifactPin">, artifactIds: number[], now = new Date()): Promise<PinInfo[]> {
  if (artifactIds.length === 0) return [];
  return prisma.artifactPin.findMany({
    where: { artifactId: { in: artifactIds }, expiresAt: { gt: now } },
    select: { artifactId: true, ownerKind: true, ownerId: true, instanceId: true, expiresAt: true },
    orderBy: { id: "asc" },
  });
}

/**
 * Claims an artifact for deletion before its objects are removed: under the artifact's row lock,
 * refuses when a live pin holds it (ArtifactPinnedError), else stamps `deletingAt` so no new pin
 * is granted. Expired pins are removed on the way. Resolves false when the artifact is gone.
 */
export async function claimForDeletion(prisma: PrismaClient, artifactId: number): Promise<boolean> {
  return prisma.$transaction(async (tx) => {
    const locked = await tx.$queryRaw<unknown[]>`SELECT id FROM BackupArtifact WHERE id = ${artifactId} FOR UPDATE`;
    if (locked.length === 0) return false;
    const now = new Date();
    const pins = await livePins(tx, [artifactId], now);
    if (pins.length) throw new ArtifactPinnedError(pins);
    await tx.artifactPin.deleteMany({ where: { artifactId, expiresAt: { lte: now } } });
    await tx.backupArtifact.update({ where: { id: artifactId }, data: { deletingAt: now } });
    return true;
  });
}

/** Gives a claimed artifact back to readers after its deletion failed (it is retried next sweep). */
export async function releaseClaim(prisma: PrismaClient, artifactId: number): Promise<void> {
  await prisma.backupArtifact.updateMany({ where: { id: artifactId, status: { not: "DELETED" } }, data: { deletingAt: null } });
}
