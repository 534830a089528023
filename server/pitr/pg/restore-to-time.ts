import { AgeDecrypt } from "../../encryption/age-stream.ts";
import { AgeError } from "../../encryption/age-header.ts";
import { type Decryption, isEncryptedKey } from "../../encryption/artifact-decryption.ts";
import { noDecryption } from "../archive-crypto.ts";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import type { PrismaClient } from "../../db/client.ts";
import type { StorageTarget } from "../../db/generated/client.ts";
import { ValidationError } from "../../errors.ts";
import { StorageError, type ArtifactStore } from "../../storage/artifact-store.ts";
import { PITR_MANIFEST_SUFFIX } from "../archive-keys.ts";
import { buffer } from "node:stream/consumers";
import { CLUSTER_DATABASE, type BaseBackupPosition } from "./base-backup.ts";
import { compareSegments, isHistoryFile, parseSegment, type WalSegment } from "./wal.ts";
import { walGap } from "./wal-archiver.ts";

const run = promisify(execFile);

/** A point-in-time restore of a PostgreSQL server that cannot be done, and why. */
export class PgPitrRefusedError extends Error {}

export type PgRestorePlan = {
  backupId: number;
  base: BaseBackupPosition;
  baseKey: string;
  baseTargetId: number;
  /** The stored base backup's SHA-256 (checked while it is fetched). */
  baseSha256: string | null;
  /** Segments (and history files) to fetch, in order. */
  wal: Array<{ file: string; key: string; partial: boolean; storageTargetIds: number[]; sha256: string | null }>;
  target: Date;
  /**
   * Stop at this WAL position instead (a row-count checkpoint's LSN; `target` is then a time at or
   * after it, so the plan holds its WAL): `recovery_target_lsn`, not inclusive.
   */
  targetLsn?: string;
};

/** A base backup a plan can start from (a Backup row, or a manifest in the storage). */
export type PgBaseCandidate = { id: number; finishedAt: Date; position: BaseBackupPosition; key: string; targetId: number; sha256: string | null };
/** An archived WAL file (a PitrArchive row, or a manifest in the storage). */
export type PgWalCandidate = {
  file: string;
  key: string;
  partial: boolean;
  lastEventAt: Date | null;
  breakReason: string | null;
  storageTargetIds: number[];
  sha256: string | null;
};

/**
 * What a restore of `serverId` to `at` needs: the newest base backup finished before `at`, and
 * every archived WAL segment from its start segment up to the first one written at or after
 * `at` (or the newest partial one). Refuses, saying why, when `at` is outside the archive or the
 * chain between the base backup and `at` is broken (a missing segment, a break the archiver
 * recorded), unless `force`.
 */
export async function planPgRestore(prisma: PrismaClient, serverId: number, at: Date, options: { force?: boolean } = {}): Promise<PgRestorePlan> {
  if (at.getTime() > Date.now()) throw new PgPitrRefusedError(`${at.toISOString()} is in the future`);
  const backups = await prisma.backup.findMany({
    where: { serverId, database: CLUSTER_DATABASE, status: "SUCCEEDED", finishedAt: { lte: at } },
    include: { artifacts: { where: { status: "STORED" } } },
    orderBy: { finishedAt: "desc" },
  });
  const rows = await prisma.pitrArchive.findMany({ where: { serverId } });
  return planPg(
    backups.flatMap((b) =>
      (b.position as BaseBackupPosition | null)?.kind === "pg-base" && b.artifacts[0]
        ? [
            {
              id: b.id,
              finishedAt: b.finishedAt!,
              position: b.position as BaseBackupPosition,
              key: b.artifacts[0].key,
              targetId: b.artifacts[0].storageTargetId!,
              sha256: b.sha256,
            },
          ]
        : [],
    ),
    rows.map((r) => ({ ...r, storageTargetIds: r.storageTargetIds as number[] })),
    at,
    options,
  );
}

/** planPgRestore's decision, from base backups and WAL files wherever they were read (pure). */
export function planPg(bases: PgBaseCandidate[], rows: PgWalCandidate[], at: Date, options: { force?: boolean } = {}): PgRestorePlan {
  if (at.getTime() > Date.now()) throw new PgPitrRefusedError(`${at.toISOString()} is in the future`);
  const backup = bases.filter((b) => b.finishedAt <= at).sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime())[0];
  if (!backup) throw new PgPitrRefusedError(`no base backup of this server finished before ${at.toISOString()}`);
  const base = backup.position;
  const start = parseSegment(base.startSegment)!;
  const files = new Set(rows.map((r) => r.file));
  const segments = rows
    .map((r) => ({ r, s: parseSegment(r.file) }))
    .filter((x): x is { r: PgWalCandidate; s: WalSegment } => x.s !== null && compareSegments(x.s, start) >= 0)
    .sort((a, b) => compareSegments(a.s, b.s));
  if (!segments.length || segments[0]!.s.name !== start.name) {
    throw new PgPitrRefusedError(
      `WAL segment ${start.name}, where base backup ${backup.id} starts, is not in the archive: the chain is broken before ${at.toISOString()}`,
    );
  }
  const needed: typeof segments = [];
  let reached = false;
  for (const [i, x] of segments.entries()) {
    if (i > 0) {
      const gap = walGap(segments[i - 1]!.s, x.s, files) ?? x.r.breakReason;
      if (gap && !options.force)
        throw new PgPitrRefusedError(`the WAL archive chain is broken before ${at.toISOString()}: ${gap}; a restore past it would miss transactions`);
    } else if (x.r.breakReason && !options.force && x.r.breakReason.includes("missing from storage")) {
      throw new PgPitrRefusedError(`the WAL archive chain is broken before ${at.toISOString()}: ${x.r.breakReason}`);
    }
    needed.push(x);
    if (x.r.lastEventAt && x.r.lastEventAt >= at) {
      reached = true;
      break;
    }
  }
  if (!reached) {
    const last = segments.at(-1)!.r;
    throw new PgPitrRefusedError(
      `${at.toISOString()} is after the newest archived WAL (${last.file}, written ${last.lastEventAt?.toISOString() ?? "at an unknown time"}): it is not recoverable yet`,
    );
  }
  const histories = rows.filter((r) => isHistoryFile(r.file));
  return {
    backupId: backup.id,
    base,
    baseKey: backup.key,
    baseTargetId: backup.targetId,
    baseSha256: backup.sha256,
    target: at,
    wal: [
      ...histories.map((h) => ({ file: h.file, key: h.key, partial: false, storageTargetIds: h.storageTargetIds, sha256: h.sha256 })),
      ...needed.map((x) => ({ file: x.s.name, key: x.r.key, partial: x.r.partial, storageTargetIds: x.r.storageTargetIds, sha256: x.r.sha256 })),
    ],
  };
}

export type PreparedDataDir = {
  dataDir: string;
  walSpool: string;
  /** The exact command that starts it (as the postgres user), for the README and the user. */
  startCommand: string;
};

/**
 * Builds a ready data directory for `plan`: the base backup unpacked into `dataDir`, the needed
 * WAL fetched into `<dataDir>.wal` (decompressed; a partial segment padded to the segment size),
 * `restore_command = 'cp <spool>/%f %p'`, `recovery_target_time` and `recovery_target_action =
 * 'promote'` in postgresql.auto.conf, and recovery.signal. Starting it replays the WAL to the
 * target; PostgreSQL itself refuses to open when the target is not reached.
 */
export async function prepareDataDir(
  plan: PgRestorePlan,
  storeFor: (targetId: number) => Promise<ArtifactStore>,
  dataDir: string,
  options: { segmentBytes?: number; port?: number; decryption?: Decryption } = {},
): Promise<PreparedDataDir> {
  const { decryption } = options;
  const segmentBytes = options.segmentBytes ?? 16 * 1024 * 1024;
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  if ((await fs.readdir(dataDir)).length) throw new Error(`${dataDir} is not empty`);
  await fs.chmod(dataDir, 0o700);
  const walSpool = `${dataDir}.wal`;
  await fs.mkdir(walSpool, { recursive: true, mode: 0o700 });
  // Base backup: zstd -d | tar -x.
  const baseStore = await storeFor(plan.baseTargetId);
  const baseFile = `${dataDir}.base.tar.zst`;
  await fetchVerified(baseStore, plan.baseKey, baseFile, plan.baseSha256, decryption);
  await run("tar", ["-I", "zstd", "-xf", baseFile, "-C", dataDir]).catch((error: Error & { stderr?: string }) => {
    throw new Error(`unpacking base backup ${plan.baseKey} failed: ${error.stderr ?? error.message}`);
  });
  await fs.rm(baseFile, { force: true });
  for (const w of plan.wal) {
    const store = await storeFor(w.storageTargetIds[0]!);
    const out = path.join(walSpool, w.file);
    if (isHistoryFile(w.file)) {
      await fetchVerified(store, w.key, out, w.sha256, decryption);
      continue;
    }
    // Fetched whole, then decompressed file to file (lz4 reports an unfinished frame of a partial segment but writes what it decoded).
    let partial = w.partial;
    try {
      await fetchVerified(store, w.key, `${out}.lz4`, w.sha256, decryption);
    } catch (error) {
      // The segment was completed since the plan was made: its partial copy gave way to the whole segment (checked against its own manifest).
      const whole = w.key.replace(/\.partial\.lz4(\.age)?$/, ".lz4$1");
      if (!w.partial || whole === w.key || !(error instanceof StorageError && error.code === "NOT_FOUND")) throw error;
      const manifest = JSON.parse((await buffer(await store.get(whole + PITR_MANIFEST_SUFFIX))).toString("utf8")) as { sha256: string };
      await fetchVerified(store, whole, `${out}.lz4`, manifest.sha256, decryption);
      partial = false;
    }
    const exit = await run("lz4", ["-d", "-q", "-f", `${out}.lz4`, out]).then(
      () => null,
      (error: Error & { stderr?: string }) => error.stderr ?? error.message,
    );
    await fs.rm(`${out}.lz4`, { force: true });
    if (exit !== null && !partial) throw new Error(`WAL segment ${w.file} could not be decompressed: ${exit}`);
    const size = (await fs.stat(out)).size;
    if (size < segmentBytes) {
      if (!partial) throw new Error(`WAL segment ${w.file} is ${size} bytes, not ${segmentBytes}`);
      await fs.truncate(out, segmentBytes);
    }
  }
  const conf = [
    "",
    "# Added by SQLGuard: point-in-time recovery",
    `restore_command = 'cp ${walSpool}/%f %p'`,
    ...(plan.targetLsn
      ? [`recovery_target_lsn = '${plan.targetLsn}'`, "recovery_target_inclusive = false"]
      : [`recovery_target_time = '${plan.target.toISOString().replace("T", " ").replace("Z", "+00")}'`, "recovery_target_inclusive = true"]),
    "recovery_target_action = 'promote'",
    "archive_mode = off",
    ...(options.port ? [`port = ${options.port}`] : []),
    "",
  ].join("\n");
  await fs.appendFile(path.join(dataDir, "postgresql.auto.conf"), conf);
  await fs.writeFile(path.join(dataDir, "recovery.signal"), "");
  // A replica's leftovers would make it wait for a primary.
  await fs.rm(path.join(dataDir, "standby.signal"), { force: true });
  await fs.mkdir(path.join(dataDir, "pg_wal"), { recursive: true });
  return {
    dataDir,
    walSpool,
    startCommand: `pg_ctl -D ${dataDir} -l ${dataDir}.log${options.port ? ` -o "-p ${options.port}"` : ""} start`,
  };
}

/**
 * Copies one archive object to `file`, checking its SHA-256 (over the stored bytes) against the
 * record's on the way, and opening it with `decryption` when it is an age file (`….age`).
 */
async function fetchVerified(store: ArtifactStore, key: string, file: string, sha256: string | null, decryption?: Decryption): Promise<void> {
  const hash = createHash("sha256");
  const tap = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  const open = isEncryptedKey(key) ? [new AgeDecrypt(decryption?.identities ?? [], decryption?.noIdentity ?? noDecryption(key))] : [];
  const flow = await pipeline([await store.get(key), tap, ...open, createWriteStream(file)]).then(
    () => null,
    (error: Error) => error,
  );
  const got = hash.digest("hex");
  // A damaged object fails its checksum (or age's authentication first): either way it is named as damaged.
  if (flow instanceof AgeError && flow.code !== "NO_IDENTITY") throw new Error(`archive object ${key} is damaged: ${flow.message}`);
  if (flow) throw flow;
  if (sha256 && got !== sha256) throw new Error(`archive object ${key} does not match its checksum (SHA-256 ${got}, recorded ${sha256})`);
}

/** Waits until the restored instance on `port` has left recovery (promoted at the target), or throws with its log's tail. */
export async function waitForPromotion(port: number, logFile: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { stdout } = await run("psql", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-Atqc", "SELECT pg_is_in_recovery()"]);
      if (stdout.trim() === "f") return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      const tail = await fs.readFile(logFile, "utf8").catch(() => "");
      throw new Error(`the restored instance did not finish recovery: ${tail.slice(-1500)}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

export type { StorageTarget };

/**
 * restoreBackup({ pointInTime }) on PostgreSQL: the base backup the restore starts from (the
 * newest before `at` whose WAL reaches it, planPgRestore), for `named`, a logical backup of the
 * database to restore. Throws ValidationError (field pointInTime) saying why it cannot be done.
 */
export async function pgBaseBackupFor(prisma: PrismaClient, named: { serverId: number | null; database: string }, at: Date, force: boolean) {
  if (named.database === CLUSTER_DATABASE)
    throw new ValidationError(
      "backupId",
      "a base backup holds the whole cluster: name a backup of the database to restore to a point in time (the CLI's restore --point-in-time --data-dir hands over a whole data directory)",
    );
  try {
    const plan = await planPgRestore(prisma, named.serverId!, at, { force });
    return await prisma.backup.findUniqueOrThrow({ where: { id: plan.backupId }, include: { artifacts: true } });
  } catch (error) {
    if (error instanceof PgPitrRefusedError) throw new ValidationError("pointInTime", error.message);
    throw error;
  }
}
