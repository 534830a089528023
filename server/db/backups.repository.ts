import type { Backup, BackupArtifact, Prisma, PrismaClient } from "./generated/client.ts";

export type BackupWithArtifacts = Backup & { artifacts: BackupArtifact[] };

export type NewBackup = {
  serverId: number;
  serverName: string;
  engine: Backup["engine"];
  database: string;
  scheduleId: number | null;
  scheduleName: string | null;
  trigger: Backup["trigger"];
  dueAt: Date | null;
  compression: Backup["compression"];
  instanceId: string;
  storageTargetIds: number[];
  /** The artifact key of this backup on a target, once its id and creation time are known. */
  keyOf: (backup: Backup) => string;
};

export type ArtifactOutcome = { storageTargetId: number; ok: true; bytes: number } | { storageTargetId: number; ok: false; error: string };

/**
 * Backup records: the single source of truth for status, size, checksum and location. Status
 * changes are conditional updates, so two instances (or a cancel racing a start) never both win.
 */
export class BackupsRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Creates a PENDING backup with one PENDING artifact row (and its key) per storage target. */
  async create(input: NewBackup): Promise<BackupWithArtifacts> {
    const { storageTargetIds, keyOf, ...fields } = input;
    return this.prisma.$transaction(async (tx) => {
      const backup = await tx.backup.create({ data: { ...fields, status: "PENDING" } });
      const key = keyOf(backup);
      await tx.backupArtifact.createMany({ data: storageTargetIds.map((storageTargetId) => ({ backupId: backup.id, storageTargetId, key })) });
      return tx.backup.findUniqueOrThrow({ where: { id: backup.id }, include: { artifacts: true } });
    });
  }

  /**
   * Records PENDING backups of one server for one request (same schedule, trigger and due time) in
   * one transaction: a multi-row INSERT that leaves out a database whose (schedule, server, database,
   * dueAt) row already exists (another instance, or an earlier run of the same tick, wrote it), then
   * every artifact row in one more. Returns the backups this call created, with their artifacts.
   */
  async createPendingMany(input: Omit<NewBackup, "database"> & { databases: string[] }): Promise<BackupWithArtifacts[]> {
    const { storageTargetIds, keyOf, databases, ...fields } = input;
    if (databases.length === 0) return [];
    return this.prisma.$transaction(
      async (tx) => {
        await tx.backup.createMany({ data: databases.map((database) => ({ ...fields, database, status: "PENDING" as const })), skipDuplicates: true });
        // Ours: a committed PENDING row always has its artifact rows (written in the same transaction),
        // and another transaction's uncommitted rows are invisible here.
        const mine = await tx.backup.findMany({
          where: {
            serverId: fields.serverId,
            scheduleId: fields.scheduleId,
            dueAt: fields.dueAt,
            database: { in: databases },
            status: "PENDING",
            instanceId: fields.instanceId,
            artifacts: { none: {} },
          },
          orderBy: { id: "asc" },
        });
        if (mine.length === 0) return [];
        await tx.backupArtifact.createMany({
          data: mine.flatMap((backup) => {
            const key = keyOf(backup);
            return storageTargetIds.map((storageTargetId) => ({ backupId: backup.id, storageTargetId, key }));
          }),
        });
        return tx.backup.findMany({ where: { id: { in: mine.map((b) => b.id) } }, include: { artifacts: true }, orderBy: { id: "asc" } });
      },
      // A batch of a few hundred rows on a busy metadata database takes longer than Prisma's 5 s default.
      { maxWait: 10_000, timeout: 60_000 },
    );
  }

  get(id: number): Promise<BackupWithArtifacts | null> {
    return this.prisma.backup.findUnique({ where: { id }, include: { artifacts: true } });
  }

  /**
   * PENDING → RUNNING for this instance; false when it was cancelled or taken meanwhile. Safe to
   * repeat after a dropped connection: a row this instance already claimed since `since` counts.
   */
  async claim(id: number, instanceId: string, since = new Date()): Promise<boolean> {
    const now = new Date();
    const { count } = await this.prisma.backup.updateMany({
      where: { id, status: "PENDING" },
      data: { status: "RUNNING", startedAt: now, heartbeatAt: now, instanceId, progressBytes: 0 },
    });
    if (count === 1) return true;
    const row = await this.prisma.backup.findUnique({ where: { id }, select: { status: true, instanceId: true, startedAt: true } });
    return row?.status === "RUNNING" && row.instanceId === instanceId && row.startedAt !== null && row.startedAt >= new Date(since.getTime() - 1000);
  }

  /**
   * Renews the lease of a backup this instance runs and saves its progress. `lost` when the row is
   * no longer RUNNING here (another instance settled it): the run should stop, its verdict stands.
   */
  async heartbeat(id: number, instanceId: string, progressBytes: number): Promise<{ cancelRequested: boolean; lost: boolean }> {
    const { count } = await this.prisma.backup.updateMany({
      where: { id, status: "RUNNING", instanceId },
      data: { heartbeatAt: new Date(), progressBytes: BigInt(progressBytes) },
    });
    const row = await this.prisma.backup.findUnique({ where: { id }, select: { cancelRequestedAt: true } });
    return { cancelRequested: row?.cancelRequestedAt != null, lost: count === 0 };
  }

  /** What an attempt learnt before dumping: the compression, the dump tool, the server version, the artifact key. */
  /**
   * Records an attempt's dump settings and artifact key; an encrypted one (`encryption: AGE`) also
   * which keys open each of its copies (`keyIds`), replacing what an earlier attempt recorded.
   */
  async prepareRun(
    id: number,
    run: {
      compression: Backup["compression"];
      encryption?: Backup["encryption"];
      keyIds?: number[];
      tool: string;
      serverVersion: string;
      key: string;
      warnings: string[];
    },
  ): Promise<void> {
    const keyIds = run.encryption === "AGE" ? (run.keyIds ?? []) : [];
    await this.prisma.$transaction(async (tx) => {
      await tx.backup.update({
        where: { id },
        data: { compression: run.compression, encryption: run.encryption ?? "NONE", tool: run.tool, serverVersion: run.serverVersion, warnings: run.warnings },
      });
      await tx.backupArtifact.updateMany({ where: { backupId: id }, data: { key: run.key } });
      const artifacts = await tx.backupArtifact.findMany({ where: { backupId: id }, select: { id: true } });
      const artifactIds = artifacts.map((a) => a.id);
      await tx.artifactEncryptionKey.deleteMany({ where: { artifactId: { in: artifactIds } } });
      if (keyIds.length)
        await tx.artifactEncryptionKey.createMany({ data: artifactIds.flatMap((artifactId) => keyIds.map((keyId) => ({ artifactId, keyId }))) });
    });
  }

  async noteAttempt(id: number, attempt: number, error: string): Promise<void> {
    await this.prisma.backup.update({ where: { id }, data: { attempt, error: `attempt ${attempt - 1} failed: ${error}` } });
  }

  /** Size of the newest successful backup of this database: sizes the next upload's parts. */
  async previousStoredBytes(serverId: number, database: string): Promise<number | undefined> {
    const row = await this.prisma.backup.findFirst({
      where: { serverId, database, status: { in: ["SUCCEEDED", "PARTIAL"] }, storedBytes: { not: null } },
      orderBy: { id: "desc" },
      select: { storedBytes: true },
    });
    return row?.storedBytes != null ? Number(row.storedBytes) : undefined;
  }

  /**
   * Records the end of a RUNNING (or never started PENDING) backup and of each artifact, in one
   * transaction; a backup already finished elsewhere is left as it is. The status is SUCCEEDED only
   * if every artifact (and manifest) was stored. Safe to repeat (a retry after a dropped connection).
   */
  finish(id: number, result: BackupOutcome): Promise<BackupWithArtifacts> {
    return this.prisma.$transaction(async (tx) => {
      await close(tx, id, result, null);
      return tx.backup.findUniqueOrThrow({ where: { id }, include: { artifacts: true } });
    });
  }

  /**
   * Settles a backup whose run was interrupted, only if it is still as it was seen (same status and
   * heartbeat: nobody renewed or finished it meanwhile). True when this call settled it.
   */
  settle(id: number, seen: { status: "PENDING" | "RUNNING"; heartbeatAt: Date | null }, result: BackupOutcome): Promise<boolean> {
    return this.prisma.$transaction((tx) => close(tx, id, result, seen));
  }

  /**
   * Backups that may have been interrupted, with their artifacts: this instance's RUNNING ones
   * (`ownPending`: and PENDING ones), and other instances' RUNNING ones whose lease expired before
   * `staleBefore` (`others`). The caller leaves out what still runs in this process.
   */
  findInterrupted(scope: { instanceId: string; staleBefore: Date; ownPending: boolean; others: boolean }): Promise<BackupWithArtifacts[]> {
    const { instanceId, staleBefore } = scope;
    const expired: Prisma.BackupWhereInput = { OR: [{ heartbeatAt: { lt: staleBefore } }, { heartbeatAt: null, createdAt: { lt: staleBefore } }] };
    const OR: Prisma.BackupWhereInput[] = [{ instanceId, status: { in: scope.ownPending ? ["PENDING", "RUNNING"] : ["RUNNING"] } }];
    if (scope.others) OR.push({ status: "RUNNING", AND: [{ OR: [{ instanceId: null }, { instanceId: { not: instanceId } }] }, expired] });
    return this.prisma.backup.findMany({ where: { OR }, include: { artifacts: true }, orderBy: { id: "asc" } });
  }

  /** PENDING → CANCELLED at once; for a RUNNING backup, records the request for its runner. */
  async requestCancel(id: number): Promise<"cancelled" | "requested" | "finished"> {
    const now = new Date();
    const pending = await this.prisma.backup.updateMany({
      where: { id, status: "PENDING" },
      data: { status: "CANCELLED", cancelRequestedAt: now, finishedAt: now, error: "cancelled before it started" },
    });
    if (pending.count === 1) {
      await this.prisma.backupArtifact.updateMany({ where: { backupId: id, status: "PENDING" }, data: { status: "FAILED", error: "cancelled" } });
      return "cancelled";
    }
    const running = await this.prisma.backup.updateMany({ where: { id, status: "RUNNING" }, data: { cancelRequestedAt: now } });
    return running.count === 1 ? "requested" : "finished";
  }
}

/** How a backup ended, for `finish` and `settle`. */
export type BackupOutcome = Pick<Prisma.BackupUpdateInput, "error" | "logTail" | "tool" | "serverVersion" | "sha256" | "attempt"> & {
  status: "SUCCEEDED" | "PARTIAL" | "FAILED" | "CANCELLED";
  rawBytes?: number;
  storedBytes?: number;
  position?: object | null;
  tableStats?: object | null;
  /** When the work ended; now when omitted. */
  finishedAt?: Date;
  artifacts: ArtifactOutcome[];
};

/**
 * Writes a backup's end and its artifacts' inside `tx`, if the backup is still PENDING or RUNNING
 * (and, with `seen`, still has that status and heartbeat). Targets the run never reached fail with it.
 */
async function close(
  tx: Prisma.TransactionClient,
  id: number,
  result: BackupOutcome,
  seen: { status: "PENDING" | "RUNNING"; heartbeatAt: Date | null } | null,
): Promise<boolean> {
  const { artifacts, rawBytes, storedBytes, position, tableStats, finishedAt = new Date(), ...fields } = result;
  const current = await tx.backup.findUnique({ where: { id }, select: { startedAt: true } });
  if (!current) return false;
  // Conditional, so of two instances settling one backup only one wins; and another instance may
  // have declared this one dead and settled the backup meanwhile: its verdict stands.
  const { count } = await tx.backup.updateMany({
    where: seen ? { id, status: seen.status, heartbeatAt: seen.heartbeatAt } : { id, status: { in: ["PENDING", "RUNNING"] } },
    data: {
      ...fields,
      ...(rawBytes !== undefined ? { rawBytes: BigInt(rawBytes) } : {}),
      ...(storedBytes !== undefined ? { storedBytes: BigInt(storedBytes), progressBytes: BigInt(storedBytes) } : {}),
      ...(position !== undefined ? { position: position ?? undefined } : {}),
      ...(tableStats ? { tableStats } : {}),
      finishedAt,
      durationMs: current.startedAt ? Math.max(0, finishedAt.getTime() - current.startedAt.getTime()) : null,
    },
  });
  if (count !== 1) return false;
  for (const a of artifacts) {
    await tx.backupArtifact.updateMany({
      where: { backupId: id, storageTargetId: a.storageTargetId },
      data: a.ok ? { status: "STORED", sizeBytes: BigInt(a.bytes), storedAt: finishedAt, error: null } : { status: "FAILED", error: a.error },
    });
  }
  // Targets the run never reached (it failed before storing anything) fail with the backup.
  await tx.backupArtifact.updateMany({ where: { backupId: id, status: "PENDING" }, data: { status: "FAILED", error: fields.error ?? "not stored" } });
  return true;
}
