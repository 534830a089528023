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
  /**
   * False on an `api` instance: `verifyBackup` queues the request on each artifact for an instance
   * that runs jobs (claimVerifications) and waits up to `queuedWaitMs` for its results.
   */
  claims?: boolean;
  queuedWaitMs?: number;
};

/** A queued verification's claim lasts this long unless renewed (every third of it while the artifact is read). */
export const VERIFY_CLAIM_TTL_MS = 120_000;
/** How long `verifyBackup` on an `api` instance waits for the result before answering with the request still queued. */
export const QUEUED_VERIFY_WAIT_MS = 60_000;
const VERIFIABLE = ["STORED", "CORRUPT", "MISSING"] as const;

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
  #stopPoll: (() => void) | null = null;
  #draining: Promise<number> | null = null;

  constructor(private readonly deps: VerificationDeps) {
    this.#log = deps.logger.child({ component: "verification" });
  }

  /**
   * Re-reads every stored (or CORRUPT / MISSING) artifact of a backup now. Operator role; audited.
   * On an instance that runs jobs the reads happen here; on an `api` instance they are queued for
   * one that does, and the answer comes when their results are in (or after `queuedWaitMs`, with
   * `verifyRequestedAt` still set on the artifacts not read yet).
   */
  async verifyBackup(principal: Principal, id: number): Promise<BackupWithArtifacts> {
    requireRole(principal, "OPERATOR");
    const { prisma } = this.deps;
    const backup = await prisma.backup.findUnique({ where: { id }, include: { artifacts: true } });
    if (!backup) throw new NotFoundError("backup", id);
    if (!backup.sha256) throw new ValidationError("id", `backup ${id} is ${backup.status} and has no checksum to verify`);
    const artifacts = backup.artifacts.filter((a) => (VERIFIABLE as readonly string[]).includes(a.status) && a.storageTargetId !== null);
    if (artifacts.length === 0) throw new ValidationError("id", `backup ${id} has no stored artifact to verify`);
    if (this.deps.claims === false) {
      const ids = artifacts.map((a) => a.id);
      await prisma.backupArtifact.updateMany({ where: { id: { in: ids }, verifyRequestedAt: null }, data: { verifyRequestedAt: this.deps.clock.now() } });
      await this.deps.audit.record(actorName(principal), "backup.verify", "backup", id, null, { queued: ids });
      await this.#waitForQueued(ids);
    } else {
      const results: Record<number, string> = {};
      for (const artifact of artifacts) results[artifact.id] = (await this.#verify(backup, artifact))?.result ?? "SKIPPED";
      await this.deps.audit.record(actorName(principal), "backup.verify", "backup", id, null, { artifacts: results });
    }
    return prisma.backup.findUniqueOrThrow({ where: { id }, include: { artifacts: true } });
  }

  /** Claims queued verifications every `pollMs` and reads them one at a time (an instance that runs jobs). */
  startClaiming(pollMs: number): void {
    if (this.deps.claims === false || this.#stopPoll) return;
    this.#stopping = false;
    const timer = setInterval(
      () =>
        void this.claimVerifications().catch((error: unknown) =>
          this.#log.warn({ err: error }, "could not claim a queued verification; the next poll retries"),
        ),
      pollMs,
    );
    timer.unref();
    this.#stopPoll = () => clearInterval(timer);
  }

  /**
   * Verifies every queued artifact this instance can claim, oldest request first: a conditional
   * update takes each (free, or its claimer's lease lapsed: that instance died), renewed while it is
   * read; the result is recorded as any verification's and the request cleared. Resolves with how
   * many it verified; a drain under way is shared.
   */
  claimVerifications(): Promise<number> {
    this.#draining ??= this.#drain().finally(() => (this.#draining = null));
    return this.#draining;
  }

  async #drain(): Promise<number> {
    const { prisma, instanceId } = this.deps;
    let done = 0;
    while (!this.#stopping) {
      const now = new Date();
      const queued = await prisma.backupArtifact.findMany({
        where: { verifyRequestedAt: { not: null }, OR: [{ verifyClaimedBy: null }, { verifyClaimExpiresAt: { lt: now } }] },
        orderBy: [{ verifyRequestedAt: "asc" }, { id: "asc" }],
        take: 20,
        select: { id: true },
      });
      let progress = false;
      for (const { id } of queued) {
        if (this.#stopping) break;
        const claimed = await prisma.backupArtifact.updateMany({
          where: { id, verifyRequestedAt: { not: null }, OR: [{ verifyClaimedBy: null }, { verifyClaimExpiresAt: { lt: new Date() } }] },
          data: { verifyClaimedBy: instanceId, verifyClaimExpiresAt: new Date(Date.now() + VERIFY_CLAIM_TTL_MS) },
        });
        if (claimed.count !== 1) continue;
        progress = true;
        const startedAt = new Date();
        const renew = setInterval(() => {
          void prisma.backupArtifact
            .updateMany({ where: { id, verifyClaimedBy: instanceId }, data: { verifyClaimExpiresAt: new Date(Date.now() + VERIFY_CLAIM_TTL_MS) } })
            .catch(() => {});
        }, VERIFY_CLAIM_TTL_MS / 3);
        renew.unref();
        try {
          const artifact = await prisma.backupArtifact.findUnique({ where: { id }, include: { backup: true } });
          // Gone, never checksummed, or no longer stored (deleted since the request): nothing to read.
          if (artifact?.backup.sha256 && (VERIFIABLE as readonly string[]).includes(artifact.status) && (await this.#verify(artifact.backup, artifact))) done++;
        } finally {
          clearInterval(renew);
          // A request made while this read ran stays queued for another read.
          await prisma.backupArtifact.updateMany({ where: { id, verifyRequestedAt: { lte: startedAt } }, data: { verifyRequestedAt: null } });
          await prisma.backupArtifact.updateMany({ where: { id, verifyClaimedBy: instanceId }, data: { verifyClaimedBy: null, verifyClaimExpiresAt: null } });
        }
      }
      if (!progress) break;
    }
    return done;
  }

  /** Until none of `ids` waits for a worker, or `queuedWaitMs` passed. */
  async #waitForQueued(ids: number[]): Promise<void> {
    const deadline = Date.now() + (this.deps.queuedWaitMs ?? QUEUED_VERIFY_WAIT_MS);
    while (Date.now() < deadline) {
      if ((await this.deps.prisma.backupArtifact.count({ where: { id: { in: ids }, verifyRequestedAt: { not: null } } })) === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
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
    this.#stopPoll?.();
    this.#stopPoll = null;
    await Promise.all([this.#pass?.catch(() => {}), this.#draining?.catch(() => {})]);
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
