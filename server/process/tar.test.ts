import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import { createReadStream, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createWriteStream } from "node:fs";
import { describe, expect, it } from "vitest";
import { extractTar, tarDirectory, type TarMember } from "./tar.ts";

const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

function spoolWith(files: Record<string, Buffer>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parallel-tar-"));
  for (const [name, body] of Object.entries(files)) writeFileSync(path.join(dir, name), body);
  return dir;
}

describe("tar", () => {
  const longName = `${"schema_with_a_very_long_name_".repeat(4)}.sql`;
  const files = {
    "toc.dat": Buffer.from("header"),
    "empty.sql": Buffer.alloc(0),
    "big.dat": crypto.randomBytes(3 * 1024 * 1024 + 17),
    [longName]: Buffer.from("héllo wörld ✓\n"),
  };

  it("writes a tar GNU tar lists and unpacks, deleting each file once read, with every member's size and SHA-256", async () => {
    const dir = spoolWith(files);
    const members: TarMember[] = [];
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), "parallel-tar-out-")), "a.tar");
    await pipeline(Readable.from(tarDirectory(dir, { onMember: (m) => members.push(m) })), createWriteStream(out));
    expect(readdirSync(dir)).toEqual([]);
    expect(members.map((m) => m.name).sort()).toEqual(Object.keys(files).sort());
    for (const m of members) {
      expect(m.size).toBe(files[m.name]!.length);
      expect(m.sha256).toBe(sha(files[m.name]!));
    }
    const unpacked = mkdtempSync(path.join(os.tmpdir(), "parallel-tar-x-"));
    execFileSync("tar", ["-xf", out, "-C", unpacked]);
    for (const [name, body] of Object.entries(files)) expect(readFileSync(path.join(unpacked, name)).equals(body)).toBe(true);
    await fs.rm(dir, { recursive: true });
  });

  it("extracts its own tars and GNU tar's (`tar -C dir -cf - .`) member by member", async () => {
    const dir = spoolWith(files);
    const gnu = path.join(mkdtempSync(path.join(os.tmpdir(), "parallel-tar-gnu-")), "g.tar");
    execFileSync("tar", ["--format=pax", "-C", dir, "-cf", gnu, "."]);
    const target = mkdtempSync(path.join(os.tmpdir(), "parallel-tar-t-"));
    const members = await extractTar(createReadStream(gnu), target);
    expect(members.map((m) => m.name).sort()).toEqual(Object.keys(files).sort());
    for (const [name, body] of Object.entries(files)) expect(readFileSync(path.join(target, name)).equals(body)).toBe(true);
  });

  it("refuses a truncated tar and a member with a path", async () => {
    const dir = spoolWith({ "a.sql": Buffer.alloc(5000, 1) });
    const chunks: Buffer[] = [];
    for await (const c of tarDirectory(dir)) chunks.push(c);
    const whole = Buffer.concat(chunks);
    await expect(extractTar(Readable.from([whole.subarray(0, 3000)]), mkdtempSync(path.join(os.tmpdir(), "parallel-tar-")))).rejects.toThrow(/truncated/);
    const evil = spoolWith({ x: Buffer.from("x") });
    const tarFile = path.join(evil, "..", `${path.basename(evil)}.tar`);
    execFileSync("tar", ["-C", "/", "-cf", tarFile, "--", path.relative("/", path.join(evil, "x"))]);
    await expect(extractTar(createReadStream(tarFile), mkdtempSync(path.join(os.tmpdir(), "parallel-tar-")))).rejects.toThrow(/plain file names/);
  });
});
