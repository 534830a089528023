import crypto from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { keyFromPassphrase, loadSecretKey, SecretBox } from "./secret-box.ts";

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => fs.rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-secret-"));
  dirs.push(dir);
  return dir;
}

/** Decodes an envelope, lets `alter` flip bytes in the raw payload, and re-encodes it. */
function tamper(envelope: string, alter: (raw: Buffer) => void): string {
  const [version, payload] = envelope.split(":");
  const raw = Buffer.from(payload!, "base64");
  alter(raw);
  return `${version}:${raw.toString("base64")}`;
}

const PLAINTEXT = "p@ss:wörd; DROP TABLE x -- 🔑";

describe("SecretBox", () => {
  it.each([PLAINTEXT, "", "x".repeat(10_000)])("opens what it sealed (%#)", (plaintext) => {
    const box = new SecretBox(crypto.randomBytes(32));
    expect(box.open(box.seal(plaintext))).toBe(plaintext);
  });

  it("seals the same plaintext differently each time, in a v1 envelope that does not contain it", () => {
    const box = new SecretBox(crypto.randomBytes(32));
    const sealed = Array.from({ length: 20 }, () => box.seal(PLAINTEXT));
    expect(new Set(sealed).size).toBe(sealed.length);
    const ivs = sealed.map((s) => Buffer.from(s.slice(3), "base64").subarray(0, 12).toString("hex"));
    expect(new Set(ivs).size).toBe(sealed.length);
    for (const envelope of sealed) {
      expect(envelope).toMatch(/^v1:[A-Za-z0-9+/]+=*$/);
      expect(envelope).not.toContain(PLAINTEXT);
      expect(envelope).not.toContain("p@ss");
      expect(envelope).not.toContain(Buffer.from(PLAINTEXT).toString("base64"));
      expect(box.open(envelope)).toBe(PLAINTEXT);
    }
  });

  it.each([
    ["the ciphertext", (raw: Buffer) => void (raw[raw.length - 1]! ^= 0x01)],
    ["the authentication tag", (raw: Buffer) => void (raw[12]! ^= 0x80)],
    ["the IV", (raw: Buffer) => void (raw[0]! ^= 0x01)],
  ])("refuses an envelope whose %s was altered", (_part, alter) => {
    const box = new SecretBox(crypto.randomBytes(32));
    const tampered = tamper(box.seal(PLAINTEXT), alter);
    expect(() => box.open(tampered)).toThrow(/cannot decrypt a stored secret/);
  });

  it("refuses a truncated envelope", () => {
    const box = new SecretBox(crypto.randomBytes(32));
    const sealed = box.seal(PLAINTEXT);
    expect(() => box.open(sealed.slice(0, sealed.length - 8))).toThrow();
  });

  it("refuses an envelope sealed under another key, saying the key differs", () => {
    const sealed = new SecretBox(crypto.randomBytes(32)).seal(PLAINTEXT);
    const error = (() => {
      try {
        new SecretBox(crypto.randomBytes(32)).open(sealed);
      } catch (e) {
        return e as Error;
      }
      throw new Error("opened with the wrong key");
    })();
    expect(error.message).toMatch(/secret key differs/);
    expect(error.message).not.toContain(PLAINTEXT);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it.each(["", "v2:AAAA", "v1:", "plain text"])("refuses the unknown envelope %j", (envelope) => {
    expect(() => new SecretBox(crypto.randomBytes(32)).open(envelope)).toThrow(/unknown secret envelope format/);
  });

  it.each([0, 16, 31, 33, 64])("refuses a %i-byte key", (length) => {
    expect(() => new SecretBox(Buffer.alloc(length))).toThrow(/32 bytes/);
  });
});

describe("keyFromPassphrase", () => {
  it("derives a stable 32-byte key that depends on the passphrase", () => {
    const passphrase = "correct horse battery staple, 32+ chars";
    const key = keyFromPassphrase(passphrase);
    expect(key).toHaveLength(32);
    expect(keyFromPassphrase(passphrase).equals(key)).toBe(true);
    expect(keyFromPassphrase(`${passphrase}!`).equals(key)).toBe(false);
    expect(key.equals(Buffer.from(passphrase).subarray(0, 32))).toBe(false);
  });
});

describe("loadSecretKey", () => {
  it("derives the key from SQLGUARD_SECRET_KEY without touching the data directory", async () => {
    const dataDir = path.join(await tempDir(), "data");
    const secretKey = "s".repeat(40);

    const first = await loadSecretKey({ secretKey, dataDir });
    const second = await loadSecretKey({ secretKey, dataDir });

    expect(first.equals(keyFromPassphrase(secretKey))).toBe(true);
    expect(second.equals(first)).toBe(true);
    await expect(fs.stat(dataDir)).rejects.toMatchObject({ code: "ENOENT" });
    // A box opened with a key loaded later reads what an earlier one sealed: the passphrase is all it takes.
    expect(new SecretBox(second).open(new SecretBox(first).seal(PLAINTEXT))).toBe(PLAINTEXT);
  });

  it("without a passphrase, creates <dataDir>/secret.key once with mode 0600 and reuses it", async () => {
    const dataDir = path.join(await tempDir(), "nested", "data");
    const file = path.join(dataDir, "secret.key");

    const first = await loadSecretKey({ dataDir });
    expect(first).toHaveLength(32);
    const stat = await fs.stat(file);
    expect(stat.mode & 0o777).toBe(0o600);
    const contents = await fs.readFile(file, "utf8");
    expect(contents).toBe(`${first.toString("hex")}\n`);

    const second = await loadSecretKey({ dataDir });
    expect(second.equals(first)).toBe(true);
    expect(await fs.readFile(file, "utf8")).toBe(contents);
    expect((await fs.stat(file)).mtimeMs).toBe(stat.mtimeMs);
    expect(new SecretBox(second).open(new SecretBox(first).seal(PLAINTEXT))).toBe(PLAINTEXT);
  });

  it("generates a different key for another data directory", async () => {
    const [a, b] = await Promise.all([loadSecretKey({ dataDir: await tempDir() }), loadSecretKey({ dataDir: await tempDir() })]);
    expect(a.equals(b)).toBe(false);
  });

  it("creates a single key when loaded concurrently", async () => {
    const dataDir = await tempDir();
    const keys = await Promise.all(Array.from({ length: 5 }, () => loadSecretKey({ dataDir })));
    for (const key of keys) expect(key.equals(keys[0]!)).toBe(true);
  });

  it("tightens an existing key file to mode 0600 and keeps its key", async () => {
    const dataDir = await tempDir();
    const file = path.join(dataDir, "secret.key");
    const hex = crypto.randomBytes(32).toString("hex");
    await fs.writeFile(file, `${hex}\n`, { mode: 0o644 });
    await fs.chmod(file, 0o644);

    const key = await loadSecretKey({ dataDir });

    expect(key.toString("hex")).toBe(hex);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  });

  it("refuses a key file that does not hold a 64-digit hex key, naming the file", async () => {
    const dataDir = await tempDir();
    const file = path.join(dataDir, "secret.key");
    await fs.writeFile(file, "not a key\n", { mode: 0o600 });
    await expect(loadSecretKey({ dataDir })).rejects.toThrow(`${file} does not hold a 64-digit hex key`);
  });
});
