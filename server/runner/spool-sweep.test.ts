import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { removeStaleSpool } from "./spool-sweep.ts";

describe("removeStaleSpool", () => {
  it("removes only attempt directories nothing wrote to since the cut-off, never other entries", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "parallel-sweep-"));
    const old = new Date(Date.now() - 3_600_000);
    for (const name of ["backup-1-a", "restore-b", "backup-2-c", "other"]) {
      fs.mkdirSync(path.join(root, name, "dump"), { recursive: true });
      fs.writeFileSync(path.join(root, name, "dump", "x.sql"), "x");
      for (const d of [path.join(root, name, "dump"), path.join(root, name)]) fs.utimesSync(d, old, old);
    }
    // backup-2-c's dump is still being written.
    fs.utimesSync(path.join(root, "backup-2-c", "dump"), new Date(), new Date());
    const removed = await removeStaleSpool(root, new Date(Date.now() - 60_000));
    expect(removed.map((d) => path.basename(d)).sort()).toEqual(["backup-1-a", "restore-b"]);
    expect(fs.readdirSync(root).sort()).toEqual(["backup-2-c", "other"]);
    expect(await removeStaleSpool(path.join(root, "missing"), new Date())).toEqual([]);
  });
});
