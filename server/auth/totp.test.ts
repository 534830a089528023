import { describe, expect, it } from "vitest";
import { base32Decode, base32Encode, generateTotpSecret, otpauthUri, qrSvg, totpCode, totpStep, verifyTotp } from "./totp.ts";

// RFC 6238 appendix B, SHA-1 (8 digits): the key is the ASCII "12345678901234567890".
const RFC_KEY = Buffer.from("12345678901234567890");

describe("TOTP (RFC 6238)", () => {
  it.each([
    [59, "94287082"],
    [1111111109, "07081804"],
    [1111111111, "14050471"],
    [1234567890, "89005924"],
    [2000000000, "69279037"],
    [20000000000, "65353130"],
  ])("gives the RFC's code at T=%i", (seconds, code) => {
    expect(totpCode(RFC_KEY, Math.floor(seconds / 30), 8)).toBe(code);
  });

  it("round-trips base32 and makes 160-bit secrets", () => {
    expect(base32Encode(RFC_KEY)).toBe("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    expect(base32Decode("gezd gnbv gy3t qojq gezdgnbvgy3tqojq").equals(RFC_KEY)).toBe(true);
    const secret = generateTotpSecret();
    expect(base32Decode(secret)).toHaveLength(20);
    expect(generateTotpSecret()).not.toBe(secret);
    expect(() => base32Decode("not base32!")).toThrow(/base32/);
  });

  it("accepts the current code and its neighbours, once each, and refuses others", () => {
    const secret = generateTotpSecret();
    const at = new Date("2026-12-03T08:00:10Z");
    const step = totpStep(at);
    expect(verifyTotp(secret, totpCode(secret, step), at)).toBe(step);
    expect(verifyTotp(secret, totpCode(secret, step - 1), at)).toBe(step - 1);
    expect(verifyTotp(secret, totpCode(secret, step + 1), at)).toBe(step + 1);
    expect(verifyTotp(secret, totpCode(secret, step - 2), at)).toBeNull();
    expect(verifyTotp(secret, totpCode(secret, step), at, step)).toBeNull();
    expect(verifyTotp(secret, totpCode(secret, step + 1), at, step)).toBe(step + 1);
    expect(verifyTotp(secret, "12345", at)).toBeNull();
    expect(verifyTotp(secret, "abcdef", at)).toBeNull();
    const wrong = String((Number(totpCode(secret, step)) + 1) % 1_000_000).padStart(6, "0");
    const neighbours = [step - 1, step + 1].map((s) => totpCode(secret, s));
    if (!neighbours.includes(wrong)) expect(verifyTotp(secret, wrong, at)).toBeNull();
  });

  it("makes an otpauth URI and an SVG QR code of it", async () => {
    const uri = otpauthUri("GEZDGNBV", "alice@example.com");
    expect(uri).toBe("otpauth://totp/SQLGuard%3Aalice%40example.com?secret=GEZDGNBV&issuer=SQLGuard&algorithm=SHA1&digits=6&period=30");
    const svg = await qrSvg(uri);
    expect(svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain("<path");
  });
});
