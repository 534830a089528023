import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { LocalStore } from "../../storage/local-store.ts";
import type { BaseBackupPosition } from "./base-backup.ts";
import { prepareDataDir, type PgRestorePlan } from "./restore-to-time.ts";

/** The recovery settings a prepared data directory starts with: a time, or a checkpoint's exact LSN. */
describe("the recovery target written into a prepared data directory", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-recovery-target-"));
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  async function prepared(extra: Partial<PgRestorePlan>, name: string): Promise<string> {
    const src = path.join(work, `${name}-src`);
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, "PG_VERSION"), "15\n");
    const tarball = path.join(work, `${name}.tar.zst`);
    execFileSync("tar", ["-I", "zstd", "-cf", tarball, "-C", src, "."]);
    const store = new LocalStore({ basePath: path.join(work, "store") });
    const key = `base/${name}.tar.zst`;
    await store.put(key, Readable.from([fs.readFileSync(tarball)]));
    const plan: PgRestorePlan = {
      backupId: 1,
      base: { kind: "pg-base", timeline: 1, startLsn: "0/2000028", startSegment: "000000010000000000000002" } as BaseBackupPosition,
      baseKey: key,
      baseTargetId: 1,
      baseSha256: createHash("sha256").update(fs.readFileSync(tarball)).digest("hex"),
      wal: [],
      target: new Date("2026-12-04T17:00:00.250Z"),
      ...extra,
    };
    const dataDir = path.join(work, `${name}-data`);
    await prepareDataDir(plan, async () => store, dataDir);
    expect(fs.existsSync(path.join(dataDir, "recovery.signal"))).toBe(true);
    return fs.readFileSync(path.join(dataDir, "postgresql.auto.conf"), "utf8");
  }

  it("stops at the instant, inclusive, for a restore to a time", async () => {
    const conf = await prepared({}, "time");
    expect(conf).toContain("recovery_target_time = '2026-12-04 17:00:00.250+00'");
    expect(conf).toContain("recovery_target_inclusive = true");
    expect(conf).not.toContain("recovery_target_lsn");
    expect(conf).toContain("recovery_target_action = 'promote'");
  });

  it("stops just before the checkpoint's LSN for a point-in-time drill, and names no time", async () => {
    const conf = await prepared({ targetLsn: "0/3000148" }, "lsn");
    expect(conf).toContain("recovery_target_lsn = '0/3000148'");
    expect(conf).toContain("recovery_target_inclusive = false");
    expect(conf).not.toContain("recovery_target_time");
    expect(conf).toContain("recovery_target_action = 'promote'");
  });
});
