import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import type { PrismaClient } from "../db/client.ts";
import type { Logger } from "../observability/logger.ts";
import { spawnChild } from "../process/spawn.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { binlogSequence, readBinlogFile, sameGtidState, type BinlogSummary } from "./binlog-file.ts";
import { pitrArchiveKey, PITR_MANIFEST_SUFFIX } from "./archive-keys.ts";
import { encryptArchive } from "./archive-crypto.ts";
import type { RecipientKey } from "../encryption/keys.service.ts";
import { manifestEncryption, type ManifestEncryption } from "../runner/manifest.ts";

export type PitrTarget = { id: number; store: ArtifactStore };

export type ArchiverOptions = {
  prisma: PrismaClient;
  logger: Logger;
  serverId: number;
  serverName: string;
  /** The server's spool directory: the streamer writes here, nothing else does. */
  spoolDir: string;
  targets: PitrTarget[];
  /** Ship the open file at least this often. */
  rpoSeconds: number;
  /** The source's identity ("mariadb:<server_id>" or MySQL's server_uuid), read when the stream starts. */
  sourceIdentity(): string | null;
  /** The keys to encrypt each shipment to (the server's dump profile encrypts), or null; read per shipment. */
  recipients?(): Promise<RecipientKey[] | null>;
  now?(): number;
};

/** What the archive manifest beside each object records (storage alone is enough to restore). */
export type PitrManifest = {
  kind: "sqlguard-binlog";
  server: string;
  serverId: number;
  sourceServerId: number | null;
  sourceIdentity: string;
  file: string;
  partial: boolean;
  firstEventAt: string | null;
  lastEventAt: string | null;
  gtidListAtStart: string | null;
  lastGtid: string | null;
  gtidStateAtEnd: string | null;
  endPosition: number;
  sizeBytes: number;
  storedBytes: number;
  /** Over the stored bytes (compressed, then encrypted when `encryption` is set). */
  sha256: string;
  breakReason: string | null;
  /** Set when the object is an age v1 file (its key ends in `.age`): zstd inside age. */
  encryption?: ManifestEncryption;
};

/**
 * Ships the spool's binlog files to the PITR targets: each closed file (a later one exists, or
 * it ends with ROTATE/STOP) compressed with zstd, SHA-256 checked, stored with its manifest, its
 * continuity with the previous file checked, then removed from the spool, only once every target
 * holds it; the open file as `<file>.partial.zst` at least every rpoSeconds. On a server whose
 * dump profile encrypts, each object is then an age v1 file (`….zst.age`) to the current keys.
 */
export class PitrArchiver {
  readonly #o: ArchiverOptions;
  #lastPartial = new Map<string, { at: number; end: number }>();
  /** Partial copies of each open file that a newer copy replaced, not deleted yet. */
  readonly #superseded = new Map<string, string[]>();

  constructor(options: ArchiverOptions) {
    this.#o = options;
  }

  /** One pass over the spool; returns the files archived (closed) in it. Never throws for one bad target. */
  async tick(): Promise<string[]> {
    const names = (await fs.readdir(this.#o.spoolDir).catch(() => [] as string[]))
      .filter((n) => binlogSequence(n) !== null && !n.endsWith(".zst"))
      .sort((a, b) => binlogSequence(a)! - binlogSequence(b)!);
    const archived: string[] = [];
    for (const [index, name] of names.entries()) {
      const file = path.join(this.#o.spoolDir, name);
      let summary: BinlogSummary;
      try {
        summary = await readBinlogFile(file);
      } catch {
        continue; // just created, not even the magic number yet
      }
      const closed = index < names.length - 1 || summary.closed;
      if (closed) {
        if (await this.#ship(name, file, summary, false)) {
          archived.push(name);
          await fs.rm(file, { force: true });
        }
      } else {
        const now = this.#now();
        const last = this.#lastPartial.get(name);
        const due = !last || (now - last.at >= this.#o.rpoSeconds * 1000 && summary.endPosition > last.end);
        if (due && summary.firstEventAt && (await this.#ship(name, file, summary, true))) this.#lastPartial.set(name, { at: now, end: summary.endPosition });
      }
    }
    return archived;
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  /** Stores one file on every target; true when all of them hold it (and its manifest). */
  async #ship(name: string, file: string, summary: BinlogSummary, partial: boolean): Promise<boolean> {
    const { prisma, logger, serverId } = this.#o;
    const existing = await prisma.pitrArchive.findUnique({ where: { serverId_file: { serverId, file: name } } });
    if (existing && !existing.partial) return true; // archived already (the streamer fetched it again after a restart)
    // Only the complete events: the file may be mid-write.
    const raw = (await fs.readFile(file)).subarray(0, summary.endPosition);
    const recipients = (await this.#o.recipients?.()) ?? null;
    const compressed = await zstd(raw);
    const body = recipients ? await encryptArchive(compressed, recipients) : compressed;
    const sha256 = createHash("sha256").update(body).digest("hex");
    const identity = this.#o.sourceIdentity() ?? `mariadb:${summary.serverId ?? 0}`;
    const breakReason = partial && existing ? existing.breakReason : await this.#continuity(name, summary, identity);
    const key = pitrArchiveKey(this.#o.serverName, name, partial, summary.endPosition) + (recipients ? ".age" : "");
    const manifest: PitrManifest = {
      kind: "sqlguard-binlog",
      server: this.#o.serverName,
      serverId,
      sourceServerId: summary.serverId,
      sourceIdentity: identity,
      file: name,
      partial,
      firstEventAt: summary.firstEventAt?.toISOString() ?? null,
      lastEventAt: summary.lastEventAt?.toISOString() ?? null,
      gtidListAtStart: summary.gtidListAtStart,
      lastGtid: summary.lastGtid,
      gtidStateAtEnd: summary.gtidStateAtEnd,
      endPosition: summary.endPosition,
      sizeBytes: raw.length,
      storedBytes: body.length,
      sha256,
      breakReason,
      ...(recipients ? { encryption: manifestEncryption(recipients) } : {}),
    };
    const results = await Promise.all(
      this.#o.targets.map(async (t) => {
        try {
          await t.store.put(key, Readable.from([body]), { contentType: recipients ? "application/octet-stream" : "application/zstd" });
          await t.store.put(key + PITR_MANIFEST_SUFFIX, Readable.from([Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)]), {
            contentType: "application/json",
          });
          return t.id;
        } catch (error) {
          logger.warn({ err: error, storageTargetId: t.id, file: name }, "a binlog archive could not be stored");
          return null;
        }
      }),
    );
    const stored = results.filter((id): id is number => id !== null);
    if (stored.length === 0) return false;
    const data = {
      partial,
      sourceServerId: summary.serverId ?? 0,
      sourceIdentity: identity,
      firstEventAt: summary.firstEventAt,
      lastEventAt: summary.lastEventAt,
      gtidListAtStart: summary.gtidListAtStart,
      lastGtid: summary.lastGtid,
      gtidStateAtEnd: summary.gtidStateAtEnd,
      endPosition: BigInt(summary.endPosition),
      sizeBytes: BigInt(raw.length),
      storedBytes: BigInt(body.length),
      sha256,
      key,
      storageTargetIds: stored,
      breakReason,
    };
    await prisma.pitrArchive.upsert({ where: { serverId_file: { serverId, file: name } }, create: { serverId, file: name, ...data }, update: data });
    // Superseded partial copies go one shipment later: a replay may be reading the previous one now.
    const superseded = this.#superseded.get(name) ?? [];
    if (existing?.partial && existing.key !== key) superseded.push(existing.key);
    const drop = partial ? superseded.splice(0, Math.max(0, superseded.length - 1)) : superseded.splice(0);
    this.#superseded.set(name, superseded);
    if (!partial) this.#superseded.delete(name);
    await Promise.all(
      drop.flatMap((old) =>
        this.#o.targets.map((t) =>
          t.store
            .delete(old)
            .then(() => t.store.delete(old + PITR_MANIFEST_SUFFIX))
            .catch(() => {}),
        ),
      ),
    );
    await prisma.pitrStream.upsert({
      where: { serverId },
      create: {
        serverId,
        lastFile: name,
        lastArchivedAt: new Date(this.#now()),
        lastEventAt: summary.lastEventAt,
        sourceServerId: summary.serverId,
        sourceIdentity: identity,
      },
      update: {
        lastFile: name,
        lastArchivedAt: new Date(this.#now()),
        lastEventAt: summary.lastEventAt,
        sourceServerId: summary.serverId,
        sourceIdentity: identity,
        ...(breakReason ? { brokenAt: new Date(this.#now()), brokenFromFile: name, brokenReason: breakReason } : {}),
      },
    });
    if (breakReason) logger.error({ file: name, reason: breakReason }, "the binlog archive chain is broken");
    return stored.length === this.#o.targets.length;
  }

  /**
   * Why `name` does not follow the last archived file, or null when it does: the next file number,
   * the same source, and (MariaDB) a starting GTID state equal, as a set, to the previous end state.
   */
  async #continuity(name: string, summary: BinlogSummary, identity: string): Promise<string | null> {
    const { prisma, serverId } = this.#o;
    const previous = (await prisma.pitrArchive.findMany({ where: { serverId, partial: false, NOT: { file: name } } }))
      .sort((a, b) => binlogSequence(a.file)! - binlogSequence(b.file)!)
      .at(-1);
    const stream = await prisma.pitrStream.findUnique({ where: { serverId } });
    if (stream?.brokenReason && stream.brokenFromFile === name) return stream.brokenReason; // marked when the streamer started (a purge)
    if (!previous) return null;
    if (previous.sourceIdentity !== identity)
      return `the source changed: ${identity} now, ${previous.sourceIdentity} before (another server answers at this address)`;
    const seq = binlogSequence(name)!;
    const prevSeq = binlogSequence(previous.file)!;
    if (seq <= prevSeq) return `the source's binlog numbering restarted (${name} after ${previous.file}): its binlogs were reset or it is another server`;
    if (seq !== prevSeq + 1) return `binlog files between ${previous.file} and ${name} are missing (purged on the source before they were archived)`;
    if (summary.gtidListAtStart !== null && previous.gtidStateAtEnd !== null && !sameGtidState(summary.gtidListAtStart, previous.gtidStateAtEnd)) {
      return `${name} starts at GTID state ${summary.gtidListAtStart || "(empty)"}, but ${previous.file} ended at ${previous.gtidStateAtEnd || "(empty)"}: transactions are missing`;
    }
    return null;
  }
}

/** zstd -3 of a buffer through the zstd program (Node 20 has no zstd). */
async function zstd(data: Buffer): Promise<Buffer> {
  const child = spawnChild("zstd", ["-3", "-q", "-c"]);
  const chunks: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => chunks.push(c));
  child.stdin.end(data);
  const exit = await child.exited;
  if (exit.code !== 0) throw new Error(`zstd failed: ${exit.stderrTail}`);
  return Buffer.concat(chunks);
}

/** Hex SHA-256 of a file. */
export async function fileSha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
