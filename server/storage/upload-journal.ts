import type { PrismaClient } from "../db/client.ts";

/** One recorded write to a storage target (table StorageUpload). */
export type UploadRecord = { id: number; key: string; uploadId: string | null; instanceId: string; startedAt: Date; heartbeatAt: Date };

/**
 * What one storage target's store records about its writes, so that a later cleanup removes only
 * what this installation wrote and whose writer is dead: a `<key>.partial` file, an incomplete S3
 * multipart upload. A record is written before the first byte, renewed while the write runs and
 * deleted once the write committed or its leftover was removed.
 */
export interface UploadJournal {
  /** Records that a write of `key` starts; returns the record's id. Throws when it cannot be recorded (stores then write unrecorded). */
  begin(key: string): Promise<number>;
  /** Adds the S3 multipart upload id to a record. */
  setUploadId(id: number, uploadId: string): Promise<void>;
  /**
   * The write ended. "done": nothing is left behind and the record goes. "leftover": something
   * could not be removed; the record stays (no longer renewed) for a later cleanup.
   */
  end(id: number, outcome: "done" | "leftover"): Promise<void>;
  /**
   * Records of dead writes, never one this process is running: with `staleBefore`, those not
   * renewed since then or left by an earlier process of this instance; without it, every other
   * record (the caller knows the writer is dead). With `key`, of that key only. A key that a live
   * write uses is skipped altogether: a local leftover's path is the live write's too.
   */
  leftovers(options: { staleBefore?: Date; key?: string }): Promise<UploadRecord[]>;
  /** Deletes a record once its leftover was removed. */
  forget(id: number): Promise<void>;
}

/** Hands each storage target its view of one journal. */
export type UploadJournals = { forTarget(storageTargetId: number): UploadJournal };

type Selection = { inFlight: ReadonlySet<number>; instanceId: string; since: Date; staleBefore?: Date; key?: string };

/** The leftovers among one target's records (see UploadJournal.leftovers): pure, for both journals. */
export function selectLeftovers(records: UploadRecord[], s: Selection): UploadRecord[] {
  const dead = (r: UploadRecord): boolean =>
    !s.inFlight.has(r.id) && (s.staleBefore === undefined || r.heartbeatAt < s.staleBefore || (r.instanceId === s.instanceId && r.startedAt < s.since));
  const liveKeys = new Set(records.filter((r) => !dead(r)).map((r) => r.key));
  return records.filter((r) => dead(r) && !liveKeys.has(r.key) && (s.key === undefined || r.key === s.key));
}

/**
 * The journal in the metadata database, shared by every instance. This process renews the records
 * of its writes in flight every `heartbeatMs` (a timer runs only while there are some), so a record
 * whose heartbeat is older than a lease belongs to a writer that died.
 */
export class PrismaUploadJournals implements UploadJournals {
  readonly #inFlight = new Set<number>();
  readonly #since = new Date();
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: { prisma: PrismaClient; instanceId: string; heartbeatMs: number }) {}

  forTarget(storageTargetId: number): UploadJournal {
    const { prisma, instanceId } = this.deps;
    return {
      begin: async (key) => {
        const now = new Date();
        const row = await prisma.storageUpload.create({ data: { storageTargetId, key, instanceId, startedAt: now, heartbeatAt: now }, select: { id: true } });
        this.#track(row.id);
        return row.id;
      },
      setUploadId: async (id, uploadId) => {
        await prisma.storageUpload.updateMany({ where: { id }, data: { uploadId } });
      },
      end: async (id, outcome) => {
        this.#untrack(id);
        if (outcome === "done") await prisma.storageUpload.deleteMany({ where: { id } });
      },
      leftovers: async ({ staleBefore, key }) => {
        const records = await prisma.storageUpload.findMany({ where: { storageTargetId }, orderBy: { id: "asc" } });
        return selectLeftovers(records, { inFlight: this.#inFlight, instanceId, since: this.#since, staleBefore, key });
      },
      forget: async (id) => {
        await prisma.storageUpload.deleteMany({ where: { id } });
      },
    };
  }

  #track(id: number): void {
    this.#inFlight.add(id);
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      // A failed renewal is retried at the next beat; a long outage makes the write look dead, as a backup's lease does.
      void this.deps.prisma.storageUpload.updateMany({ where: { id: { in: [...this.#inFlight] } }, data: { heartbeatAt: new Date() } }).catch(() => {});
    }, this.deps.heartbeatMs);
    this.#timer.unref();
  }

  #untrack(id: number): void {
    this.#inFlight.delete(id);
    if (this.#inFlight.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

/**
 * A journal in this process's memory: the default of a store built without one (the CLI, unit
 * tests), which therefore never removes anything another process wrote. `add` plants a record as
 * another (dead or live) writer would have left it.
 */
export class MemoryUploadJournals implements UploadJournals {
  readonly records: Array<UploadRecord & { storageTargetId: number }> = [];
  readonly #inFlight = new Set<number>();
  readonly #since = new Date();
  #nextId = 1;

  constructor(readonly instanceId = "this-process") {}

  forTarget(storageTargetId: number): UploadJournal {
    const own = () => this.records.filter((r) => r.storageTargetId === storageTargetId);
    const remove = (id: number) => {
      const at = this.records.findIndex((r) => r.id === id);
      if (at >= 0) this.records.splice(at, 1);
    };
    return {
      begin: async (key) => {
        const now = new Date();
        const id = this.#nextId++;
        this.records.push({ id, storageTargetId, key, uploadId: null, instanceId: this.instanceId, startedAt: now, heartbeatAt: now });
        this.#inFlight.add(id);
        return id;
      },
      setUploadId: async (id, uploadId) => {
        const record = this.records.find((r) => r.id === id);
        if (record) record.uploadId = uploadId;
      },
      end: async (id, outcome) => {
        this.#inFlight.delete(id);
        if (outcome === "done") remove(id);
      },
      leftovers: async ({ staleBefore, key }) =>
        selectLeftovers(own(), { inFlight: this.#inFlight, instanceId: this.instanceId, since: this.#since, staleBefore, key }),
      forget: async (id) => remove(id),
    };
  }

  /** Plants a record of another writer (tests). */
  add(record: Omit<UploadRecord, "id" | "uploadId"> & { storageTargetId: number; uploadId?: string | null }): UploadRecord {
    const planted = { uploadId: null, ...record, id: this.#nextId++ };
    this.records.push(planted);
    return planted;
  }
}

/** One write's record, as a store holds it: its later steps never wait for the metadata database. */
export type WriteRecord = {
  setUploadId(uploadId: string): void;
  end(outcome: "done" | "leftover"): void;
};

/** How long a write waits for its record before it goes on unrecorded. */
const RECORD_WAIT_MS = 2000;

/**
 * Records that a write of `key` starts, waiting at most a moment: a journal that cannot be written
 * (the metadata database is down or slow) must not stop or slow the data path. A write that went
 * on unrecorded is at worst one leftover no cleanup touches; a record that arrives late is still
 * given its upload id and ended. The returned handle's calls run in the background, in order.
 */
export async function recordWrite(journal: UploadJournal, key: string, waitMs = RECORD_WAIT_MS): Promise<WriteRecord> {
  const begun = journal.begin(key).then(
    (id) => id,
    () => undefined,
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([begun, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
  clearTimeout(timer);
  let chain: Promise<unknown> = begun;
  const then = (step: (id: number) => Promise<void>): void => {
    chain = chain.then(() => begun.then((id) => (id === undefined ? undefined : step(id)))).catch(() => {});
  };
  return {
    setUploadId: (uploadId) => then((id) => journal.setUploadId(id, uploadId)),
    end: (outcome) => then((id) => journal.end(id, outcome)),
  };
}
