import type { PrismaClient } from "../db/client.ts";
import type { Prisma } from "../db/generated/client.ts";
import type { Manifest } from "../runner/manifest.ts";
import { parseTableStats } from "../runner/table-stats.ts";
import { isEncryptedKey } from "../encryption/artifact-decryption.ts";
import { compressionOf } from "./cli-inputs.ts";
import type { FoundArtifact } from "./scan-storage.ts";

/** One copy of a backup found on a target whose row id is known (null in a dry run that would create it). */
export type FoundCopy = FoundArtifact & { targetLabel: string; storageTargetId: number | null };

/** What happened (or, in a dry run, would happen) to one backup. */
export type BackupOutcome = {
  backupId: number;
  serverName: string;
  database: string;
  action: "create" | "merge" | "unchanged" | "conflict";
  /** An age-encrypted backup (recorded with encryption AGE). */
  encrypted: boolean;
  copies: Array<{ target: string; key: string; bytes: number; status: "STORED" | "CORRUPT"; added: boolean; problem: string | null }>;
  problem: string | null;
};

const TRIGGERS = new Set(["SCHEDULED", "MANUAL", "CATCH_UP"]);

/**
 * Rebuilds the records of one backup from the copies found of it: a Backup row with its original
 * id (so artifact keys `…_<id>` still match) and one BackupArtifact per copy, STORED, or CORRUPT
 * when the copy's size or checksum disagrees with its manifest. With an existing row of that id,
 * adds only the missing copies when it is the same backup (same database and SHA-256), and reports
 * a conflict otherwise. Copies disagreeing on the SHA-256 are a conflict too, except encrypted
 * ones (`.age`): a rewrap gives each copy its own age header, so its own SHA-256, recorded on the
 * copy. An encrypted backup is recorded as such (encryption AGE), with the keys its manifest names
 * linked where this metadata database knows them (by their `age1…` recipient). Writes nothing when `dryRun`.
 */
export async function rebuildBackup(prisma: PrismaClient | null, copies: FoundCopy[], dryRun: boolean): Promise<BackupOutcome> {
  const m = copies[0]!.manifest;
  const outcome: BackupOutcome = {
    backupId: m.backupId,
    serverName: m.server.name,
    database: m.database,
    action: "create",
    encrypted: isEncryptedManifest(m),
    copies: [],
    problem: null,
  };
  const view = (c: FoundCopy, added: boolean) => ({
    target: c.targetLabel,
    key: c.key,
    bytes: c.bytes,
    status: c.problem ? ("CORRUPT" as const) : ("STORED" as const),
    added,
    problem: c.problem,
  });
  const { encrypted } = outcome;
  if (copies.some((c) => (!encrypted && c.manifest.artifact.sha256 !== m.artifact.sha256) || c.manifest.database !== m.database)) {
    return {
      ...outcome,
      action: "conflict",
      copies: copies.map((c) => view(c, false)),
      problem: `the manifests of backup ${m.backupId} disagree on its database or SHA-256`,
    };
  }
  const existing = prisma ? await prisma.backup.findUnique({ where: { id: m.backupId }, include: { artifacts: true } }) : null;
  const sameBackup = (e: NonNullable<typeof existing>) =>
    e.database === m.database &&
    (encrypted ? e.encryption === "AGE" || copies.some((c) => c.manifest.artifact.sha256 === e.sha256) : e.sha256 === m.artifact.sha256);
  if (existing && !sameBackup(existing)) {
    return {
      ...outcome,
      action: "conflict",
      copies: copies.map((c) => view(c, false)),
      problem: `backup ${m.backupId} already exists as another backup (${existing.serverName}/${existing.database})`,
    };
  }
  const missing = copies.filter((c) => !existing?.artifacts.some((a) => c.storageTargetId !== null && a.storageTargetId === c.storageTargetId));
  outcome.action = existing ? (missing.length ? "merge" : "unchanged") : "create";
  outcome.copies = copies.map((c) => view(c, missing.includes(c)));
  if (dryRun || !prisma || !missing.length) return outcome;
  await prisma.$transaction(async (tx) => {
    if (!existing) await tx.backup.create({ data: await backupRow(tx as unknown as PrismaClient, m) });
    const backupSha256 = existing?.sha256 ?? m.artifact.sha256;
    for (const c of missing) {
      const artifact = await tx.backupArtifact.create({
        data: {
          backupId: m.backupId,
          storageTargetId: c.storageTargetId,
          key: c.key,
          status: c.problem ? "CORRUPT" : "STORED",
          sizeBytes: BigInt(c.bytes),
          storedAt: new Date(m.finishedAt),
          error: c.problem,
          // A rewrapped copy: its own SHA-256 (the backup keeps the first one's).
          sha256: encrypted && c.manifest.artifact.sha256 !== backupSha256 ? c.manifest.artifact.sha256 : null,
        },
      });
      if (encrypted) {
        const recipients = manifestRecipients(c.manifest);
        const keys = recipients.length ? await tx.encryptionKey.findMany({ where: { recipient: { in: recipients } }, select: { id: true } }) : [];
        if (keys.length) await tx.artifactEncryptionKey.createMany({ data: keys.map((k) => ({ artifactId: artifact.id, keyId: k.id })) });
      }
    }
  });
  return outcome;
}

/** The Backup row a manifest describes; server and schedule linked by name when they exist. */
async function backupRow(prisma: PrismaClient, m: Manifest): Promise<Prisma.BackupUncheckedCreateInput> {
  const server = await prisma.server.findUnique({ where: { name: m.server.name }, select: { id: true } });
  const schedule = m.schedule ? await prisma.schedule.findUnique({ where: { name: m.schedule }, select: { id: true } }) : null;
  const startedAt = new Date(m.startedAt);
  const finishedAt = new Date(m.finishedAt);
  const tableStats = parseTableStats((m as Manifest & { tableStats?: unknown }).tableStats);
  return {
    id: m.backupId,
    serverId: server?.id ?? null,
    serverName: m.server.name,
    engine: m.server.engine as Prisma.BackupUncheckedCreateInput["engine"],
    database: m.database,
    scheduleId: schedule?.id ?? null,
    scheduleName: m.schedule,
    trigger: (TRIGGERS.has(m.trigger) ? m.trigger : "MANUAL") as Prisma.BackupUncheckedCreateInput["trigger"],
    status: "SUCCEEDED",
    createdAt: startedAt,
    startedAt,
    finishedAt,
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    rawBytes: BigInt(m.artifact.rawBytes),
    storedBytes: BigInt(m.artifact.storedBytes),
    compression: compressionOf(m),
    encryption: isEncryptedManifest(m) ? "AGE" : "NONE",
    sha256: m.artifact.sha256,
    serverVersion: m.server.version || null,
    tool: m.dump.tool || null,
    position: m.position ?? undefined,
    tableStats: tableStats ?? undefined,
    instanceId: "recover-metadata",
  };
}

/** An encrypted artifact's manifest: an `encryption` entry, or a key ending in `.age`. */
export function isEncryptedManifest(m: Manifest): boolean {
  return Boolean((m as { encryption?: unknown }).encryption) || isEncryptedKey(m.artifact.key);
}

/** The `age1…` recipients an encrypted artifact's manifest names. */
function manifestRecipients(m: Manifest): string[] {
  const recipients = (m as { encryption?: { recipients?: Array<{ recipient?: unknown }> } }).encryption?.recipients;
  return Array.isArray(recipients) ? recipients.map((r) => r?.recipient).filter((r): r is string => typeof r === "string") : [];
}
