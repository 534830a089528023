import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import type { PrismaClient } from "../../db/client.ts";
import type { Logger } from "../../observability/logger.ts";
import type { PitrTarget } from "../archiver.ts";
import { PITR_MANIFEST_SUFFIX } from "../archive-keys.ts";
import { encryptArchive } from "../archive-crypto.ts";
import type { RecipientKey } from "../../encryption/keys.service.ts";
import { manifestEncryption, type ManifestEncryption } from "../../runner/manifest.ts";
import { compareSegments, formatLsn, isHistoryFile, parseSegment, walArchiveKey, type WalSegment } from "./wal.ts";

/** The manifest beside each archived WAL segment (the storage alone is enough to restore). */
export type WalManifest = {
  kind: "sqlguard-wal";
  server: string;
  serverId: number;
  /** The cluster's system identifier (pg_control_system()). */
  systemIdentifier: string;
  timeline: number;
  segment: string;
  partial: boolean;
  startLsn: string;
  endLsn: string;
  /** When pg_receivewal last wrote it (its last record is at most this old). */
  lastWriteAt: string;
  sizeBytes: number;
  /** Over the stored bytes (lz4, then age when `encryption` is set). */
  sha256: string;
  compression: "lz4";
  breakReason: string | null;
  /** Set when the object is an age v1 file (its key ends in `.age`): the lz4 file inside age. */
  encryption?: ManifestEncryption;
};

export type WalArchiverOptions = {
  prisma: PrismaClient;
  logger: Logger;
  serverId: number;
  serverName: string;
  spoolDir: string;
  targets: PitrTarget[];
  rpoSeconds: number;
  segmentBytes: number;
  systemIdentifier(): string | null;
  /** The keys to encrypt each object to (the server's dump profile encrypts), or null; read per object. */
  recipients?(): Promise<RecipientKey[] | null>;
  now?(): number;
};

/**
 * Ships pg_receivewal's spool to the PITR targets: every completed segment (`<seg>.lz4`, stored
 * as written: pg_receivewal compressed it already), each timeline history file, and the open
 * `<seg>.lz4.partial` at least every rpoSeconds while it grows. PitrArchive rows record each
 * segment (file = segment name, sourceServerId = timeline, sourceIdentity = `pg:<system id>`,
 * gtidListAtStart / gtidStateAtEnd = start / end LSN, endPosition = end LSN, lastEventAt = last
 * write). A completed segment leaves the spool only once every target holds it. On a server
 * whose dump profile encrypts, every object is an age v1 file (`….lz4.age`, `….history.age`).
 */
export class WalArchiver {
  readonly #o: WalArchiverOptions;
  #lastPartial = new Map<string, { at: number; size: number }>();

  constructor(options: WalArchiverOptions) {
    this.#o = options;
  }

  async tick(): Promise<string[]> {
    const names = await fs.readdir(this.#o.spoolDir).catch(() => [] as string[]);
    for (const h of names.filter(isHistoryFile)) await this.#shipHistory(h);
    const done = names
      .filter((n) => n.endsWith(".lz4") && parseSegment(n))
      .map((n) => ({ n, s: parseSegment(n)! }))
      .sort((a, b) => compareSegments(a.s, b.s));
    const archived: string[] = [];
    for (const { n, s } of done) {
      if (await this.#ship(n, s, false)) {
        archived.push(s.name);
        await fs.rm(path.join(this.#o.spoolDir, n), { force: true });
      }
    }
    for (const n of names.filter((x) => x.endsWith(".lz4.partial") && parseSegment(x))) {
      const s = parseSegment(n)!;
      const stat = await fs.stat(path.join(this.#o.spoolDir, n)).catch(() => null);
      if (!stat) continue;
      const last = this.#lastPartial.get(s.name);
      const now = this.#o.now?.() ?? Date.now();
      if (last && (now - last.at < this.#o.rpoSeconds * 1000 || stat.mtimeMs <= last.at)) continue;
      if (await this.#ship(n, s, true)) this.#lastPartial.set(s.name, { at: now, size: stat.size });
    }
    return archived;
  }

  async #put(key: string, body: Buffer, manifest: object | null, contentType: string): Promise<number[]> {
    const stored = await Promise.all(
      this.#o.targets.map(async (t) => {
        try {
          await t.store.put(key, Readable.from([body]), { contentType });
          if (manifest) {
            await t.store.put(key + PITR_MANIFEST_SUFFIX, Readable.from([Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)]), {
              contentType: "application/json",
            });
          }
          return t.id;
        } catch (error) {
          this.#o.logger.warn({ err: error, storageTargetId: t.id, key }, "a WAL archive could not be stored");
          return null;
        }
      }),
    );
    return stored.filter((id): id is number => id !== null);
  }

  async #shipHistory(name: string): Promise<void> {
    const { prisma, serverId } = this.#o;
    if (await prisma.pitrArchive.findUnique({ where: { serverId_file: { serverId, file: name } } })) return;
    const plain = await fs.readFile(path.join(this.#o.spoolDir, name));
    const recipients = (await this.#o.recipients?.()) ?? null;
    const body = recipients ? await encryptArchive(plain, recipients) : plain;
    const key = walArchiveKey(this.#o.serverName, name) + (recipients ? ".age" : "");
    const ids = await this.#put(key, body, null, recipients ? "application/octet-stream" : "text/plain");
    if (!ids.length) return;
    const sha256 = createHash("sha256").update(body).digest("hex");
    await prisma.pitrArchive.create({
      data: {
        serverId,
        file: name,
        sourceServerId: Number.parseInt(name.slice(0, 8), 16),
        sourceIdentity: `pg:${this.#o.systemIdentifier() ?? "unknown"}`,
        endPosition: 0n,
        sizeBytes: BigInt(plain.length),
        storedBytes: BigInt(body.length),
        sha256,
        key,
        storageTargetIds: ids,
      },
    });
  }

  /** Stores one segment (or the partial one) on every target; true when all of them hold it. */
  async #ship(fileName: string, seg: WalSegment, partial: boolean): Promise<boolean> {
    const { prisma, serverId, segmentBytes } = this.#o;
    const existing = await prisma.pitrArchive.findUnique({ where: { serverId_file: { serverId, file: seg.name } } });
    if (existing && !existing.partial) return true;
    const file = path.join(this.#o.spoolDir, fileName);
    const [plain, stat] = await Promise.all([fs.readFile(file), fs.stat(file)]);
    const recipients = (await this.#o.recipients?.()) ?? null;
    const body = recipients ? await encryptArchive(plain, recipients) : plain;
    const sha256 = createHash("sha256").update(body).digest("hex");
    const identity = `pg:${this.#o.systemIdentifier() ?? "unknown"}`;
    const breakReason = existing?.breakReason ?? (await this.#continuity(seg, identity));
    const startLsn = seg.segno * BigInt(segmentBytes);
    // A completed segment ends where the next begins; a partial one, at most there.
    const endLsn = startLsn + BigInt(segmentBytes);
    const key = walArchiveKey(this.#o.serverName, partial ? `${seg.name}.partial.lz4` : `${seg.name}.lz4`) + (recipients ? ".age" : "");
    const manifest: WalManifest = {
      kind: "sqlguard-wal",
      server: this.#o.serverName,
      serverId,
      systemIdentifier: this.#o.systemIdentifier() ?? "unknown",
      timeline: seg.timeline,
      segment: seg.name,
      partial,
      startLsn: formatLsn(startLsn),
      endLsn: formatLsn(endLsn),
      lastWriteAt: stat.mtime.toISOString(),
      sizeBytes: plain.length,
      sha256,
      compression: "lz4",
      breakReason,
      ...(recipients ? { encryption: manifestEncryption(recipients) } : {}),
    };
    const stored = await this.#put(key, body, manifest, recipients ? "application/octet-stream" : "application/x-lz4");
    if (!stored.length) return false;
    const data = {
      partial,
      sourceServerId: seg.timeline,
      sourceIdentity: identity,
      firstEventAt: existing?.firstEventAt ?? null,
      lastEventAt: stat.mtime,
      gtidListAtStart: formatLsn(startLsn),
      gtidStateAtEnd: formatLsn(endLsn),
      endPosition: endLsn,
      sizeBytes: BigInt(plain.length),
      storedBytes: BigInt(body.length),
      sha256,
      key,
      storageTargetIds: stored,
      breakReason,
    };
    await prisma.pitrArchive.upsert({ where: { serverId_file: { serverId, file: seg.name } }, create: { serverId, file: seg.name, ...data }, update: data });
    if (!partial && existing?.partial && existing.key !== key) {
      await Promise.all(
        this.#o.targets.map((t) =>
          t.store
            .delete(existing.key)
            .then(() => t.store.delete(existing.key + PITR_MANIFEST_SUFFIX))
            .catch(() => {}),
        ),
      );
    }
    const now = new Date(this.#o.now?.() ?? Date.now());
    const update = {
      lastFile: seg.name,
      lastArchivedAt: now,
      lastEventAt: stat.mtime,
      sourceServerId: seg.timeline,
      sourceIdentity: identity,
      ...(breakReason ? { brokenAt: now, brokenFromFile: seg.name, brokenReason: breakReason } : {}),
    };
    await prisma.pitrStream.upsert({ where: { serverId }, create: { serverId, ...update }, update });
    if (breakReason) this.#o.logger.error({ segment: seg.name, reason: breakReason }, "the WAL archive chain is broken");
    return stored.length === this.#o.targets.length;
  }

  /** Why `seg` does not follow the last archived segment (null when it does): same cluster, next number, or a timeline switch its history file explains. */
  async #continuity(seg: WalSegment, identity: string): Promise<string | null> {
    const { prisma, serverId } = this.#o;
    const rows = await prisma.pitrArchive.findMany({
      where: { serverId, NOT: { file: seg.name } },
      select: { file: true, sourceIdentity: true, partial: true },
    });
    const segments = rows
      .filter((r) => !r.partial)
      .map((r) => ({ r, s: parseSegment(r.file) }))
      .filter((x): x is { r: (typeof rows)[number]; s: WalSegment } => x.s !== null)
      .sort((a, b) => compareSegments(a.s, b.s));
    const previous = segments.at(-1);
    if (!previous) return null;
    if (previous.r.sourceIdentity !== identity)
      return `the source changed: ${identity} now, ${previous.r.sourceIdentity} before (another cluster answers at this address)`;
    return walGap(previous.s, seg, new Set(rows.map((r) => r.file)));
  }
}

/** Why `next` cannot follow `previous` in one chain, or null: consecutive on a timeline, or a switch the history file records. */
export function walGap(previous: WalSegment, next: WalSegment, files: Set<string>): string | null {
  if (next.timeline === previous.timeline) {
    if (next.segno === previous.segno + 1n) return null;
    if (next.segno <= previous.segno) return `WAL segment ${next.name} comes after ${previous.name}: the cluster was re-created or this is another one`;
    return `WAL segments between ${previous.name} and ${next.name} are missing from the archive`;
  }
  const history = `${next.name.slice(0, 8)}.history`;
  if (next.timeline < previous.timeline) return `WAL segment ${next.name} is on timeline ${next.timeline}, older than ${previous.timeline} of ${previous.name}`;
  if (!files.has(history))
    return `timeline switch from ${previous.timeline} to ${next.timeline} at ${next.name} not explained by a history file (${history} is not archived)`;
  if (next.segno > previous.segno + 1n) return `WAL segments between ${previous.name} and ${next.name} are missing from the archive`;
  return null;
}
