import crypto from "node:crypto";
import fs from "node:fs";

/** Any GraphQL client: the in-memory test app's or an HTTP one. */
type Client = (query: string, variables?: Record<string, unknown>) => Promise<{ data?: any; errors?: Array<{ message: string }> }>;

export const BACKUP_FIELDS = `id status database server { id } sha256 rawBytes storedBytes compression error logTail startedAt finishedAt progressBytes attempt tool
  artifacts { id status key sizeBytes error storageTarget { id kind } }`;

export type BackupView = {
  id: number;
  status: string;
  database: string;
  server: { id: number } | null;
  sha256: string | null;
  rawBytes: string | null;
  storedBytes: string | null;
  compression: string;
  error: string | null;
  logTail: string | null;
  progressBytes: string | null;
  attempt: number;
  tool: string | null;
  artifacts: Array<{
    id: number;
    status: string;
    key: string;
    sizeBytes: string | null;
    error: string | null;
    storageTarget: { id: number; kind: string } | null;
  }>;
};

/** Fails the test with the GraphQL errors, or returns data. */
export function dataOf<T>(result: { data?: T | null; errors?: Array<{ message: string }> }): T {
  if (result.errors?.length) throw new Error(`GraphQL errors: ${result.errors.map((e) => e.message).join("; ")}`);
  return result.data as T;
}

/**
 * The API's ids are strings (graphql/ids.test.ts holds that); these helpers hand tests row ids as
 * numbers, so that they go straight into Prisma queries and compare with database rows.
 */
function rowIds(b: BackupView): BackupView {
  return {
    ...b,
    id: Number(b.id),
    server: b.server && { id: Number(b.server.id) },
    artifacts: b.artifacts.map((a) => ({ ...a, id: Number(a.id), storageTarget: a.storageTarget && { ...a.storageTarget, id: Number(a.storageTarget.id) } })),
  };
}

export async function createServer(client: Client, input: Record<string, unknown>): Promise<number> {
  const r = await client(`mutation($input: ServerInput!) { createServer(input: $input) { id } }`, { input });
  return Number((dataOf(r) as { createServer: { id: string } }).createServer.id);
}

export async function createTarget(client: Client, input: Record<string, unknown>): Promise<number> {
  const r = await client(`mutation($input: StorageTargetInput!) { createStorageTarget(input: $input) { id } }`, { input });
  return Number((dataOf(r) as { createStorageTarget: { id: string } }).createStorageTarget.id);
}

export async function runBackup(client: Client, input: { serverId: number; databases?: string[]; storageTargetIds?: number[] }): Promise<BackupView[]> {
  const r = await client(`mutation($input: RunBackupInput!) { runBackup(input: $input) { ${BACKUP_FIELDS} } }`, { input });
  return (dataOf(r) as { runBackup: BackupView[] }).runBackup.map(rowIds);
}

export async function getBackup(client: Client, id: number): Promise<BackupView> {
  const r = await client(`query($id: ID!) { backup(id: $id) { ${BACKUP_FIELDS} } }`, { id });
  return rowIds((dataOf(r) as { backup: BackupView }).backup);
}

/** Polls a backup until it leaves PENDING/RUNNING (or `until` holds). */
export async function waitForBackup(
  client: Client,
  id: number,
  until: (b: BackupView) => boolean = (b) => !["PENDING", "RUNNING"].includes(b.status),
  timeoutMs = 60_000,
): Promise<BackupView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const b = await getBackup(client, id);
    if (until(b)) return b;
    if (Date.now() > deadline) throw new Error(`backup ${id} still ${b.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash("sha256");
    fs.createReadStream(file)
      .on("data", (c) => hash.update(c))
      .on("end", () => resolve(hash.digest("hex")))
      .on("error", reject);
  });
}

/** Every file under a directory, relative paths. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((d) => d.isFile())
    .map((d) => `${d.parentPath}/${d.name}`.slice(dir.length + 1));
}

/** Pids of processes whose command line contains `needle`, with their argv. */
export function processesWith(needle: string): Array<{ pid: number; argv: string }> {
  const out: Array<{ pid: number; argv: string }> = [];
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
      if (argv.includes(needle)) out.push({ pid: Number(pid), argv });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Every process command line on the machine, joined (to search for a password). */
export function allCommandLines(): string {
  return processesWith("")
    .map((p) => p.argv)
    .join("\n");
}
