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
import { spawn } from "node:child_process";
import { closedFilesIn } from "./open-files.ts";
import { extractTar, tarDirectory, tarGrowingDirectory, type TarMember } from "./tar.ts";

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

  /** A writer in bash: `script` runs in `dir`; resolves the tar of what tarGrowingDirectory stored while it ran. */
  async function tarWhileWriting(script: string): Promise<{ members: TarMember[]; tar: Buffer; dir: string }> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "parallel-grow-"));
    const child = spawn("bash", ["-c", script], { cwd: dir, stdio: "ignore" });
    const finished = new Promise<void>((resolve, reject) => child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}`)))));
    const members: TarMember[] = [];
    const chunks: Buffer[] = [];
    for await (const c of tarGrowingDirectory(
      dir,
      { closedFiles: () => closedFilesIn(dir, child.pid), finished, pollMs: 50 },
      { onMember: (m) => members.push(m) },
    ))
      chunks.push(c);
    return { members, tar: Buffer.concat(chunks), dir };
  }

  it("stores the files a writer has closed while it writes the others, an open file only once complete", async () => {
    const { members, tar, dir } = await tarWhileWriting("echo a > a.sql; exec 3> b.sql; echo part >&3; sleep 0.5; echo rest >&3; exec 3>&-; echo c > c.sql");
    // a.sql went first, while b.sql was still open; b.sql whole.
    expect(members.map((m) => m.name)).toEqual(["a.sql", "b.sql", "c.sql"]);
    expect(readdirSync(dir)).toEqual([]);
    const out = mkdtempSync(path.join(os.tmpdir(), "parallel-grow-x-"));
    await extractTar(Readable.from([tar]), out);
    expect(readFileSync(path.join(out, "b.sql"), "utf8")).toBe("part\nrest\n");
  });

  it("fails when the writer writes a stored file again, and when the writer fails", async () => {
    await expect(tarWhileWriting("echo a > a.sql; sleep 0.5; echo again > a.sql")).rejects.toThrow(/a\.sql was written again after it had been stored/);
    await expect(tarWhileWriting("echo a > a.sql; exit 3")).rejects.toThrow(/writer exited 3/);
  });
});
