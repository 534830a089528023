import type { AuditLog } from "../audit/audit-log.ts";
import type { PrismaClient } from "../db/client.ts";
import { type BackupArtifact, type EncryptionRewrap, Prisma, type StorageTarget } from "../db/generated/client.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { pinArtifact, PinRefusedError } from "../retention/artifact-pins.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { describeArtifactKeys, heldIdentities, noIdentityMessage } from "./artifact-decryption.ts";
import type { EncryptionKeys, RecipientKey } from "./keys.service.ts";
import { checkRewrapped, objectSha256, replaceWithRewrapped, rewrapTempKey, rewriteManifest, writeRewrapped } from "./rewrap-artifact.ts";

/** What the rewrap job needs. */
export type RewrapDeps = {
  prisma: PrismaClient;
  secrets: SecretBox;
  keys: Pick<EncryptionKeys, "currentRecipients">;
  storeFor: (target: StorageTarget) => ArtifactStore;
  audit: AuditLog;
  logger: Logger;
  instanceId: string;
  /** How often a running job renews its heartbeat; one not renewed for 3 × this is resumable elsewhere. */
  heartbeatMs: number;
};

type Candidate = BackupArtifact & { backup: { sha256: string | null }; storageTarget: StorageTarget | null; encryptionKeys: Array<{ keyId: number }> };

/**
 * `rewrapBackups`: rewrites the age header of every stored encrypted artifact to the current keys
 * (the instance key and the recovery recipients not retired), on every storage target. Only the
 * header changes: the file key is unwrapped with the instance's identity and wrapped again; the
 * payload bytes are copied unchanged. Per artifact: copy with the new header to `<key>.rewrap`
 * (the old bytes' SHA-256 checked on the way), read it back and check it, record its SHA-256
 * (rewrapSha256), replace the artifact from the copy, rewrite the manifest, then record the new
 * SHA-256 and keys and remove the copy. At every moment the artifact's key holds either the old
 * object or the checked new one. The job (EncryptionRewrap) counts done/failed and renews a
 * heartbeat; an interrupted one is resumed by the next `start`, and artifacts already rewrapped to
 * these keys are skipped. Audited at start and end.
 */
export class EncryptionRewraps {
  readonly #log: Logger;
  readonly #running = new Map<number, { controller: AbortController; task: Promise<void> }>();

  constructor(private readonly deps: RewrapDeps) {
    this.#log = deps.logger.child({ component: "rewrap" });
  }

  /**
   * Starts a rewrap in the background, or resumes the interrupted one (its counts start again and
   * what it finished is skipped). ConflictError while one runs (here or on a live instance).
   */
  async start(actor: string): Promise<EncryptionRewrap> {
    const { prisma, instanceId } = this.deps;
    const keys = await this.deps.keys.currentRecipients();
    const keyIds = keys.map((k) => k.id);
    const stale = new Date(Date.now() - 3 * this.deps.heartbeatMs);
    const running = await prisma.encryptionRewrap.findFirst({ where: { status: "RUNNING" }, orderBy: { id: "desc" } });
    if (running && (this.#running.has(running.id) || running.heartbeatAt > stale))
      throw new ConflictError("rewrapBackups", `rewrap ${running.id} is still running (${running.done} of ${running.total} artifacts)`);
    let job: EncryptionRewrap;
    if (running) {
      // Taken over conditionally: two instances resuming at once, one wins.
      const { count } = await prisma.encryptionRewrap.updateMany({
        where: { id: running.id, status: "RUNNING", heartbeatAt: running.heartbeatAt },
        data: { instanceId, heartbeatAt: new Date(), keyIds, done: 0, failed: 0, error: null },
      });
      if (count !== 1) throw new ConflictError("rewrapBackups", `rewrap ${running.id} was resumed by another instance`);
      job = await prisma.encryptionRewrap.findUniqueOrThrow({ where: { id: running.id } });
      await this.deps.audit.record(actor, "encryption.rewrap.resume", "EncryptionRewrap", job.id, null, { keyIds });
    } else {
      job = await prisma.encryptionRewrap.create({ data: { requestedBy: actor, keyIds, instanceId } });
      await this.deps.audit.record(actor, "encryption.rewrap.start", "EncryptionRewrap", job.id, null, { keyIds });
    }
    const controller = new AbortController();
    const task = this.#run(job.id, keys, controller.signal)
      .catch((error: unknown) => this.#log.error({ err: error, rewrapId: job.id }, "rewrap crashed"))
      .finally(() => this.#running.delete(job.id));
    this.#running.set(job.id, { controller, task });
    return job;
  }

  /** One job, or NotFoundError. */
  async get(id: number): Promise<EncryptionRewrap> {
    const job = await this.deps.prisma.encryptionRewrap.findUnique({ where: { id } });
    if (!job) throw new NotFoundError("encryption rewrap", id);
    return job;
  }

  /** A page of jobs, newest first by id; `after` is the last id of the previous page. A ValidationError naming `first` past 100. */
  async list(page: { first: number; after?: number | null }): Promise<{ nodes: EncryptionRewrap[]; hasNextPage: boolean }> {
    if (!Number.isInteger(page.first) || page.first < 1 || page.first > 100) throw new ValidationError("first", "must be between 1 and 100");
    const rows = await this.deps.prisma.encryptionRewrap.findMany({
      where: page.after ? { id: { lt: page.after } } : {},
      orderBy: { id: "desc" },
      take: page.first + 1,
    });
    return { nodes: rows.slice(0, page.first), hasNextPage: rows.length > page.first };
  }

  /** How many jobs there are (a connection's totalCount). */
  count(): Promise<number> {
    return this.deps.prisma.encryptionRewrap.count();
  }

  /** Waits for the jobs running here (tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.#running.values()].map((r) => r.task));
  }

  /** Stops the jobs running here after their current step; they stay RUNNING, to be resumed. */
  async stop(): Promise<void> {
    for (const r of this.#running.values()) r.controller.abort(new Error("the rewrap was stopped"));
    await this.idle();
  }

  async #run(id: number, keys: RecipientKey[], signal: AbortSignal): Promise<void> {
    const { prisma, instanceId } = this.deps;
    const heartbeat = setInterval(() => {
      void prisma.encryptionRewrap.updateMany({ where: { id, status: "RUNNING", instanceId }, data: { heartbeatAt: new Date() } }).catch(() => {});
    }, this.deps.heartbeatMs);
    heartbeat.unref();
    const errors: string[] = [];
    try {
      const candidates = await this.#candidates();
      await prisma.encryptionRewrap.update({ where: { id }, data: { total: candidates.length } });
      const identities = (await heldIdentities(prisma, this.deps.secrets)).map((h) => h.identity);
      const wanted = keys.map((k) => k.id).sort((a, b) => a - b);
      for (const artifact of candidates) {
        if (signal.aborted) return;
        let outcome: "done" | "failed" = "done";
        try {
          await this.#rewrapOne(id, artifact, keys, wanted, identities, signal);
        } catch (error) {
          if (signal.aborted) return;
          outcome = "failed";
          const message = `artifact ${artifact.id} (${artifact.key}): ${(error as Error).message}`;
          errors.push(message);
          this.#log.warn({ rewrapId: id, artifactId: artifact.id, err: (error as Error).message }, "artifact not rewrapped");
        }
        await prisma.encryptionRewrap.update({
          where: { id },
          data: { [outcome]: { increment: 1 }, heartbeatAt: new Date(), error: errors.length ? errors.join("\n").slice(0, 60_000) : null },
        });
      }
      const job = await prisma.encryptionRewrap.update({
        where: { id },
        data: { status: errors.length ? "FAILED" : "SUCCEEDED", finishedAt: new Date() },
      });
      await this.deps.audit.record("system", "encryption.rewrap.finish", "EncryptionRewrap", id, null, {
        status: job.status,
        total: job.total,
        done: job.done,
        failed: job.failed,
      });
      this.#log.info({ rewrapId: id, total: job.total, failed: job.failed }, "rewrap finished");
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Stored encrypted artifacts on existing targets, oldest first. */
  #candidates(): Promise<Candidate[]> {
    return this.deps.prisma.backupArtifact.findMany({
      where: {
        status: "STORED",
        storageTargetId: { not: null },
        deletingAt: null,
        OR: [{ backup: { encryption: "AGE" } }, { key: { endsWith: ".age" } }],
      },
      include: { backup: { select: { sha256: true } }, storageTarget: true, encryptionKeys: { select: { keyId: true } } },
      orderBy: { id: "asc" },
    });
  }

  async #rewrapOne(
    jobId: number,
    a: Candidate,
    keys: RecipientKey[],
    wanted: number[],
    identities: Parameters<typeof writeRewrapped>[2]["identities"],
    signal: AbortSignal,
  ): Promise<void> {
    const { prisma } = this.deps;
    const has = a.encryptionKeys.map((k) => k.keyId).sort((x, y) => x - y);
    // Already opened by exactly these keys, and no rewrap of it half done: nothing to do.
    if (!a.rewrapSha256 && JSON.stringify(has) === JSON.stringify(wanted)) return;
    const store = this.deps.storeFor(a.storageTarget!);
    const current = a.sha256 ?? a.backup.sha256;
    if (!current) throw new Error("the artifact has no recorded SHA-256");
    const pin = await pinArtifact(prisma, a.id, { kind: "REWRAP", id: jobId }, { instanceId: this.deps.instanceId }).catch((error: unknown) => {
      throw error instanceof PinRefusedError ? new Error(`skipped: ${error.message}`) : error;
    });
    try {
      if (a.rewrapSha256) {
        // An interrupted rewrap of this artifact: the object is either the old one or the new one.
        const now = await objectSha256(store, a.key);
        if (now === a.rewrapSha256)
          return await this.#finish(a, store, current, { sha256: a.rewrapSha256, bytes: 0 }, keys, a.rewrapKeyIds as number[] | null, signal);
        if (now !== current)
          throw new Error(`the object's SHA-256 is ${now ?? "(missing)"}: neither the recorded ${current} nor the rewrap's ${a.rewrapSha256}`);
      }
      const keysText = await describeArtifactKeys(prisma, a.id);
      const written = await writeRewrapped(store, a.key, { expectedSha256: current, keys, identities, noIdentity: () => noIdentityMessage(keysText), signal });
      await checkRewrapped(store, a.key, written, identities, keys);
      // Recorded before the object is replaced: a job interrupted from here on knows both checksums.
      await prisma.backupArtifact.update({ where: { id: a.id }, data: { rewrapSha256: written.sha256, rewrapKeyIds: wanted } });
      signal.throwIfAborted();
      await replaceWithRewrapped(store, a.key, written.sha256, signal);
      await this.#finish(a, store, current, written, keys, wanted, signal);
    } finally {
      await pin.release().catch(() => {});
    }
  }

  /** After the object was replaced: the manifest, then the record (SHA-256, size, keys), then the copy removed. */
  async #finish(
    a: Candidate,
    store: ArtifactStore,
    oldSha256: string,
    written: { sha256: string; bytes: number },
    keys: RecipientKey[],
    keyIds: number[] | null,
    signal: AbortSignal,
  ): Promise<void> {
    const ids = keyIds ?? keys.map((k) => k.id);
    const bytes = written.bytes || (await store.head(a.key))?.bytes || 0;
    const manifestKeys = await this.deps.prisma.encryptionKey.findMany({ where: { id: { in: ids } }, orderBy: { id: "asc" } });
    await rewriteManifest(store, a.key, { oldSha256, sha256: written.sha256, bytes, keys: manifestKeys, signal });
    await this.deps.prisma.$transaction(async (tx) => {
      await tx.backupArtifact.update({
        where: { id: a.id },
        data: { sha256: written.sha256, sizeBytes: BigInt(bytes), rewrapSha256: null, rewrapKeyIds: Prisma.DbNull },
      });
      await tx.artifactEncryptionKey.deleteMany({ where: { artifactId: a.id } });
      await tx.artifactEncryptionKey.createMany({ data: ids.map((keyId) => ({ artifactId: a.id, keyId })) });
    });
    await store.delete(rewrapTempKey(a.key)).catch(() => {});
  }
}
