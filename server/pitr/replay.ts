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
import { binlogSequence } from "./binlog-file.ts";

/** A point-in-time restore that cannot be done: the message says why. */
export class PitrRefusedError extends Error {
  override readonly name = "PitrRefusedError";
}

/** The archived files one replay reads, in order, and where in the first one it starts. */
export type ReplayPlan = {
  files: Array<Pick<PitrArchive, "file" | "key" | "partial" | "sha256" | "storageTargetIds" | "breakReason" | "lastEventAt">>;
  startFile: string;
  startPosition: number;
  stopAt: Date;
};

/** The dump position a replay starts from (the backup's recorded `position`). */
export type DumpPosition = { binlogFile?: string; binlogPosition?: number; gtidSet?: string };

/**
 * The binlogs to replay from a dump's exact position up to `stopAt`: every archived file from the
 * dump's file on, in sequence, up to the first one whose last event reaches `stopAt` (the open
 * file's partial copy when the time is in it). Throws PitrRefusedError when the dump has no
 * position, a file is missing, the chain breaks in between (unless `force`), or the archive does
 * not reach `stopAt` yet.
 */
export function planReplay(
  archives: ReplayPlan["files"],
  position: DumpPosition | null,
  stopAt: Date,
  options: { force?: boolean; streamBrokenReason?: string | null } = {},
): ReplayPlan {
  if (!position?.binlogFile || position.binlogPosition === undefined) {
    throw new PitrRefusedError("the dump has no exact binlog position (it was taken before point-in-time recovery was on): it cannot start a replay");
  }
  const startSeq = binlogSequence(position.binlogFile)!;
  const chain = archives.filter((a) => binlogSequence(a.file)! >= startSeq).sort((a, b) => binlogSequence(a.file)! - binlogSequence(b.file)!);
  if (chain[0]?.file !== position.binlogFile) {
    throw new PitrRefusedError(`binlog ${position.binlogFile}, where the dump's position is, was never archived: the chain starts later`);
  }
  const files: ReplayPlan["files"] = [];
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
          `the binlog archive chain is broken at ${archive.file} (${archive.breakReason}): ${stopAt.toISOString()} is past the break; restore to an earlier time, or force the restore`,
        );
      }
    }
    files.push(archive);
    if (archive.lastEventAt && archive.lastEventAt.getTime() >= stopAt.getTime()) break;
    if (archive.partial) break;
  }
  const last = files.at(-1)!;
  if (!last.lastEventAt || (last.lastEventAt.getTime() < stopAt.getTime() - 1000 && files.length === chain.length)) {
    throw new PitrRefusedError(
      `the binlog archive reaches only ${last.lastEventAt?.toISOString() ?? "the dump"}: ${stopAt.toISOString()} is not recoverable${options.streamBrokenReason ? ` (the binlog archive chain is broken: ${options.streamBrokenReason})` : " yet"}`,
    );
  }
  return { files, startFile: position.binlogFile, startPosition: position.binlogPosition, stopAt };
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
 * Throws with the tools' stderr when either fails, or PitrRefusedError when an object is missing.
 */
export async function replayBinlogs(
  plan: ReplayPlan,
  store: ArtifactStore,
  target: ReplayTarget,
  options: { signal?: AbortSignal } = {},
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
      await Promise.all([pipeline(body, zstd.stdin), pipeline(zstd.stdout, createWriteStream(file))]);
      const exit = await zstd.exited;
      if (exit.code !== 0) throw new Error(`zstd could not decompress ${archive.key}: ${exit.stderrTail}`);
      if (hashing.digest("hex") !== archive.sha256) throw new PitrRefusedError(`binlog archive ${archive.key} does not match its SHA-256: it is damaged`);
      local.push(file);
    }
    const binlog = await firstMysqlProgram(["mariadb-binlog", "mysqlbinlog"], process.env.PATH ?? "");
    const client = await firstMysqlProgram(["mariadb", "mysql"], process.env.PATH ?? "");
    if (!binlog || !client) throw new Error("mariadb-binlog (or mysqlbinlog) and the mariadb client are needed for a point-in-time restore");
    const args = [
      "--no-defaults",
      `--start-position=${plan.startPosition}`,
      `--stop-datetime=${mysqlDatetime(plan.stopAt)}`,
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

/** "2026-12-02 17:00:00" (UTC) for --stop-datetime. */
export function mysqlDatetime(at: Date): string {
  return at.toISOString().slice(0, 19).replace("T", " ");
}
