import { describe, expect, it } from "vitest";
import { generateRecoveryCodes, hashRecoveryCode, normalizeRecoveryCode, RECOVERY_CODE_COUNT } from "./recovery-codes.ts";

describe("recovery codes", () => {
  it("are ten distinct xxxxx-xxxxx codes without look-alike characters", () => {
    const codes = generateRecoveryCodes();
    expect(codes).toHaveLength(RECOVERY_CODE_COUNT);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^[a-hjkmnp-z2-9]{5}-[a-hjkmnp-z2-9]{5}$/);
  });

  it("hash to SHA-256 of the normalized form, so case, spaces and dashes do not matter", () => {
    const [code] = generateRecoveryCodes(1);
    const hash = hashRecoveryCode(code!);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(normalizeRecoveryCode(code!));
    expect(hashRecoveryCode(` ${code!.toUpperCase().replace("-", " - ")} `)).toBe(hash);
    expect(hashRecoveryCode(code!.replace(/.$/, (c) => (c === "a" ? "b" : "a")))).not.toBe(hash);
  });
});
