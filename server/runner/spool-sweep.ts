import fs from "node:fs/promises";
import path from "node:path";

/**
 * Removes the attempt directories (`backup-*`, `restore-*`) in a spool that nothing has written to
 * since `olderThan` (the directory and its `dump/` both older): what a crash left behind. A running
 * dump changes them as it writes and its files are stored; a running restore touches its own.
 * Returns the directories removed; never throws.
 */
export async function removeStaleSpool(root: string, olderThan: Date): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await fs.readdir(root).catch(() => [] as string[])) {
    if (!/^(backup|restore)-/.test(name)) continue;
    const dir = path.join(root, name);
    const times = await Promise.all(
      [dir, path.join(dir, "dump")].map((d) =>
        fs.stat(d).then(
          (s) => s.mtimeMs,
          () => 0,
        ),
      ),
    );
    if (Math.max(...times) >= olderThan.getTime()) continue;
    await fs.rm(dir, { recursive: true, force: true }).catch(() => {});
    removed.push(dir);
  }
  return removed;
}
