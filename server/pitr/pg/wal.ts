/** PostgreSQL WAL names and LSNs (server/pitr/pg). */

/** A WAL segment file name: 8 hex timeline, 8 hex log, 8 hex segment. */
const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;

export type WalSegment = { timeline: number; segno: bigint; name: string };

/** The segment a file name names (`000000010000000000000003`, with or without `.lz4` / `.partial`), or null. */
export function parseSegment(file: string): WalSegment | null {
  const name = file.replace(/(\.lz4)?(\.partial)?$/, "");
  const m = SEGMENT.exec(name);
  if (!m) return null;
  return { timeline: Number.parseInt(m[1]!, 16), segno: BigInt(`0x${m[2]}`) * 0x100n + BigInt(`0x${m[3]}`), name };
}

/** The file name of segment `segno` on `timeline` (16 MiB segments: 256 per log file). */
export function segmentName(timeline: number, segno: bigint, segmentBytes = 16 * 1024 * 1024): string {
  const perLog = 0x1_0000_0000n / BigInt(segmentBytes);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, "0");
  return `${hex(timeline)}${hex(segno / perLog)}${hex(segno % perLog)}`;
}

/** `0/3000028` → bigint. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn.trim());
  if (!m) throw new Error(`not an LSN: ${lsn}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The segment number holding `lsn`. */
export function segnoOf(lsn: bigint, segmentBytes = 16 * 1024 * 1024): bigint {
  return lsn / BigInt(segmentBytes);
}

/** Orders segments by timeline, then number. */
export function compareSegments(a: WalSegment, b: WalSegment): number {
  return a.timeline - b.timeline || (a.segno < b.segno ? -1 : a.segno > b.segno ? 1 : 0);
}

/** A timeline history file's name (`00000002.history`). */
export function isHistoryFile(file: string): boolean {
  return /^[0-9A-F]{8}\.history$/.test(file);
}

/** The object keys of one server's WAL archive: `pitr/<server>/wal/<segment>.lz4` (+ `.partial`). */
export function walArchiveKey(serverName: string, file: string): string {
  return `pitr/${serverName.replace(/[^A-Za-z0-9._-]/g, "_")}/wal/${file}`;
}
