import os from "node:os";
import path from "node:path";
import type { RestoreTarget } from "../restore/restore-artifact.ts";
import { restoreArtifact } from "../restore/restore-artifact.ts";
import { dumpAtTime } from "../pitr/pg/restore-database.ts";
import { prepareDataDir } from "../pitr/pg/restore-to-time.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { planPgFromStorage } from "./cli-pitr.ts";
import { identityFileDecryption } from "./cli-inputs.ts";
import { isEncryptedKey } from "../encryption/artifact-decryption.ts";
import { UsageError, type CliIo } from "./usage.ts";

/**
 * `sqlguard restore --point-in-time` of a PostgreSQL backup, from the storage alone (the base
 * backup and WAL manifests beside the dump, under `pitr/<server>/`):
 * - `--data-dir DIR`: DIR becomes a ready data directory that replays to the time when started
 *   (recovery_target_time, recovery_target_action = 'promote'); the exact start command is printed;
 * - otherwise the cluster is replayed to the time in a temporary instance on a free port, the
 *   dump's database dumped from it (SHA-256) and restored into `--to` like any artifact; the
 *   temporary instance and its directory are removed in the end, whatever happened.
 */
export async function restorePgAtTime(
  args: {
    store: ArtifactStore;
    serverName: string;
    sourceDatabase: string;
    at: Date;
    force: boolean;
    dataDir: string | undefined;
    target: RestoreTarget | null;
    workRoot: string | undefined;
    clusterUser: string | undefined;
    /** `--identity`: the age identity file that opens an encrypted archive. */
    identity: string | undefined;
  },
  io: CliIo,
  signal: AbortSignal,
): Promise<number> {
  const plan = await planPgFromStorage(args.store, args.serverName, args.at, args.force).catch((error: Error) => {
    throw new UsageError("--point-in-time", error.message);
  });
  const storeFor = async () => args.store;
  // Checked before anything is fetched: an encrypted archive needs an identity.
  const encrypted = [plan.baseKey, ...plan.wal.map((w) => w.key)].some(isEncryptedKey);
  const keys = "the keys the archive manifests name (`encryption.recipients`)";
  if (encrypted && !args.identity)
    throw new UsageError("--identity", `the point-in-time archive is encrypted (age): give the age identity file of a key it opens with: ${keys}`);
  const decryption = encrypted ? await identityFileDecryption(args.identity!, keys) : undefined;
  io.err(
    `base backup ${plan.baseKey} (started ${plan.base.startTime}, WAL from ${plan.base.startSegment}), ${plan.wal.length} WAL file(s) to ${plan.target.toISOString()}`,
  );
  try {
    if (args.dataDir) {
      const dataDir = path.resolve(args.dataDir);
      const prepared = await prepareDataDir(plan, storeFor, dataDir, { decryption });
      io.out(
        `a ready data directory is in ${prepared.dataDir} (WAL in ${prepared.walSpool}); it replays to ${plan.target.toISOString()} and is promoted there.`,
      );
      io.out(
        `start it as the user that owns it (chown -R postgres: ${prepared.dataDir} ${prepared.walSpool}), with PostgreSQL ${"≥"} the source's major version's binaries:`,
      );
      io.out(`  ${prepared.startCommand}`);
      return 0;
    }
    if (!args.target) throw new UsageError("--to", "is required without --data-dir: the server to restore the database into");
    const user = args.clusterUser ?? args.target.conn.username;
    const done = await dumpAtTime(storeFor, plan, {
      database: args.sourceDatabase,
      user,
      workRoot: args.workRoot ?? os.tmpdir(),
      label: "cli",
      signal,
      decryption,
    });
    try {
      const outcome = await restoreArtifact(done.source, args.target, { signal });
      io.out(
        `restored ${args.sourceDatabase} as of ${plan.target.toISOString()} into ${JSON.stringify(args.target.database)}: ${outcome.rawBytes} bytes, SHA-256 ${outcome.sha256} verified`,
      );
      return 0;
    } finally {
      await done.discard();
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    io.err(`sqlguard restore: ${(error as Error).message}`);
    return 1;
  }
}
