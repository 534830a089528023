import fs from "node:fs/promises";
import path from "node:path";

/**
 * Directories of the operating system that a LOCAL storage target must never be, nor lie under:
 * SQLGuard would write there, list them and (for retention) delete from them.
 */
export const SYSTEM_DIRECTORIES = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin", "/sys", "/usr"];

const within = (child: string, parent: string): boolean => child === parent || child.startsWith(parent === "/" ? "/" : `${parent}/`);

/**
 * Why `dir` (absolute) cannot be a LOCAL storage target, or null: the root, a system directory or
 * one below it, or SQLGuard's data directory or a directory containing it (it holds secret.key).
 * A directory inside the data directory is fine (the default target is `<data dir>/backups`).
 * Lexical only: see realStoragePathProblem for symbolic links.
 */
export function storagePathProblem(dir: string, dataDir?: string): string | null {
  const resolved = path.resolve(dir);
  if (resolved === "/") return "must not be the root directory";
  const system = SYSTEM_DIRECTORIES.find((s) => within(resolved, s));
  if (system) return `must not be a system directory (${system} or below)`;
  if (dataDir && within(path.resolve(dataDir), resolved)) {
    return `must not be or contain SQLGuard's data directory (${path.resolve(dataDir)}), which holds its secret key`;
  }
  return null;
}

/**
 * storagePathProblem for `dir` and for where it really leads: the deepest part of it that exists
 * is resolved through symbolic links (a link into /etc is refused like /etc itself), and the data
 * directory too.
 */
export async function realStoragePathProblem(dir: string, dataDir?: string): Promise<string | null> {
  const lexical = storagePathProblem(dir, dataDir);
  if (lexical) return lexical;
  const real = await realPrefix(path.resolve(dir));
  const realData = dataDir ? await realPrefix(path.resolve(dataDir)) : undefined;
  const problem = storagePathProblem(real, realData);
  return problem && real !== path.resolve(dir) ? `${problem}: it leads to ${real}` : problem;
}

/** `dir` with its deepest existing ancestor (or itself) replaced by its real path. */
async function realPrefix(dir: string): Promise<string> {
  let head = dir;
  const tail: string[] = [];
  for (;;) {
    try {
      return path.join(await fs.realpath(head), ...tail.reverse());
    } catch {
      if (head === "/") return dir;
      tail.push(path.basename(head));
      head = path.dirname(head);
    }
  }
}
