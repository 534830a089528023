import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createWriteStream } from "node:fs";
import type { PrismaClient } from "../db/client.ts";
import type { PitrArchive } from "../db/generated/client.ts";
import { mysqlConnectionArgs } from "../process/client-args.ts";
import type { ServerConnection } from "../process/server-connection.ts";
import { spawnChild, spawnReading } from "../process/spawn.ts";
import { firstMysqlProgram } from "../process/programs.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { binlogSequence, gtidState, gtidStopOffset } from "./binlog-file.ts";
import { AgeDecrypt } from "../encryption/age-stream.ts";
import { AgeError } from "../encryption/age-header.ts";
import { type Decryption, isEncryptedKey } from "../encryption/artifact-decryption.ts";
import { noDecryption } from "./archive-crypto.ts";

/** A point-in-time restore that cannot be done: the message says why. */
export class PitrRefusedError extends Error {
  override readonly name = "PitrRefusedError";
}

/** Where a replay stops: at a time (exclusive), after a MariaDB GTID (inclusive), or at a binlog position. */
export type ReplayStop =
  | { at: Date }
  /** Up to and including this transaction ("domain-server-seq"). */
  | { gtid: string }
  /** Events that start before `position` in `file` (the position SHOW MASTER STATUS reports after the last one). */
  | { file: string; position: number };

/** The archived files one replay reads, in order, and where in the first one it starts. */
export type ReplayPlan = {
  files: Array<
    Pick<PitrArchive, "file" | "key" | "partial" | "sha256" | "storageTargetIds" | "breakReason" | "lastEventAt"> &
      Partial<Pick<PitrArchive, "gtidListAtStart" | "gtidStateAtEnd" | "endPosition">>
  >;
  startFile: string;
  startPosition: number;
  stop: ReplayStop;
  /** The time a time stop stops at (null for a GTID or a position). */
  stopAt: Date | null;
};

/** The dump position a replay starts from (the backup's recorded `position`). */
export type DumpPosition = { binlogFile?: string; binlogPosition?: number; gtidSet?: string };

/** "at 2026-…Z", "after GTID 0-1-42", "at mysql-bin.000007:1234": for messages and logs. */
export function describeStop(stop: ReplayStop): string {
  if ("at" in stop) return stop.at.toISOString();
  if ("gtid" in stop) return `GTID ${stop.gtid}`;
  return `${stop.file}:${stop.position}`;
}

/** "mysql-bin.000007:1234" → { file, position }; null when it is not of that shape. */
export function parseBinlogPosition(text: string): { file: string; position: number } | null {
  const m = /^([A-Za-z0-9_.-]+\.\d+):(\d{1,15})$/.exec(text.trim());
  if (!m || Number(m[2]) < 4) return null;
  return { file: m[1]!, position: Number(m[2]) };
}

/** A MariaDB GTID "domain-server-seq" → its parts; null when it is not one. */
export function parseGtid(text: string): { domain: number; serverId: number; seq: bigint } | null {
  const m = /^(\d{1,10})-(\d{1,10})-(\d{1,20})$/.exec(text.trim());
  if (!m) return null;
  return { domain: Number(m[1]), serverId: Number(m[2]), seq: BigInt(m[3]!) };
}

/** Whether binlog position a is before b (file number, then offset). */
export function positionBefore(a: { file: string; position: number }, b: { file: string; position: number }): boolean {
  const x = binlogSequence(a.file)!;
  const y = binlogSequence(b.file)!;
  return x < y || (x === y && a.position < b.position);
}

/**
 * The binlogs to replay from a dump's exact position up to `stop`: every archived file from the
 * dump's file on, in sequence, up to the first one whose last event reaches the time (the open
 * file's partial copy when the time is in it), the file holding the GTID, or the position's file.
 * Throws PitrRefusedError when the dump has no position, a file is missing, the chain breaks in
 * between (unless `force`), the target is before the dump, or the archive does not reach it yet.
 */
export function planReplay(
  archives: ReplayPlan["files"],
  position: DumpPosition | null,
  stopAt: Date | ReplayStop,
  options: { force?: boolean; streamBrokenReason?: string | null } = {},
): ReplayPlan {
  const stop: ReplayStop = stopAt instanceof Date ? { at: stopAt } : stopAt;
  if (!position?.binlogFile || position.binlogPosition === undefined) {
    throw new PitrRefusedError("the dump has no exact binlog position (it was taken before point-in-time recovery was on): it cannot start a replay");
  }
  const startSeq = binlogSequence(position.binlogFile)!;
  const start = { file: position.binlogFile, position: position.binlogPosition };
  const base = { startFile: position.binlogFile, startPosition: position.binlogPosition, stop, stopAt: "at" in stop ? stop.at : null };
  const gtid = "gtid" in stop ? parseGtid(stop.gtid) : null;
  if ("gtid" in stop) {
    if (!gtid) throw new PitrRefusedError(`${JSON.stringify(stop.gtid)} is not a MariaDB GTID (domain-server-seq)`);
    const dumped = gtidState(position.gtidSet ?? null).get(gtid.domain);
    if (dumped && dumped.seq > gtid.seq)
      throw new PitrRefusedError(`the dump already holds GTID ${stop.gtid} (its GTID state is ${position.gtidSet}): pick an older dump`);
    // The dump is exactly at that transaction: nothing to replay.
    if (dumped && dumped.seq === gtid.seq) return { ...base, files: [] };
  }
  if ("file" in stop) {
    if (binlogSequence(stop.file) === null) throw new PitrRefusedError(`${stop.file} is not a binlog file name`);
    if (positionBefore(stop, start)) throw new PitrRefusedError(`${describeStop(stop)} is before the dump's position ${start.file}:${start.position}`);
  }
  const chain = archives.filter((a) => binlogSequence(a.file)! >= startSeq).sort((a, b) => binlogSequence(a.file)! - binlogSequence(b.file)!);
  if (chain[0]?.file !== position.binlogFile) {
    throw new PitrRefusedError(`binlog ${position.binlogFile}, where the dump's position is, was never archived: the chain starts later`);
  }
  const files: ReplayPlan["files"] = [];
  let reached = false;
  for (const [index, archive] of chain.entries()) {
    if (index > 0) {
      const prev = binlogSequence(chain[index - 1]!.file)!;
      if (binlogSequence(archive.file) !== prev + 1 && !options.force) {
        throw new PitrRefusedError(
          `binlog files between ${chain[index - 1]!.file} and ${archive.file} are not archived: the chain is broken there, so no restore can reach past it`,
        );
      }
      if (archive.breakReason && !options.force) {
        throw new PitrRefusedError(
          `the binlog archive chain is broken at ${archive.file} (${archive.breakReason}): ${describeStop(stop)} is past the break; restore to an earlier point, or force the restore`,
        );
      }
    }
    files.push(archive);
    if ("at" in stop) {
      if (archive.lastEventAt && archive.lastEventAt.getTime() >= stop.at.getTime()) break;
      if (archive.partial) break;
    } else if ("file" in stop) {
      if (binlogSequence(archive.file)! >= binlogSequence(stop.file)!) {
        reached = archive.file === stop.file && archive.endPosition !== undefined && Number(archive.endPosition) >= stop.position;
        break;
      }
    } else {
      const after = gtidState(archive.gtidStateAtEnd ?? null).get(gtid!.domain);
      if (after && after.seq >= gtid!.seq) {
        reached = true;
        break;
      }
    }
  }
  const last = files.at(-1)!;
  const broken = options.streamBrokenReason ? ` (the binlog archive chain is broken: ${options.streamBrokenReason})` : " yet";
  if ("at" in stop) {
    if (!last.lastEventAt || (last.lastEventAt.getTime() < stop.at.getTime() - 1000 && files.length === chain.length)) {
      throw new PitrRefusedError(
        `the binlog archive reaches only ${last.lastEventAt?.toISOString() ?? "the dump"}: ${stop.at.toISOString()} is not recoverable${broken}`,
      );
    }
  } else if (!reached) {
    throw new PitrRefusedError(
      `the binlog archive does not hold ${describeStop(stop)}: it reaches ${last.file}${last.endPosition !== undefined ? `:${last.endPosition}` : ""}, so it is not recoverable${broken}`,
    );
  }
  return { ...base, files };
}

/** The archive rows of one server and the stream's break, for planReplay. */
export async function archivesOf(prisma: PrismaClient, serverId: number) {
  const [archives, stream] = await Promise.all([prisma.pitrArchive.findMany({ where: { serverId } }), prisma.pitrStream.findUnique({ where: { serverId } })]);
  return { archives, streamBrokenReason: stream?.brokenReason ?? null };
}

export type ReplayTarget = {
  conn: ServerConnection;
  /** The database the dump was restored into. */
  database: string;
  /** The database name in the source's binlog (rewritten to `database` when different). */
  sourceDatabase: string;
  /** Restoring onto the source server itself: the replay must not enter its binlog again. */
  sameServer: boolean;
};

/**
 * Replays `plan` into `target` in ONE `mariadb-binlog … | mariadb` session: the files fetched
 * from `store` (checked against their SHA-256) and decompressed into a temporary directory, read
 * from the dump's exact position to --stop-datetime (UTC), filtered to the source database and
 * renamed with --rewrite-db, and, onto the same server, with sql_log_bin=0 (--disable-log-bin).
 * An encrypted archive (`….zst.age`) is opened with `options.decryption` on the way (its SHA-256
 * is over the stored, encrypted bytes). Throws with the tools' stderr when either fails,
 * PitrRefusedError when an object is missing or damaged, AgeError NO_IDENTITY when none of the
 * identities opens one.
 */
export async function replayBinlogs(
  plan: ReplayPlan,
  store: ArtifactStore,
  target: ReplayTarget,
  options: { signal?: AbortSignal; decryption?: Decryption } = {},
): Promise<{ files: number }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-pitr-replay-"));
  try {
    const local: string[] = [];
    for (const archive of plan.files) {
      const file = path.join(dir, archive.file);
      const body = await store.get(archive.key, options).catch((error: { code?: string }) => {
        if (error.code === "NOT_FOUND")
          throw new PitrRefusedError(`binlog archive ${archive.key} is missing from storage: the chain is broken at ${archive.file}`);
        throw error;
      });
      const zstd = spawnChild("zstd", ["-d", "-q", "-c"], { signal: options.signal });
      const hashing = await import("node:crypto").then((c) => c.createHash("sha256"));
      body.on("data", (c: Buffer) => hashing.update(c));
      const open = isEncryptedKey(archive.key)
        ? [new AgeDecrypt(options.decryption?.identities ?? [], options.decryption?.noIdentity ?? noDecryption(archive.key))]
        : [];
      await Promise.all([pipeline([body, ...open, zstd.stdin]), pipeline(zstd.stdout, createWriteStream(file))]).catch((error: unknown) => {
        zstd.stdin.destroy();
        if (error instanceof AgeError && error.code !== "NO_IDENTITY")
          throw new PitrRefusedError(`binlog archive ${archive.key} is damaged (${error.message}): the chain is broken at ${archive.file}`);
        throw error;
      });
      const exit = await zstd.exited;
      if (exit.code !== 0) throw new Error(`zstd could not decompress ${archive.key}: ${exit.stderrTail}`);
      if (hashing.digest("hex") !== archive.sha256) throw new PitrRefusedError(`binlog archive ${archive.key} does not match its SHA-256: it is damaged`);
      local.push(file);
    }
    const binlog = await firstMysqlProgram(["mariadb-binlog", "mysqlbinlog"], process.env.PATH ?? "");
    const client = await firstMysqlProgram(["mariadb", "mysql"], process.env.PATH ?? "");
    if (!binlog || !client) throw new Error("mariadb-binlog (or mysqlbinlog) and the mariadb client are needed for a point-in-time restore");
    if (!local.length) return { files: 0 };
    const args = [
      "--no-defaults",
      `--start-position=${plan.startPosition}`,
      // A numeric --stop-position applies to the last file named: the target's file.
      ...(await stopArgs(plan, local.at(-1)!)),
      // Row events name their database in the table map: only the restored database's events.
      // MariaDB filters on the name in the binlog, before --rewrite-db renames it.
      `--database=${target.sourceDatabase}`,
      ...(target.database !== target.sourceDatabase ? [`--rewrite-db=${target.sourceDatabase}->${target.database}`] : []),
      ...(target.sameServer ? ["--disable-log-bin"] : []),
      ...local,
    ];
    // --stop-datetime is read in the local time zone of mariadb-binlog: UTC, as the API's times are.
    const reader = spawnChild(binlog.path, args, { env: { TZ: "UTC" }, signal: options.signal });
    const loader = spawnReading(client.path, [...mysqlConnectionArgs(target.conn, client.flavor), `--database=${target.database}`], reader.stdout, {
      env: target.conn.password ? { MYSQL_PWD: target.conn.password } : {},
      signal: options.signal,
    });
    reader.stdout.destroy();
    const [readExit, loadExit] = await Promise.all([reader.exited, loader.exited]);
    if (loadExit.code !== 0) throw new Error(`the binlog replay failed in ${path.basename(client.path)}: ${loadExit.stderrTail.trim().slice(-1000)}`);
    if (readExit.code !== 0) throw new Error(`the binlog replay failed in ${path.basename(binlog.path)}: ${readExit.stderrTail.trim().slice(-1000)}`);
    return { files: local.length };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * mariadb-binlog's stop for the plan: --stop-datetime (UTC), or --stop-position at the offset in
 * the last file; a GTID becomes the offset where its transaction ends (the next GTID event, else
 * the end of the file's complete events), found in the file itself, so that one numeric start and
 * stop apply (rather than a GTID stop mixed with the dump's numeric start offset).
 */
async function stopArgs(plan: ReplayPlan, lastFile: string): Promise<string[]> {
  const { stop } = plan;
  if ("at" in stop) return [`--stop-datetime=${mysqlDatetime(stop.at)}`];
  if ("file" in stop) return [`--stop-position=${stop.position}`];
  const offset = gtidStopOffset(await fs.readFile(lastFile), stop.gtid);
  if (offset === null) throw new PitrRefusedError(`GTID ${stop.gtid} is not in ${path.basename(lastFile)}, the archived file whose GTID state reaches it`);
  return [`--stop-position=${offset}`];
}

/** "2026-12-02 17:00:00" (UTC) for --stop-datetime. */
export function mysqlDatetime(at: Date): string {
  return at.toISOString().slice(0, 19).replace("T", " ");
}
