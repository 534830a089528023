import type { PrismaClient } from "../db/client.ts";
import type { BackupStatus } from "../db/generated/enums.ts";
import { selectDeletions, type RetentionCandidate } from "./select-deletions.ts";

/** Which rules and groups a sweep covers; every field optional (none = every rule). */
export type SweepScope = { scheduleId?: number; storageTargetId?: number; serverId?: number; database?: string };

/**
 * What deleting an item means: ARTIFACT removes an expired good copy from its target (object and
 * manifest), LEFTOVER removes what a failed copy may have left on a target of an otherwise good
 * backup, RECORD removes a FAILED / CANCELLED / SKIPPED run: its leftovers on every target, then
 * its row.
 */
export type DeletionKind = "ARTIFACT" | "LEFTOVER" | "RECORD";

/** One backup of a group, with the decision the pure selection made for it on this target. */
export type PlannedItem = {
  backupId: number;
  status: BackupStatus;
  /** The status as seen on this target: a PARTIAL backup whose copy here failed counts as FAILED. */
  effectiveStatus: BackupStatus;
  createdAt: Date;
  startedAt: Date | null;
  action: "KEEP" | "DELETE";
  reasons: string[];
  kind: DeletionKind;
  /** This backup's artifact on the group's target (null for SKIPPED rows). */
  artifact: { id: number; key: string; status: string } | null;
};

/** The backups of one schedule x storage target x server x database, and the decisions. */
export type PlannedGroup = {
  scheduleId: number;
  scheduleName: string;
  storageTargetId: number;
  storageTargetName: string;
  serverId: number | null;
  serverName: string;
  database: string;
  items: PlannedItem[];
};

const KEEPERS = new Set<BackupStatus>(["SUCCEEDED", "PARTIAL"]);
const RECORDS = new Set<BackupStatus>(["FAILED", "CANCELLED", "SKIPPED"]);

/**
 * Plans a sweep: loads the retention rules of enabled targets in scope and, per rule, the
 * schedule's backups with a live copy on the rule's target (plus its SKIPPED rows), groups them
 * per server and database, and lets selectDeletions decide. Reads only; the sweeper applies it,
 * and retentionPreview returns it, so the preview is exactly what the next sweep deletes.
 */
export async function planRetention(prisma: PrismaClient, scope: SweepScope, now: Date, failedGraceMs: number): Promise<PlannedGroup[]> {
  const rules = await prisma.retentionRule.findMany({
    where: { scheduleId: scope.scheduleId, storageTargetId: scope.storageTargetId, storageTarget: { enabled: true } },
    include: { schedule: { select: { name: true, timezone: true } }, storageTarget: { select: { name: true } } },
    orderBy: [{ scheduleId: "asc" }, { storageTargetId: "asc" }],
  });
  const groups: PlannedGroup[] = [];
  for (const rule of rules) {
    const target = rule.storageTargetId;
    const rows = await prisma.backup.findMany({
      where: {
        scheduleId: rule.scheduleId,
        serverId: scope.serverId,
        database: scope.database,
        OR: [{ artifacts: { some: { storageTargetId: target, status: { in: ["PENDING", "STORED", "FAILED"] } } } }, { status: "SKIPPED" }],
      },
      select: {
        id: true,
        status: true,
        createdAt: true,
        startedAt: true,
        finishedAt: true,
        serverId: true,
        serverName: true,
        database: true,
        artifacts: { where: { storageTargetId: target }, select: { id: true, key: true, status: true } },
      },
      orderBy: { id: "asc" },
    });
    const byGroup = new Map<string, typeof rows>();
    for (const row of rows) {
      const key = `${row.serverId ?? `name:${row.serverName}`}\u0000${row.database}`;
      byGroup.set(key, [...(byGroup.get(key) ?? []), row]);
    }
    for (const members of byGroup.values()) {
      const first = members[0]!;
      const candidates: RetentionCandidate[] = members.map((m) => ({ ...m, status: effectiveStatus(m.status, m.artifacts[0]?.status ?? null) }));
      const decisions = selectDeletions(candidates, rule, now, { timezone: rule.schedule.timezone, failedGraceMs });
      groups.push({
        scheduleId: rule.scheduleId,
        scheduleName: rule.schedule.name,
        storageTargetId: target,
        storageTargetName: rule.storageTarget.name,
        serverId: first.serverId,
        serverName: first.serverName,
        database: first.database,
        items: members.map((m, i) => {
          const effective = candidates[i]!.status;
          return {
            backupId: m.id,
            status: m.status,
            effectiveStatus: effective,
            createdAt: m.createdAt,
            startedAt: m.startedAt,
            action: decisions[i]!.action,
            reasons: decisions[i]!.reasons,
            kind: KEEPERS.has(effective) ? "ARTIFACT" : RECORDS.has(m.status) ? "RECORD" : "LEFTOVER",
            artifact: m.artifacts[0] ?? null,
          };
        }),
      });
    }
  }
  return groups;
}

/** A backup's status on one target: only a STORED copy of a SUCCEEDED/PARTIAL backup is a keeper there. */
export function effectiveStatus(backup: BackupStatus, artifact: string | null): BackupStatus {
  if (backup === "PENDING" || backup === "RUNNING" || backup === "SKIPPED") return backup;
  // A DELETED backup (no good copy left) may still hold a failed copy's leftovers here.
  if (backup === "DELETED") return artifact === "FAILED" ? "FAILED" : "DELETED";
  if (artifact === "STORED" && KEEPERS.has(backup)) return backup;
  return backup === "CANCELLED" ? "CANCELLED" : "FAILED";
}
