import { describe, expect, it } from "vitest";
import { artifactKey, contentTypeOf, formatOfKey, isEncryptedKey, keySegment, keyTimestamp } from "./artifact-key.ts";

const at = new Date("2026-11-23T02:00:07.123Z");

describe("artifact keys", () => {
  it.each([
    [{ format: "sql", compression: "ZSTD", scheduleName: "daily" }, "prod/shop/daily/20261123T020007Z_42.sql.zst"],
    [{ format: "sql", compression: "GZIP", scheduleName: null }, "prod/shop/manual/20261123T020007Z_42.sql.gz"],
    [{ format: "sql", compression: "NONE", scheduleName: null }, "prod/shop/manual/20261123T020007Z_42.sql"],
    [{ format: "pg-custom", compression: "NONE", scheduleName: "hourly" }, "prod/shop/hourly/20261123T020007Z_42.dump"],
    [{ format: "pg-custom", compression: "ZSTD", scheduleName: "hourly" }, "prod/shop/hourly/20261123T020007Z_42.dump.zst"],
    [{ format: "sql", compression: "ZSTD", scheduleName: null, encryption: "AGE" }, "prod/shop/manual/20261123T020007Z_42.sql.zst.age"],
    [{ format: "pg-custom", compression: "NONE", scheduleName: null, encryption: "AGE" }, "prod/shop/manual/20261123T020007Z_42.dump.age"],
    [{ format: "tar", compression: "ZSTD", scheduleName: null, encryption: "AGE" }, "prod/shop/manual/20261123T020007Z_42.tar.zst.age"],
    [{ format: "sql", compression: "GZIP", scheduleName: null, encryption: "NONE" }, "prod/shop/manual/20261123T020007Z_42.sql.gz"],
  ] as const)("%j → %s", (parts, expected) => {
    expect(artifactKey({ serverName: "prod", database: "shop", createdAt: at, backupId: 42, ...parts })).toBe(expected);
  });

  it.each([
    ["we;ird $(x) ünï", "we;ird $(x) ünï"],
    ["a/b", "a%2Fb"],
    ["100%", "100%25"],
    ["..", "%2E%2E"],
    ["tab\there", "tab%09here"],
  ])("encodes the segment %j as %j", (name, expected) => {
    expect(keySegment(name)).toBe(expected);
  });

  it("stamps UTC times without separators", () => {
    expect(keyTimestamp(at)).toBe("20261123T020007Z");
  });

  it.each([
    ["a/1.sql.zst.age", "sql", true],
    ["a/1.dump.age", "pg-custom", true],
    ["a/1.dump.gz.age", "pg-custom", true],
    ["a/1.tar.zst.age", "tar", true],
    ["a/1.tar.zst", "tar", false],
    ["a/1.sql", "sql", false],
  ] as const)("reads %s as %s (encrypted: %s)", (key, format, encrypted) => {
    expect(formatOfKey(key)).toBe(format);
    expect(isEncryptedKey(key)).toBe(encrypted);
  });

  it("stores an encrypted artifact as bytes, whatever its compression", () => {
    expect(contentTypeOf("sql", "ZSTD", "AGE")).toBe("application/octet-stream");
    expect(contentTypeOf("sql", "ZSTD")).toBe("application/zstd");
  });
});
