import type { AuditLog } from "../audit/audit-log.ts";
import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import type { BackupWithArtifacts } from "../db/backups.repository.ts";
import type { PrismaClient } from "../db/client.ts";
import type { Backup, BackupArtifact, StorageTarget } from "../db/generated/client.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { PinRefusedError, withArtifactPin } from "../retention/artifact-pins.ts";
import type { Clock } from "../scheduler/clock.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import type { RestoreEvents } from "./events.ts";
import { checkArtifact, recordCheck, verificationStatuses, type ArtifactCheck, type VerificationStatus } from "./verification.ts";

/** What verification needs. */
export type VerificationDeps = {
  prisma: PrismaClient;
  storeFor: (target: StorageTarget) => ArtifactStore;
  audit: AuditLog;
  events: RestoreEvents;
  logger: Logger;
  clock: Clock;
  /** The periodic job re-reads each stored artifact about this often; 0 turns it off. */
  intervalMs: number;
  /** Pins each artifact while it is read. */
  instanceId: string;
};

/** What one periodic pass did. */
export type VerificationPass = {
  checked: number;
  ok: number;
  problems: Array<{ artifactId: number; backupId: number; result: string; detail: string | null }>;
};

/**
 * Checksum verification: `verifyBackup` on demand, and a periodic pass that re-reads every STORED
 * artifact not verified within the interval, one at a time, oldest verification first. Each
 * result is stored on the artifact and announced as a VERIFIED event.
 */
export class VerificationService {
  readonly #log: Logger;
  #stopTimer: (() => void) | null = null;
  #pass: Promise<VerificationPass> | null = null;
  #stopping = false;

  constructor(private readonly deps: VerificationDeps) {
    this.#log = deps.logger.child({ component: "verification" });
  }

  /** Re-reads every stored (or CORRUPT / MISSING) artifact of a backup now. Operator role; audited. */
  async verifyBackup(principal: Principal, id: number): Promise<BackupWithArtifacts> {
    requireRole(principal, "OPERATOR");
    const { prisma } = this.deps;
    const backup = await prisma.backup.findUnique({ where: { id }, include: { artifacts: true } });
    if (!backup) throw new NotFoundError("backup", id);
    if (!backup.sha256) throw new ValidationError("id", `backup ${id} is ${backup.status} and has no checksum to verify`);
    const artifacts = backup.artifacts.filter((a) => ["STORED", "CORRUPT", "MISSING"].includes(a.status) && a.storageTargetId !== null);
    if (artifacts.length === 0) throw new ValidationError("id", `backup ${id} has no stored artifact to verify`);
    const results: Record<number, string> = {};
    for (const artifact of artifacts) results[artifact.id] = (await this.#verify(backup, artifact))?.result ?? "SKIPPED";
    await this.deps.audit.record(actorName(principal), "backup.verify", "backup", id, null, { artifacts: results });
    return prisma.backup.findUniqueOrThrow({ where: { id }, include: { artifacts: true } });
  }

  /** One periodic pass (also callable directly; with the job off, it checks only never-verified artifacts); a pass under way is shared. */
  runPass(): Promise<VerificationPass> {
    this.#pass ??= this.#runPass().finally(() => (this.#pass = null));
    return this.#pass;
  }

  /** Starts the periodic job (nothing when the interval is 0). */
  start(): void {
    if (this.deps.intervalMs <= 0 || this.#stopTimer) return;
    this.#stopping = false;
    this.#stopTimer = this.deps.clock.every(this.deps.intervalMs, () => {
      void this.runPass().catch((error: unknown) => this.#log.error({ err: error }, "verification pass failed"));
    });
  }

  /** Stops the job; a pass under way ends after its current artifact. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#stopTimer?.();
    this.#stopTimer = null;
    await this.#pass?.catch(() => {});
  }

  /** The latest verification per server, database and target (for the metrics module). */
  statuses(): Promise<VerificationStatus[]> {
    return verificationStatuses(this.deps.prisma);
  }

  async #runPass(): Promise<VerificationPass> {
    const { prisma, clock, intervalMs } = this.deps;
    // Due: never verified, or last verified a period ago (a little slack, so each tick finds those of the previous one).
    const cutoff = new Date(clock.now().getTime() - intervalMs + Math.min(60_000, intervalMs / 10));
    const due = {
      status: "STORED" as const,
      storageTargetId: { not: null },
      OR: intervalMs > 0 ? [{ verifiedAt: null }, { verifiedAt: { lt: cutoff } }] : [{ verifiedAt: null }],
    };
    const candidates = await prisma.backupArtifact.findMany({
      where: due,
      orderBy: [{ verifiedAt: { sort: "asc", nulls: "first" } }, { id: "asc" }],
      select: { id: true },
    });
    const pass: VerificationPass = { checked: 0, ok: 0, problems: [] };
    for (const { id } of candidates) {
      if (this.#stopping) break;
      // Claimed by a conditional update, so two instances never read the same artifact in one period.
      const claimed = await prisma.backupArtifact.updateMany({ where: { id, ...due }, data: { verifiedAt: clock.now() } });
      if (claimed.count !== 1) continue;
      const artifact = await prisma.backupArtifact.findUnique({ where: { id }, include: { backup: true } });
      if (!artifact?.backup.sha256) continue;
      const check = await this.#verify(artifact.backup, artifact);
      if (!check) continue;
      pass.checked++;
      if (check.result === "OK") pass.ok++;
      else pass.problems.push({ artifactId: id, backupId: artifact.backupId, result: check.result, detail: check.detail });
    }
    if (pass.problems.length) this.#log.warn({ checked: pass.checked, problems: pass.problems.length }, "verification found problems");
    else if (pass.checked) this.#log.info({ checked: pass.checked }, "verification pass finished");
    return pass;
  }

  async #verify(backup: Backup, artifact: BackupArtifact): Promise<ArtifactCheck | null> {
    const { prisma, events, clock } = this.deps;
    const target = artifact.storageTargetId === null ? null : await prisma.storageTarget.findUnique({ where: { id: artifact.storageTargetId } });
    if (!target) return null;
    let check: ArtifactCheck;
    try {
      // Pinned while read: retention deleting it meanwhile would be reported as MISSING.
      check = await withArtifactPin(prisma, artifact.id, { kind: "VERIFICATION", id: artifact.id }, { instanceId: this.deps.instanceId }, () =>
        checkArtifact(
          this.deps.storeFor(target),
          artifact.key,
          // A rewrapped copy (new age header) has its own SHA-256.
          artifact.sha256 ?? backup.sha256!,
          artifact.sizeBytes === null ? null : Number(artifact.sizeBytes),
          artifact.rewrapSha256,
        ),
      );
    } catch (error) {
      // Retention is deleting it (or did): there is nothing to verify.
      if (error instanceof PinRefusedError) return null;
      check = { result: "UNREADABLE", detail: (error as Error).message, bytes: null };
    }
    const at = clock.now();
    if (!(await recordCheck(prisma, artifact.id, check, at))) return null;
    if (check.result !== "OK")
      this.#log.warn(
        { backupId: backup.id, artifactId: artifact.id, target: target.name, result: check.result, detail: check.detail },
        "artifact verification failed",
      );
    events.emit({
      type: "VERIFIED",
      artifactId: artifact.id,
      backupId: backup.id,
      storageTargetId: target.id,
      storageTargetName: target.name,
      serverName: backup.serverName,
      database: backup.database,
      result: check.result,
      at,
    });
    return check;
  }
}
