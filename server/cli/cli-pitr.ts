import { buffer } from "node:stream/consumers";
import type { PitrManifest } from "../pitr/archiver.ts";
import { PITR_MANIFEST_SUFFIX, pitrServerPrefix } from "../pitr/archive-keys.ts";
import { planReplay, type DumpPosition, type ReplayPlan, type ReplayStop } from "../pitr/replay.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import type { BaseBackupPosition } from "../pitr/pg/base-backup.ts";
import { planPg, type PgBaseCandidate, type PgRestorePlan, type PgWalCandidate } from "../pitr/pg/restore-to-time.ts";
import type { WalManifest } from "../pitr/pg/wal-archiver.ts";
import { isHistoryFile } from "../pitr/pg/wal.ts";

/**
 * A replay plan from the storage alone: the binlog manifests under `pitr/<server>/` of the store
 * that holds the dump (a final file wins over its partial copy), planned from the dump
 * manifest's position to `at` (a time, a GTID or a binlog position). Throws PitrRefusedError (why it cannot be done) like the server.
 */
export async function planFromStorage(
  store: ArtifactStore,
  serverName: string,
  position: DumpPosition | null,
  at: Date | ReplayStop,
  force: boolean,
): Promise<ReplayPlan> {
  const byFile = new Map<string, ReplayPlan["files"][number]>();
  for await (const object of store.list(pitrServerPrefix(serverName))) {
    if (!object.key.endsWith(PITR_MANIFEST_SUFFIX)) continue;
    const m = JSON.parse((await buffer(await store.get(object.key))).toString("utf8")) as PitrManifest;
    if (m.kind !== "sqlguard-binlog") continue;
    const existing = byFile.get(m.file);
    // A closed file wins over its partial copies; of those, the one reaching furthest.
    if (existing && (!existing.partial || (m.partial && Number(existing.endPosition) >= m.endPosition))) continue;
    byFile.set(m.file, {
      file: m.file,
      key: object.key.slice(0, -PITR_MANIFEST_SUFFIX.length),
      partial: m.partial,
      sha256: m.sha256,
      storageTargetIds: [],
      breakReason: m.breakReason,
      lastEventAt: m.lastEventAt ? new Date(m.lastEventAt) : null,
      endPosition: BigInt(m.endPosition),
      gtidListAtStart: m.gtidListAtStart,
      gtidStateAtEnd: m.gtidStateAtEnd,
    });
  }
  return planReplay([...byFile.values()], position, at, { force });
}

/**
 * A PostgreSQL restore plan to `at` from the storage alone: the base backup manifests under
 * `pitr/<server>/base/` and the WAL manifests (and timeline history files) under
 * `pitr/<server>/wal/` of the store that holds the dump. A manifest whose object is gone breaks
 * the chain there, as verify-archives does on the server. Throws PgPitrRefusedError saying why.
 */
export async function planPgFromStorage(store: ArtifactStore, serverName: string, at: Date, force: boolean): Promise<PgRestorePlan> {
  const prefix = pitrServerPrefix(serverName);
  const keys = new Set<string>();
  const manifests: string[] = [];
  for await (const object of store.list(prefix)) {
    keys.add(object.key);
    if (object.key.endsWith(PITR_MANIFEST_SUFFIX)) manifests.push(object.key);
  }
  const bases: PgBaseCandidate[] = [];
  const wal = new Map<string, PgWalCandidate>();
  for (const key of manifests) {
    const objectKey = key.slice(0, -PITR_MANIFEST_SUFFIX.length);
    const m = JSON.parse((await buffer(await store.get(key))).toString("utf8")) as { kind?: string } & Record<string, unknown>;
    if (m.kind === "sqlguard-pg-basebackup" && keys.has(objectKey)) {
      const b = m as unknown as BaseBackupPosition & { endTime: string; sha256: string };
      bases.push({ id: bases.length + 1, finishedAt: new Date(b.endTime), position: { ...b, kind: "pg-base" }, key: objectKey, targetId: 0, sha256: b.sha256 });
    } else if (m.kind === "sqlguard-wal") {
      const w = m as unknown as WalManifest;
      const existing = wal.get(w.segment);
      if (existing && !existing.partial) continue;
      wal.set(w.segment, {
        file: w.segment,
        key: objectKey,
        partial: w.partial,
        lastEventAt: new Date(w.lastWriteAt),
        breakReason: keys.has(objectKey) ? w.breakReason : `the archive of WAL segment ${w.segment} (${objectKey}) is missing from storage`,
        storageTargetIds: [0],
        sha256: w.sha256,
      });
    }
  }
  for (const key of keys) {
    const file = key.slice(key.lastIndexOf("/") + 1);
    if (isHistoryFile(file)) wal.set(file, { file, key, partial: false, lastEventAt: null, breakReason: null, storageTargetIds: [0], sha256: null });
  }
  return planPg(bases, [...wal.values()], at, { force });
}
