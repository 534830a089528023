import { Transform, type TransformCallback } from "node:stream";
import type { ReplicationPosition } from "./dumpers/types.ts";

/** mysqldump / mariadb-dump write the --master-data comment within the first few KiB. */
const HEAD_BYTES = 64 * 1024;
/** MariaDB writes the GTID of the snapshot near the end ("deferred gtid setting"). */
const TAIL_BYTES = 4 * 1024;

const CHANGE_MASTER = /^-- CHANGE (?:MASTER|REPLICATION SOURCE) TO (?:MASTER|SOURCE)_LOG_FILE='([^']+)', (?:MASTER|SOURCE)_LOG_POS=(\d+);/m;
const MARIADB_GTID = /^-- SET GLOBAL gtid_slave_pos='([^']*)';/m;
const MYSQL_GTID = /SET @@GLOBAL\.GTID_PURGED=(?:\/\*!80000 '\+'\*\/ )?'([^']*)';/m;

/**
 * A pass-through stream that reads the exact binlog position of the dump's own snapshot from the
 * comments `--master-data=2` / `--source-data=2` writes (and the GTID MariaDB writes at the end),
 * keeping only the first 64 KiB and a rolling last 4 KiB: taken from the dump itself, not from a
 * separate connection, so no transaction between the two can be replayed twice.
 */
export class DumpPositionReader extends Transform {
  #head = "";
  #headDone = false;
  #tail = "";

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.#headDone) {
      this.#head += chunk.toString("latin1", 0, Math.min(chunk.length, HEAD_BYTES - this.#head.length));
      if (this.#head.length >= HEAD_BYTES) this.#headDone = true;
    }
    const text = chunk.length >= TAIL_BYTES ? chunk.toString("latin1", chunk.length - TAIL_BYTES) : this.#tail + chunk.toString("latin1");
    this.#tail = text.slice(-TAIL_BYTES);
    callback(null, chunk);
  }

  /** The position found so far (complete once the stream ended); null when the dump carried none. */
  position(): ReplicationPosition | null {
    return parseDumpPosition(this.#head, this.#tail);
  }
}

/** The binlog file/position and GTID set in a dump's head and tail text; null when neither is there. */
export function parseDumpPosition(head: string, tail: string): ReplicationPosition | null {
  const position: ReplicationPosition = {};
  const change = CHANGE_MASTER.exec(head);
  if (change) {
    position.binlogFile = change[1]!;
    position.binlogPosition = Number(change[2]);
  }
  const gtid = MARIADB_GTID.exec(tail) ?? MARIADB_GTID.exec(head) ?? MYSQL_GTID.exec(head);
  if (gtid?.[1]) position.gtidSet = gtid[1].replace(/\s+/g, "");
  return Object.keys(position).length ? position : null;
}
