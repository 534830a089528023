import type { BackupEvent, BackupEvents } from "./events.ts";

const MAX_QUEUED = 1000;

/**
 * The bus as an async iterable for one subscriber, ending when `signal` aborts or the consumer
 * returns. A slow consumer never holds a backup back: past MAX_QUEUED waiting events, progress
 * events of a backup replace its queued one, and beyond that the oldest progress events are dropped.
 */
export function eventStream(
  events: BackupEvents,
  filter: (event: BackupEvent) => boolean = () => true,
  signal?: AbortSignal,
): AsyncIterableIterator<BackupEvent> {
  const queue: BackupEvent[] = [];
  let wake: (() => void) | null = null;
  let done = false;
  const off = events.on((event) => {
    if (done || !filter(event)) return;
    if (queue.length >= MAX_QUEUED && event.type === "PROGRESS") {
      const same = queue.findIndex((q) => q.type === "PROGRESS" && q.backupId === event.backupId);
      const drop = same !== -1 ? same : queue.findIndex((q) => q.type === "PROGRESS");
      if (drop !== -1) queue.splice(drop, 1);
      else return;
    }
    queue.push(event);
    wake?.();
  });
  const finish = () => {
    done = true;
    off();
    wake?.();
  };
  signal?.addEventListener("abort", finish, { once: true });

  const iterator: AsyncIterableIterator<BackupEvent> = {
    async next() {
      while (!done && queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      const value = queue.shift();
      return value ? { value, done: false } : { value: undefined, done: true };
    },
    async return() {
      finish();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
