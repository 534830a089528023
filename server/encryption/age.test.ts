import { execFileSync, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { pipeline } from "node:stream/promises";
import { afterAll, describe, expect, it } from "vitest";
import { encodeIdentity, fingerprintOf, generateIdentity, parseIdentity, parseIdentityFile, parseRecipient } from "./age-keys.ts";
import { AgeDecrypt, AgeEncrypt, CHUNK } from "./age-stream.ts";
import { AgeError } from "./age-header.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "crypt-age-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function encrypt(data: Buffer, recipients: string[]): Promise<Buffer> {
  return buffer(Readable.from(chunks(data)).pipe(new AgeEncrypt(recipients.map(parseRecipient))));
}

async function decrypt(data: Buffer, identities = [generateIdentity()]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks(data, 7777)), new AgeDecrypt(identities), async (source: AsyncIterable<Buffer>) => {
    for await (const c of source) out.push(c);
  });
  return Buffer.concat(out);
}

function* chunks(data: Buffer, size = 50_000): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

function keygen(): { file: string; recipient: string } {
  const file = path.join(dir, `key-${crypto.randomBytes(4).toString("hex")}.txt`);
  execFileSync("age-keygen", ["-o", file], { stdio: "pipe" });
  const recipient = /public key: (age1\w+)/.exec(fs.readFileSync(file, "utf8"))![1]!;
  return { file, recipient };
}

function ageDecrypt(file: string, data: Buffer): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync("age", ["-d", "-i", file], { input: data, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

// Sizes around the chunk boundaries: empty, one byte, exactly one chunk, one chunk and a byte, several.
const SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 12345];

describe("age v1 with Debian's age", () => {
  it.each(SIZES)("a %i-byte file SQLGuard encrypts decrypts with age -d", async (size) => {
    const key = keygen();
    const data = crypto.randomBytes(size);
    const sealed = await encrypt(data, [key.recipient, generateIdentity().recipient]);
    expect(sealed.subarray(0, 22).toString()).toBe("age-encryption.org/v1\n");
    const out = ageDecrypt(key.file, sealed);
    expect(out.stderr).toBe("");
    expect(out.status).toBe(0);
    expect(out.stdout.equals(data)).toBe(true);
  });

  it.each(SIZES)("a %i-byte file age encrypts decrypts with SQLGuard's identity parser and stream", async (size) => {
    const key = keygen();
    const data = crypto.randomBytes(size);
    const sealed = execFileSync("age", ["-r", key.recipient], { input: data, maxBuffer: 64 << 20 });
    const identities = parseIdentityFile(fs.readFileSync(key.file, "utf8"));
    expect((await decrypt(sealed, identities)).equals(data)).toBe(true);
  });

  it("keys round-trip: a generated identity's secret and recipient are what age-keygen -y derives", () => {
    const identity = generateIdentity();
    const secret = encodeIdentity(identity);
    expect(secret).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]+$/);
    const derived = execFileSync("age-keygen", ["-y"], { input: `${secret}\n` })
      .toString()
      .trim();
    expect(derived).toBe(identity.recipient);
    expect(parseIdentity(secret).recipient).toBe(identity.recipient);
    expect(fingerprintOf(identity.recipient)).toBe(crypto.createHash("sha256").update(identity.recipient).digest("hex").slice(0, 16));
  });

  it("refuses malformed recipients, naming what is wrong", () => {
    const good = generateIdentity().recipient;
    expect(() => parseRecipient(`${good.slice(0, -1)}${good.endsWith("q") ? "p" : "q"}`)).toThrow(/checksum/);
    expect(() => parseRecipient("age1")).toThrow(/not an age recipient/);
    expect(() => parseRecipient(encodeIdentity(generateIdentity()))).toThrow(/must start with age1/);
    expect(() => parseRecipient(good.toUpperCase())).toThrow(/lower case/);
  });

  describe("damaged files are refused by SQLGuard and by age -d", () => {
    const data = crypto.randomBytes(3 * CHUNK + 999);
    const key = keygen();
    const identities = () => parseIdentityFile(fs.readFileSync(key.file, "utf8"));
    let sealed: Buffer;
    let headerEnd: number;

    const refused = async (damaged: Buffer, code: AgeError["code"]) => {
      const error = await decrypt(damaged, identities()).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AgeError);
      expect((error as AgeError).code).toBe(code);
      const out = ageDecrypt(key.file, damaged);
      expect(out.status).not.toBe(0);
    };

    it("setup", async () => {
      sealed = await encrypt(data, [key.recipient]);
      headerEnd = sealed.indexOf("\n--- ") + 1;
      headerEnd = sealed.indexOf("\n", headerEnd) + 1 + 16;
      expect((await decrypt(sealed, identities())).equals(data)).toBe(true);
    });

    it("truncated inside a chunk", () => refused(sealed.subarray(0, sealed.length - 100), "TAMPERED"));
    it("truncated at a chunk boundary", () => refused(sealed.subarray(0, headerEnd + 2 * (CHUNK + 16)), "TAMPERED"));
    it("truncated inside the header", () => refused(sealed.subarray(0, 40), "TRUNCATED"));
    it("a bit flipped in the payload", () => {
      const copy = Buffer.from(sealed);
      copy[headerEnd + CHUNK + 500]! ^= 0x01;
      return refused(copy, "TAMPERED");
    });
    it("a bit flipped in the header MAC", () => {
      const copy = Buffer.from(sealed);
      const mac = copy.indexOf("\n--- ") + 6;
      copy[mac] = copy[mac] === 0x41 ? 0x42 : 0x41;
      return refused(copy, "TAMPERED");
    });
    it("two chunks swapped", () => {
      const c = CHUNK + 16;
      const copy = Buffer.concat([
        sealed.subarray(0, headerEnd),
        sealed.subarray(headerEnd + c, headerEnd + 2 * c),
        sealed.subarray(headerEnd, headerEnd + c),
        sealed.subarray(headerEnd + 2 * c),
      ]);
      return refused(copy, "TAMPERED");
    });
    it("a file for another key", async () => {
      const other = await encrypt(data.subarray(0, 10), [generateIdentity().recipient]);
      await refused(other, "NO_IDENTITY");
    });
  });
});
