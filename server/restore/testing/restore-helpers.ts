import fs from "node:fs";
import { dataOf } from "../../testing/backup-helpers.ts";

/** Any GraphQL client: the in-memory test app's or an HTTP one. */
type Client = (
  query: string,
  variables?: Record<string, unknown>,
) => Promise<{ data?: any; errors?: Array<{ message: string; extensions?: { code?: string; field?: string } }> }>;

/** The Restore fields the tests read. */
export const RESTORE_FIELDS = `id status backupId database sourceDatabase serverName overwrite createdDatabase targetState targetDetail scratchDatabase requestedBy totalBytes progressBytes rawBytes sha256 error logTail
  startedAt finishedAt durationMs storageTarget { id kind } server { id }`;

/** A Restore as GraphQL returns it (BigInts as strings). */
export type RestoreView = {
  id: number;
  status: string;
  backupId: number | null;
  database: string;
  sourceDatabase: string;
  serverName: string;
  overwrite: boolean;
  createdDatabase: boolean;
  targetState: string | null;
  targetDetail: string | null;
  scratchDatabase: string | null;
  requestedBy: string;
  totalBytes: string | null;
  progressBytes: string | null;
  rawBytes: string | null;
  sha256: string | null;
  error: string | null;
  logTail: string | null;
  durationMs: number | null;
  storageTarget: { id: number; kind: string } | null;
};

/** Calls restoreBackup; returns the raw result so a test can look at errors. */
export function requestRestore(client: Client, input: Record<string, unknown>) {
  return client(`mutation($input: RestoreBackupInput!) { restoreBackup(input: $input) { ${RESTORE_FIELDS} } }`, { input });
}

/** Reads one restore through GraphQL. */
export async function getRestore(client: Client, id: number): Promise<RestoreView> {
  return (dataOf(await client(`query($id: ID!) { restore(id: $id) { ${RESTORE_FIELDS} } }`, { id })) as { restore: RestoreView }).restore;
}

/** Polls a restore until it leaves PENDING/RUNNING (or `until` holds). */
export async function waitForRestore(
  client: Client,
  id: number,
  until: (r: RestoreView) => boolean = (r) => !["PENDING", "RUNNING"].includes(r.status),
  timeoutMs = 60_000,
): Promise<RestoreView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await getRestore(client, id);
    if (until(r)) return r;
    if (Date.now() > deadline) throw new Error(`restore ${id} still ${r.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts a restore and waits for its end. */
export async function restoreAndWait(client: Client, input: Record<string, unknown>, timeoutMs = 60_000): Promise<RestoreView> {
  const started = (dataOf(await requestRestore(client, input)) as { restoreBackup: RestoreView }).restoreBackup;
  return waitForRestore(client, started.id, undefined, timeoutMs);
}

/** Flips one bit of the byte at `at` (default: the middle) of a file, in place. */
export function flipByte(file: string, at?: number): void {
  const data = fs.readFileSync(file);
  const index = at ?? Math.floor(data.length / 2);
  data[index] = data[index]! ^ 0x01;
  fs.writeFileSync(file, data);
}

/** Polls `probe` until it returns something other than undefined/false. */
export async function eventually<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
