import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realStoragePathProblem, storagePathProblem } from "./storage-paths.ts";

const DATA = "/var/lib/sqlguard";

describe("storagePathProblem", () => {
  it.each([
    ["/", "must not be the root directory"],
    ["/etc", "must not be a system directory (/etc or below)"],
    ["/etc/sqlguard", "must not be a system directory (/etc or below)"],
    ["/proc/self/cwd", "must not be a system directory (/proc or below)"],
    ["/sys", "must not be a system directory (/sys or below)"],
    ["/dev/shm", "must not be a system directory (/dev or below)"],
    ["/usr/lib", "must not be a system directory (/usr or below)"],
    ["/var/lib/sqlguard", "must not be or contain SQLGuard's data directory (/var/lib/sqlguard), which holds its secret key"],
    ["/var/lib", "must not be or contain SQLGuard's data directory (/var/lib/sqlguard), which holds its secret key"],
    ["/var/lib/sqlguard/../sqlguard", "must not be or contain SQLGuard's data directory (/var/lib/sqlguard), which holds its secret key"],
  ])("refuses %s", (dir, problem) => {
    expect(storagePathProblem(dir, DATA)).toBe(problem);
  });

  it.each(["/var/lib/sqlguard/backups", "/var/lib/sqlguard-backups", "/srv/backups", "/etcetera", "/mnt/nas/dev", "/devices"])("accepts %s", (dir) => {
    expect(storagePathProblem(dir, DATA)).toBeNull();
  });
});

describe("realStoragePathProblem", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-paths-"));
    await fs.symlink("/etc", path.join(dir, "to-etc"));
    await fs.mkdir(path.join(dir, "data"));
    await fs.symlink(path.join(dir, "data"), path.join(dir, "data-link"));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("follows symbolic links, also below the deepest directory that exists", async () => {
    expect(await realStoragePathProblem(path.join(dir, "to-etc"))).toBe("must not be a system directory (/etc or below): it leads to /etc");
    expect(await realStoragePathProblem(path.join(dir, "to-etc", "not", "yet"))).toMatch(
      /^must not be a system directory \(\/etc or below\): it leads to \/etc\/not\/yet$/,
    );
    expect(await realStoragePathProblem(path.join(dir, "data-link"), path.join(dir, "data"))).toMatch(/^must not be or contain SQLGuard's data directory/);
    expect(await realStoragePathProblem(path.join(dir, "data-link", "backups"), path.join(dir, "data"))).toBeNull();
    expect(await realStoragePathProblem(path.join(dir, "fresh", "dir"), path.join(dir, "data"))).toBeNull();
  });
});
