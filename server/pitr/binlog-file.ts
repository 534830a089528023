import fs from "node:fs/promises";

/** What one binlog file holds, read from its event headers (no row is decoded). */
export type BinlogSummary = {
  /** Bytes of complete events: an open file may end inside an event being written. */
  endPosition: number;
  /** @@server_id of the events (the last non-zero one). */
  serverId: number | null;
  firstEventAt: Date | null;
  lastEventAt: Date | null;
  /** MariaDB: the GTID state before the file (its Gtid_list event), as "domain-server-seq" joined by ",". */
  gtidListAtStart: string | null;
  /** The last GTID in the file ("domain-server-seq" on MariaDB, "uuid:n" on MySQL). */
  lastGtid: string | null;
  /** MariaDB: the GTID state after the file's last event (its start state with every GTID in it applied). */
  gtidStateAtEnd: string | null;
  /** MySQL: the server uuid of its GTIDs (the source identity). */
  sourceUuid: string | null;
  /** The file ends with a ROTATE or STOP event: the server will write no more to it. */
  closed: boolean;
};

const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
const HEADER = 19;
const STOP_EVENT = 3;
const ROTATE_EVENT = 4;
const FORMAT_DESCRIPTION_EVENT = 15;
const MYSQL_GTID_EVENT = 33;
const MARIADB_GTID_EVENT = 162;
const MARIADB_GTID_LIST_EVENT = 163;

/** Reads a binlog file's summary; throws when it is not a binlog file. */
export async function readBinlogFile(file: string): Promise<BinlogSummary> {
  return summarizeBinlog(await fs.readFile(file));
}

/**
 * Walks the events of a binlog (v4 format): 19-byte headers (timestamp, type, server_id, size,
 * next position, flags). Artificial events (timestamp 0, or the LOG_EVENT_ARTIFICIAL flag) that
 * the streamer writes at the start of each file are not events of the source.
 */
export function summarizeBinlog(data: Buffer): BinlogSummary {
  if (data.length < 4 || !data.subarray(0, 4).equals(MAGIC)) throw new Error("not a binlog file (no magic number)");
  const summary: BinlogSummary = {
    endPosition: 4,
    serverId: null,
    firstEventAt: null,
    lastEventAt: null,
    gtidListAtStart: null,
    lastGtid: null,
    gtidStateAtEnd: null,
    sourceUuid: null,
    closed: false,
  };
  let checksum = 0;
  const state = new Map<number, { serverId: number; seq: bigint }>();
  let offset = 4;
  while (offset + HEADER <= data.length) {
    const timestamp = data.readUInt32LE(offset);
    const type = data[offset + 4]!;
    const serverId = data.readUInt32LE(offset + 5);
    const size = data.readUInt32LE(offset + 9);
    const flags = data.readUInt16LE(offset + 17);
    if (size < HEADER || offset + size > data.length) break; // an event still being written
    const body = data.subarray(offset + HEADER, offset + size - checksum);
    const artificial = timestamp === 0 || (flags & 0x20) !== 0;
    if (type === FORMAT_DESCRIPTION_EVENT) {
      // binlog version(2) server version(50) created(4) header length(1) post-header lengths… checksum alg(1) + crc(4) at the end.
      const alg = data[offset + size - 5];
      checksum = alg === 1 ? 4 : 0;
    } else if (!artificial || type === MARIADB_GTID_LIST_EVENT) {
      if (!artificial) {
        const at = new Date(timestamp * 1000);
        summary.firstEventAt ??= at;
        summary.lastEventAt = at;
        if (serverId) summary.serverId = serverId;
      }
      if (type === MARIADB_GTID_EVENT && body.length >= 13) {
        const seq = body.readBigUInt64LE(0);
        summary.lastGtid = `${body.readUInt32LE(8)}-${serverId}-${seq}`;
        state.set(body.readUInt32LE(8), { serverId, seq });
      } else if (type === MARIADB_GTID_LIST_EVENT && summary.gtidListAtStart === null && body.length >= 4) {
        const count = body.readUInt32LE(0) & 0x0fffffff;
        const entries: string[] = [];
        for (let i = 0; i < count && 4 + i * 16 + 16 <= body.length; i++) {
          const at = 4 + i * 16;
          entries.push(`${body.readUInt32LE(at)}-${body.readUInt32LE(at + 4)}-${body.readBigUInt64LE(at + 8)}`);
        }
        summary.gtidListAtStart = entries.join(",");
        for (const [domain, v] of gtidState(summary.gtidListAtStart)) if (!state.has(domain)) state.set(domain, v);
      } else if (type === MYSQL_GTID_EVENT && body.length >= 25) {
        const hex = body.subarray(1, 17).toString("hex");
        const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
        summary.sourceUuid = uuid;
        summary.lastGtid = `${uuid}:${body.readBigInt64LE(17)}`;
      }
      if (!artificial && (type === ROTATE_EVENT || type === STOP_EVENT)) summary.closed = true;
    }
    offset += size;
    summary.endPosition = offset;
  }
  if (summary.gtidListAtStart !== null || state.size) summary.gtidStateAtEnd = formatGtidState(state);
  return summary;
}

/** A MariaDB GTID state as a map domain → "server-seq"; "" or null is the empty state. */
export function gtidState(list: string | null): Map<number, { serverId: number; seq: bigint }> {
  const state = new Map<number, { serverId: number; seq: bigint }>();
  for (const entry of (list ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [domain, serverId, seq] = entry.split("-");
    state.set(Number(domain), { serverId: Number(serverId), seq: BigInt(seq!) });
  }
  return state;
}

/**
 * The GTID state after a file: its starting state with its last GTID applied (per domain, the
 * highest sequence number wins). MariaDB only: MySQL files are followed by file number alone.
 */
export function gtidStateAfter(atStart: string | null, lastGtid: string | null): string {
  const state = gtidState(atStart);
  if (lastGtid && /^\d+-\d+-\d+$/.test(lastGtid)) {
    for (const [domain, value] of gtidState(lastGtid)) {
      const before = state.get(domain);
      if (!before || before.seq < value.seq) state.set(domain, value);
    }
  }
  return formatGtidState(state);
}

export function formatGtidState(state: Map<number, { serverId: number; seq: bigint }>): string {
  return [...state.entries()]
    .sort(([a], [b]) => a - b)
    .map(([domain, v]) => `${domain}-${v.serverId}-${v.seq}`)
    .join(",");
}

/** Whether two GTID states hold the same sequence number per domain (compared as sets, not strings). */
export function sameGtidState(a: string | null, b: string | null): boolean {
  const x = gtidState(a);
  const y = gtidState(b);
  if (x.size !== y.size) return false;
  for (const [domain, v] of x) if (y.get(domain)?.seq !== v.seq) return false;
  return true;
}

/** "binlog-bin.000042" → 42; null when the name has no numeric extension. */
export function binlogSequence(file: string): number | null {
  const m = /\.(\d+)$/.exec(file);
  return m ? Number(m[1]) : null;
}

/**
 * The offset where MariaDB GTID `gtid`'s transaction ends in a binlog: the start of the next GTID
 * event, or the end of the file's complete events when it is the last. A replay with
 * --stop-position there includes that transaction and nothing after it. Null when the file does
 * not hold it (or it was written by another server id).
 */
export function gtidStopOffset(data: Buffer, gtid: string): number | null {
  const [domain, serverId, seq] = gtid.split("-").map((p) => BigInt(p));
  if (data.length < 4 || !data.subarray(0, 4).equals(MAGIC)) throw new Error("not a binlog file (no magic number)");
  let offset = 4;
  let found = false;
  while (offset + HEADER <= data.length) {
    const type = data[offset + 4]!;
    const size = data.readUInt32LE(offset + 9);
    if (size < HEADER || offset + size > data.length) break;
    if (type === MARIADB_GTID_EVENT) {
      if (found) return offset;
      const body = data.subarray(offset + HEADER);
      found =
        body.length >= 12 && body.readBigUInt64LE(0) === seq && BigInt(body.readUInt32LE(8)) === domain && BigInt(data.readUInt32LE(offset + 5)) === serverId;
    }
    offset += size;
  }
  return found ? offset : null;
}
