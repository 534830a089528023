import { buffer } from "node:stream/consumers";
import type { PitrManifest } from "../pitr/archiver.ts";
import { PITR_MANIFEST_SUFFIX, pitrServerPrefix } from "../pitr/archive-keys.ts";
import { planReplay, type DumpPosition, type ReplayPlan, type ReplayStop } from "../pitr/replay.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";

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
