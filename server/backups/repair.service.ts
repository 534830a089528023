import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import type { PrismaClient } from "../db/client.ts";
import type { StorageTarget } from "../db/generated/client.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { withArtifactPin } from "../retention/artifact-pins.ts";
import { copyArtifact } from "../runner/copy-artifact.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { copyInclude, copyProblems } from "./copy-health.ts";

export type RepairDeps = {
  prisma: PrismaClient;
  storeFor: (target: StorageTarget) => ArtifactStore;
  audit: AuditLog;
  logger: Logger;
  instanceId: string;
};

/** What one repair did: the targets that got their copy, and the ones that still lack it (and why). */
export type RepairResult = { backupId: number; status: string; repaired: string[]; failed: Array<{ target: string; error: string }> };

/** The actor the sweeper's automatic repairs are audited as. */
export const AUTO_REPAIR_ACTOR = "system:auto-repair";

/**
 * Repairs backups that lack a copy on a target: copies a stored copy (read back and checked against
 * the backup's SHA-256 while it streams, so a damaged source is never spread) to every target the
 * backup should be on without an intact copy (copy-health.ts), updates those copies, and makes a
 * PARTIAL backup SUCCEEDED once nothing is missing. The source copy is pinned while read, so
 * retention cannot delete it meanwhile.
 */
export class RepairService {
  readonly #log: Logger;

  constructor(private readonly deps: RepairDeps) {
    this.#log = deps.logger.child({ component: "repair" });
  }

  /** repairBackup(id): operator role; audited. Throws NotFoundError, or ConflictError when there is nothing to copy from. */
  async repair(principal: Principal, backupId: number): Promise<RepairResult> {
    requireRole(principal, "OPERATOR");
    return this.run(actorName(principal), backupId);
  }

  /** The repair itself, for `actor` (the API's user, or the sweeper). */
  async run(actor: string, backupId: number): Promise<RepairResult> {
    const { prisma } = this.deps;
    const backup = await prisma.backup.findUnique({ where: { id: backupId }, include: copyInclude });
    if (!backup) throw new NotFoundError("backup", backupId);
    if (backup.status !== "SUCCEEDED" && backup.status !== "PARTIAL")
      throw new ConflictError("id", `backup ${backupId} is ${backup.status}: only a SUCCEEDED or PARTIAL backup can be repaired`);
    const problems = copyProblems(backup);
    if (problems.length === 0) return { backupId, status: backup.status, repaired: [], failed: [] };
    const sources = backup.artifacts.filter((a) => a.status === "STORED" && a.storageTargetId !== null);
    if (!backup.sha256 || sources.length === 0)
      throw new ConflictError("id", `backup ${backupId} has no stored copy to repair from: every copy is missing or damaged`);
    const targets = await prisma.storageTarget.findMany({
      where: { id: { in: [...new Set([...problems.map((p) => p.storageTargetId), ...sources.map((s) => s.storageTargetId!)])] } },
    });
    const targetOf = (id: number) => targets.find((t) => t.id === id);
    const repaired: string[] = [];
    const failed: RepairResult["failed"] = [];
    for (const problem of problems) {
      const target = targetOf(problem.storageTargetId);
      if (!target?.enabled) {
        failed.push({ target: problem.target, error: "the storage target is disabled" });
        continue;
      }
      const error = await this.#copyTo(backup.id, backup.sha256, sources, target, targetOf);
      if (error) failed.push({ target: target.name, error });
      else repaired.push(target.name);
    }
    const after = await prisma.backup.findUniqueOrThrow({ where: { id: backupId }, include: copyInclude });
    const complete = copyProblems(after).length === 0;
    let status: string = after.status;
    if (complete && after.status === "PARTIAL") {
      // SUCCEEDED with no error text: a DELETED backup later reads as the success it became (outcome.ts).
      const { count } = await prisma.backup.updateMany({ where: { id: backupId, status: "PARTIAL" }, data: { status: "SUCCEEDED", error: null } });
      if (count) status = "SUCCEEDED";
    }
    const result = { backupId, status, repaired, failed };
    await this.deps.audit.record(actor, "backup.repair", "backup", backupId, { status: backup.status }, result);
    this.#log.info({ actor, ...result }, "backup repaired");
    return result;
  }

  /** Copies the artifact from the first source that reads back intact; returns the last error, or null when stored. */
  async #copyTo(
    backupId: number,
    sha256: string,
    sources: Array<{ id: number; key: string; storageTargetId: number | null; sha256?: string | null }>,
    target: StorageTarget,
    targetOf: (id: number) => StorageTarget | undefined,
  ): Promise<string | null> {
    const { prisma, storeFor, instanceId } = this.deps;
    let lastError = "no source copy could be read";
    for (const source of sources) {
      const from = targetOf(source.storageTargetId!);
      if (!from || from.id === target.id) continue;
      try {
        const { bytes } = await withArtifactPin(prisma, source.id, { kind: "VERIFICATION", id: source.id }, { instanceId }, () =>
          // A rewrapped encrypted copy has its own SHA-256 (its own age header); the copy takes it over.
          copyArtifact(storeFor(from), storeFor(target), source.key, source.sha256 ?? sha256),
        );
        const now = new Date();
        const data = {
          key: source.key,
          sha256: source.sha256 ?? null,
          status: "STORED" as const,
          sizeBytes: BigInt(bytes),
          storedAt: now,
          error: null,
          deletedAt: null,
          verifiedAt: now,
          verifyResult: "OK" as const,
          verifyDetail: `repaired: copied from ${from.name}, SHA-256 checked`,
        };
        const repaired = await prisma.backupArtifact.upsert({
          where: { backupId_storageTargetId: { backupId, storageTargetId: target.id } },
          create: { backupId, storageTargetId: target.id, ...data },
          update: data,
        });
        // An encrypted copy opens with the same keys as the one it was copied from.
        const keys = await prisma.artifactEncryptionKey.findMany({ where: { artifactId: source.id }, select: { keyId: true } });
        if (keys.length)
          await prisma.artifactEncryptionKey.createMany({ data: keys.map((k) => ({ artifactId: repaired.id, keyId: k.keyId })), skipDuplicates: true });
        return null;
      } catch (error) {
        lastError = `from ${from.name}: ${(error as Error).message}`;
        this.#log.warn({ backupId, source: from.name, target: target.name, err: error }, "repair copy failed");
      }
    }
    await prisma.backupArtifact.updateMany({
      where: { backupId, storageTargetId: target.id, status: "FAILED" },
      data: { error: `repair failed ${lastError}` },
    });
    return lastError;
  }
}
