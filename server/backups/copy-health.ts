import type { ArtifactStatus } from "../db/generated/enums.ts";

/**
 * Why a target lacks an intact copy of a backup: its artifact's status (FAILED upload, PENDING,
 * CORRUPT or MISSING as verification found it, DELETED), or ABSENT when the backup has no
 * artifact row there at all (the target was added to its schedule later).
 */
export type CopyProblem = { storageTargetId: number; target: string; status: ArtifactStatus | "ABSENT"; error: string | null };

/** What copyProblems needs of a backup: load it with `include: copyInclude`. */
export const copyInclude = {
  artifacts: { include: { storageTarget: { select: { id: true, name: true } } } },
  schedule: { select: { storageTargets: { select: { storageTarget: { select: { id: true, name: true } } } } } },
} as const;

export type BackupCopies = {
  artifacts: Array<{ storageTargetId: number | null; status: ArtifactStatus; error: string | null; storageTarget: { id: number; name: string } | null }>;
  schedule?: { storageTargets: Array<{ storageTarget: { id: number; name: string } }> } | null;
};

/**
 * The targets a backup should be on without an intact (STORED, not found CORRUPT or MISSING by
 * verification) copy there: every target it was written to, and every target its schedule names
 * now. A deleted target no longer counts. Empty = the backup is complete.
 */
export function copyProblems(backup: BackupCopies): CopyProblem[] {
  const problems: CopyProblem[] = [];
  const seen = new Set<number>();
  for (const a of backup.artifacts) {
    if (a.storageTargetId === null || !a.storageTarget) continue;
    seen.add(a.storageTargetId);
    if (a.status !== "STORED") problems.push({ storageTargetId: a.storageTargetId, target: a.storageTarget.name, status: a.status, error: a.error });
  }
  for (const { storageTarget } of backup.schedule?.storageTargets ?? []) {
    if (seen.has(storageTarget.id)) continue;
    seen.add(storageTarget.id);
    problems.push({ storageTargetId: storageTarget.id, target: storageTarget.name, status: "ABSENT", error: "no copy was ever written to this target" });
  }
  return problems.sort((x, y) => x.target.localeCompare(y.target));
}
