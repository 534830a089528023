import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { PrismaClient } from "../../db/client.ts";
import type { Server, StorageTarget } from "../../db/generated/client.ts";
import { pgClientEnv } from "../../process/client-args.ts";
import type { ServerConnection } from "../../process/server-connection.ts";
import { spawnChild } from "../../process/spawn.ts";
import type { ArtifactStore } from "../../storage/artifact-store.ts";
import { PITR_MANIFEST_SUFFIX } from "../archive-keys.ts";
import type { ArchiveRecipients } from "../archive-crypto.ts";
import { AgeEncrypt } from "../../encryption/age-stream.ts";
import { Meter } from "../../process/meter.ts";
import { FanOut } from "../../runner/fan-out.ts";
import { manifestEncryption } from "../../runner/manifest.ts";
import { parseLsn, segmentName, segnoOf } from "./wal.ts";

/** The Backup row's `database` for a physical base backup: the whole cluster, not one database. */
export const CLUSTER_DATABASE = "(cluster)";
export const BASEBACKUP_TOOL = "pg_basebackup -Ft -X none";

/** Backup.position of a base backup: where its WAL starts and ends (read from its own backup_label and pg_basebackup's end point). */
export type BaseBackupPosition = {
  kind: "pg-base";
  timeline: number;
  startLsn: string;
  startSegment: string;
  startTime: string;
  endLsn: string;
  endTime: string;
  systemIdentifier: string | null;
};

/** What backup_label says: `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)`, `START TIME`, `START TIMELINE`. */
export function parseBackupLabel(label: string): { startLsn: string; startSegment: string; startTime: Date; timeline: number } {
  const lsn = /^START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+) \(file ([0-9A-F]{24})\)$/m.exec(label);
  const time = /^START TIME: (.+)$/m.exec(label);
  const tli = /^START TIMELINE: (\d+)$/m.exec(label);
  if (!lsn || !time || !tli) throw new Error(`backup_label not understood: ${label.slice(0, 300)}`);
  // "2026-12-03 13:40:12 UTC"
  const startTime = new Date(
    time[1]!
      .replace(" ", "T")
      .replace(/ UTC$/, "Z")
      .replace(/ ([+-]\d\d)$/, "$1:00"),
  );
  return { startLsn: lsn[1]!, startSegment: lsn[2]!, startTime, timeline: Number(tli[1]) };
}

/**
 * Passes a tar stream through and keeps the content of its `backup_label` (the first member
 * pg_basebackup writes) and `backup_manifest` (the last: its WAL-Ranges hold the end LSN) members.
 */
export class BackupLabelTap extends Transform {
  #header = Buffer.alloc(0);
  /** Bytes of the current member (data plus padding) still to pass. */
  #skip = 0;
  #capture: { name: string; size: number; chunks: Buffer[]; got: number } | null = null;
  #ended = false;
  label: string | null = null;
  manifest: string | null = null;

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: () => void): void {
    this.push(chunk);
    let at = 0;
    while (at < chunk.length && !this.#ended) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - at);
        const cap = this.#capture;
        if (cap && cap.got < cap.size) {
          const take = Math.min(n, cap.size - cap.got);
          cap.chunks.push(chunk.subarray(at, at + take));
          cap.got += take;
        }
        this.#skip -= n;
        at += n;
        if (this.#skip === 0 && cap) {
          const text = Buffer.concat(cap.chunks).toString("utf8");
          if (cap.name === "backup_label") this.label = text;
          else this.manifest = text;
          this.#capture = null;
        }
        continue;
      }
      const need = 512 - this.#header.length;
      this.#header = Buffer.concat([this.#header, chunk.subarray(at, at + need)]);
      at += Math.min(need, chunk.length - at);
      if (this.#header.length < 512) break;
      const header = this.#header;
      this.#header = Buffer.alloc(0);
      if (header.every((b) => b === 0)) continue; // the end-of-archive blocks
      const name = header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
      const size = Number.parseInt(header.subarray(124, 136).toString("utf8").replace(/\0.*$/s, "").trim() || "0", 8);
      this.#skip = Math.ceil(size / 512) * 512;
      if ((name === "backup_label" || name === "backup_manifest") && size < 64 * 1024 * 1024) this.#capture = { name, size, chunks: [], got: 0 };
      if (this.#skip === 0 && this.#capture) {
        if (name === "backup_label") this.label = "";
        this.#capture = null;
      }
    }
    callback();
  }
}

/** The end LSN of a base backup from its backup_manifest (`"WAL-Ranges": [{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" }]`). */
export function manifestEndLsn(manifest: string): string | null {
  try {
    const ranges = (JSON.parse(manifest) as { "WAL-Ranges"?: Array<{ "End-LSN": string }> })["WAL-Ranges"];
    return ranges?.at(-1)?.["End-LSN"] ?? null;
  } catch {
    return null;
  }
}

/**
 * A physical base backup of the whole cluster: `pg_basebackup -D - -Ft -X none` (tar to stdout,
 * no WAL in it: the WAL comes from the PITR archive, which the slot keeps complete), through zstd
 * (and age, when the server's dump profile encrypts: `….tar.zst.age`) and SHA-256 onto every PITR
 * target at the pace of the slowest, as `pitr/<server>/base/<time>.tar.zst` with a manifest, and a
 * Backup row (database `(cluster)`, position = its start LSN and time from its own backup_label,
 * and the end point pg_basebackup reports) that restores to a time start from.
 */
export async function takeBaseBackup(
  deps: {
    prisma: PrismaClient;
    storeFor(target: StorageTarget): ArtifactStore;
    connectionOf(server: Server): ServerConnection;
    archiveRecipients?: ArchiveRecipients;
  },
  server: Server,
  options: { trigger?: "SCHEDULED" | "MANUAL"; instanceId?: string; signal?: AbortSignal } = {},
): Promise<{ backupId: number; position: BaseBackupPosition }> {
  const { prisma } = deps;
  const ids = Array.isArray(server.pitrStorageTargetIds) ? (server.pitrStorageTargetIds as number[]) : null;
  const targets = await prisma.storageTarget.findMany({ where: ids ? { id: { in: ids } } : { isDefault: true, enabled: true } });
  if (!targets.length) throw new Error(`server ${server.name}: no PITR storage target for its base backup`);
  const recipients = (await deps.archiveRecipients?.(server)) ?? null;
  const conn = deps.connectionOf(server);
  const started = new Date();
  const stamp = started
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const key = `pitr/${server.name.replace(/[^A-Za-z0-9._-]/g, "_")}/base/${stamp}.tar.zst${recipients ? ".age" : ""}`;
  const backup = await prisma.backup.create({
    data: {
      serverId: server.id,
      serverName: server.name,
      engine: server.engine,
      database: CLUSTER_DATABASE,
      trigger: options.trigger ?? "MANUAL",
      status: "RUNNING",
      startedAt: started,
      compression: "ZSTD",
      encryption: recipients ? "AGE" : "NONE",
      tool: BASEBACKUP_TOOL,
      instanceId: options.instanceId ?? null,
    },
  });
  const stores = targets.map((t) => deps.storeFor(t));
  const committed: number[] = [];
  try {
    // Any failure stops both children; the signal (shutdown) too.
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    const base = spawnChild("pg_basebackup", ["-D", "-", "-Ft", "-X", "none", "-v", "--checkpoint=fast"], {
      env: pgClientEnv(conn, "postgres", "sqlguard-basebackup"),
      signal,
    });
    const zstd = spawnChild("zstd", ["-3", "-q", "-c"], { signal });
    const tap = new BackupLabelTap();
    const raw = new Meter();
    const stored = new Meter({ hash: true });
    // The targets commit the object only once both programs exited cleanly: a failed base backup leaves nothing.
    const fanOut = new FanOut(targets.length, async () => {
      const [baseExit, zstdExit] = await Promise.all([base.exited, zstd.exited]);
      if (baseExit.code !== 0) throw new Error(`pg_basebackup failed (exit ${baseExit.code}): ${baseExit.stderrTail.slice(-800)}`);
      if (zstdExit.code !== 0) throw new Error(`zstd failed: ${zstdExit.stderrTail}`);
    });
    const contentType = recipients ? "application/octet-stream" : "application/zstd";
    const puts = stores.map((store, i) =>
      store.put(key, fanOut.branches[i]!, { contentType, signal: options.signal }).then(
        () => (committed.push(targets[i]!.id), null),
        (error: unknown) => (fanOut.drop(i), error as Error),
      ),
    );
    const encrypt = recipients ? [new AgeEncrypt(recipients.map((r) => r.publicRaw))] : [];
    const flow = await Promise.all([pipeline(base.stdout, raw, tap, zstd.stdin), pipeline([zstd.stdout, ...encrypt, stored, fanOut])]).then(
      () => null,
      (error: Error) => (stop.abort(), error),
    );
    const failures = (await Promise.all(puts)).filter((e): e is Error => e !== null);
    await Promise.all([base.exited, zstd.exited]);
    if (flow) throw flow;
    // Every PITR target holds the base backup, or none does.
    if (failures.length) throw new Error(`the base backup could not be stored: ${failures[0]!.message}`);
    const rawBytes = raw.bytes;
    const storedBytes = stored.bytes;
    if (!tap.label) throw new Error("the base backup has no backup_label");
    const label = parseBackupLabel(tap.label);
    const endLsn = tap.manifest ? manifestEndLsn(tap.manifest) : null;
    if (!endLsn) throw new Error("the base backup's backup_manifest has no WAL end point");
    const finished = new Date();
    const [sys] = await pgSystemId(conn);
    const position: BaseBackupPosition = {
      kind: "pg-base",
      timeline: label.timeline,
      startLsn: label.startLsn,
      startSegment: label.startSegment,
      startTime: label.startTime.toISOString(),
      endLsn: endLsn,
      endTime: finished.toISOString(),
      systemIdentifier: sys ?? null,
    };
    const sha256 = stored.digest();
    const manifest = {
      server: server.name,
      serverId: server.id,
      tool: BASEBACKUP_TOOL,
      compression: "zstd",
      rawBytes,
      storedBytes,
      sha256,
      ...position,
      ...(recipients ? { encryption: manifestEncryption(recipients) } : {}),
      kind: "sqlguard-pg-basebackup",
      endSegment: segmentName(label.timeline, segnoOf(parseLsn(endLsn))),
    };
    await Promise.all(
      targets.map((t) =>
        deps
          .storeFor(t)
          .put(key + PITR_MANIFEST_SUFFIX, Readable.from([Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)]), { contentType: "application/json" }),
      ),
    );
    for (const t of targets) {
      const artifact = await prisma.backupArtifact.create({
        data: { backupId: backup.id, storageTargetId: t.id, key, status: "STORED", sizeBytes: BigInt(storedBytes), storedAt: finished },
      });
      // The keys that open it, as for an encrypted dump (the key list counts it; a rewrap rewrites its header).
      if (recipients) await prisma.artifactEncryptionKey.createMany({ data: recipients.map((r) => ({ artifactId: artifact.id, keyId: r.id })) });
    }
    await prisma.backup.update({
      where: { id: backup.id },
      data: {
        status: "SUCCEEDED",
        finishedAt: finished,
        durationMs: finished.getTime() - started.getTime(),
        rawBytes: BigInt(rawBytes),
        storedBytes: BigInt(storedBytes),
        sha256,
        position,
      },
    });
    return { backupId: backup.id, position };
  } catch (error) {
    // A target that committed before another failed holds an object no record names.
    await Promise.all(committed.map((id) => stores[targets.findIndex((t) => t.id === id)]!.delete(key).catch(() => {})));
    await prisma.backup.update({
      where: { id: backup.id },
      data: { status: "FAILED", finishedAt: new Date(), error: (error as Error).message.slice(0, 4000) },
    });
    throw error;
  }
}

async function pgSystemId(conn: ServerConnection): Promise<string[]> {
  const { pgQuery } = await import("./receiver.ts");
  return (await pgQuery<{ id: string }>(conn, "SELECT system_identifier::text AS id FROM pg_control_system()")).map((r) => r.id);
}
