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

  get(id: number): Promise<BackupWithArtifacts | null> {
    return this.prisma.backup.findUnique({ where: { id }, include: { artifacts: true } });
  }

  /** PENDING → RUNNING for this instance; false when it was cancelled or taken meanwhile. */
  async claim(id: number, instanceId: string): Promise<boolean> {
    const now = new Date();
    const { count } = await this.prisma.backup.updateMany({
      where: { id, status: "PENDING" },
      data: { status: "RUNNING", startedAt: now, heartbeatAt: now, instanceId, progressBytes: 0 },
    });
    return count === 1;
  }

  /** Renews a running backup's lease and saves its progress; tells whether a cancel was requested. */
  async heartbeat(id: number, progressBytes: number): Promise<{ cancelRequested: boolean }> {
    await this.prisma.backup.updateMany({ where: { id, status: "RUNNING" }, data: { heartbeatAt: new Date(), progressBytes: BigInt(progressBytes) } });
    const row = await this.prisma.backup.findUnique({ where: { id }, select: { cancelRequestedAt: true } });
    return { cancelRequested: row?.cancelRequestedAt != null };
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
   * if every artifact (and manifest) was stored.
   */
  async finish(
    id: number,
    result: Pick<Prisma.BackupUpdateInput, "error" | "logTail" | "tool" | "serverVersion" | "sha256" | "attempt"> & {
      status: "SUCCEEDED" | "PARTIAL" | "FAILED" | "CANCELLED";
      rawBytes?: number;
      storedBytes?: number;
      position?: object | null;
      artifacts: ArtifactOutcome[];
    },
  ): Promise<BackupWithArtifacts> {
    const { artifacts, rawBytes, storedBytes, position, ...fields } = result;
    const finishedAt = new Date();
    return this.prisma.$transaction(async (tx) => {
      const current = await tx.backup.findUniqueOrThrow({ where: { id }, select: { startedAt: true, status: true } });
      // Another instance may have declared this one dead and failed the backup: its verdict stands.
      if (current.status !== "RUNNING" && current.status !== "PENDING") return tx.backup.findUniqueOrThrow({ where: { id }, include: { artifacts: true } });
      for (const a of artifacts) {
        await tx.backupArtifact.updateMany({
          where: { backupId: id, storageTargetId: a.storageTargetId },
          data: a.ok ? { status: "STORED", sizeBytes: BigInt(a.bytes), storedAt: finishedAt, error: null } : { status: "FAILED", error: a.error },
        });
      }
      // Targets the run never reached (it failed before storing anything) fail with the backup.
      await tx.backupArtifact.updateMany({ where: { backupId: id, status: "PENDING" }, data: { status: "FAILED", error: fields.error ?? "not stored" } });
      await tx.backup.update({
        where: { id },
        data: {
          ...fields,
          ...(rawBytes !== undefined ? { rawBytes: BigInt(rawBytes) } : {}),
          ...(storedBytes !== undefined ? { storedBytes: BigInt(storedBytes), progressBytes: BigInt(storedBytes) } : {}),
          ...(position !== undefined ? { position: position ?? undefined } : {}),
          finishedAt,
          durationMs: current.startedAt ? finishedAt.getTime() - current.startedAt.getTime() : null,
        },
      });
      return tx.backup.findUniqueOrThrow({ where: { id }, include: { artifacts: true } });
    });
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

  /**
   * Fails the backups an instance left behind: this instance's PENDING and RUNNING ones (it
   * restarted), and any RUNNING one whose lease expired (its instance died). Returns their
   * artifacts, whose partial uploads the caller removes.
   */
  async failInterrupted(instanceId: string, staleBefore: Date): Promise<Array<{ backupId: number; storageTargetId: number | null; key: string }>> {
    const where: Prisma.BackupWhereInput = {
      OR: [
        { instanceId, status: { in: ["PENDING", "RUNNING"] } },
        { status: "RUNNING", heartbeatAt: { lt: staleBefore } },
      ],
    };
    const rows = await this.prisma.backup.findMany({ where, select: { id: true, status: true, artifacts: { select: { storageTargetId: true, key: true } } } });
    const now = new Date();
    for (const row of rows) {
      const error =
        row.status === "RUNNING" ? "interrupted: SQLGuard stopped while this backup was running" : "interrupted: SQLGuard stopped before this backup started";
      const { count } = await this.prisma.backup.updateMany({ where: { id: row.id, status: row.status }, data: { status: "FAILED", error, finishedAt: now } });
      if (count === 1) await this.prisma.backupArtifact.updateMany({ where: { backupId: row.id, status: "PENDING" }, data: { status: "FAILED", error } });
    }
    return rows.flatMap((r) => r.artifacts.map((a) => ({ backupId: r.id, ...a })));
  }
}
