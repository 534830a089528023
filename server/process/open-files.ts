import fs from "node:fs/promises";
import path from "node:path";

/**
 * A process and its descendants (pg_dump -j forks its workers). Read from each task's
 * /proc/<pid>/task/<tid>/children, which costs a few reads per process of the tree; where the
 * kernel lacks those files, from every process's /proc/<pid>/stat (some 20 ms of CPU per call on
 * a host of ~100 processes, which polled five times a second cost a second of CPU per GiB dumped).
 * Empty where /proc is missing.
 */
async function processTree(root: number): Promise<number[]> {
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    const pid = tree[i]!;
    const tasks = await fs.readdir(`/proc/${pid}/task`).catch(() => null);
    if (tasks === null) continue;
    for (const tid of tasks) {
      const children = await fs.readFile(`/proc/${pid}/task/${tid}/children`, "utf8").catch((error: NodeJS.ErrnoException) => error);
      if (children instanceof Error) {
        // Gone meanwhile (the thread ended), or the kernel has no such file (CONFIG_PROC_CHILDREN off).
        if (
          children.code === "ENOENT" &&
          (await fs.access(`/proc/${pid}/task/${tid}`).then(
            () => true,
            () => false,
          ))
        )
          return processTreeByScan(root);
        continue;
      }
      for (const child of children.split(" ")) if (/^\d+$/.test(child)) tree.push(Number(child));
    }
  }
  return tree;
}

/** processTree from every process's stat line: the fallback without /proc/<pid>/task/<tid>/children. */
async function processTreeByScan(root: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await fs.readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (!Number.isInteger(ppid)) continue;
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(parents.get(tree[i]!) ?? []));
  return tree;
}

/**
 * The names of the files directly in `dir` that no process of `pid`'s tree has open: files the
 * writer has finished (mydumper and pg_dump -Fd write each file once, then close it). The
 * directory is listed before the open files are, so a file created meanwhile counts as open.
 * Linux only (/proc); elsewhere no file is ever reported closed, and the directory is read after
 * the writer exits.
 */
export async function closedFilesIn(dir: string, pid: number | undefined): Promise<string[]> {
  if (pid === undefined) return [];
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  if (!names.length) return [];
  const real = await fs.realpath(dir).catch(() => dir);
  const open = new Set<string>();
  let readable = false;
  for (const p of await processTree(pid)) {
    const fds = await fs.readdir(`/proc/${p}/fd`).catch(() => null);
    if (fds === null) continue;
    readable = true;
    for (const fd of fds) {
      const target = await fs.readlink(`/proc/${p}/fd/${fd}`).catch(() => "");
      if (path.dirname(target) === real) open.add(path.basename(target));
    }
  }
  // Without a readable /proc/<pid>/fd nothing can be told closed.
  if (!readable) return [];
  return names.filter((n) => !open.has(n));
}
