import { describe, expect, it } from "vitest";
import { artifactKey, keySegment, keyTimestamp } from "./artifact-key.ts";

const at = new Date("2026-11-23T02:00:07.123Z");

describe("artifact keys", () => {
  it.each([
    [{ format: "sql", compression: "ZSTD", scheduleName: "daily" }, "prod/shop/daily/20261123T020007Z_42.sql.zst"],
    [{ format: "sql", compression: "GZIP", scheduleName: null }, "prod/shop/manual/20261123T020007Z_42.sql.gz"],
    [{ format: "sql", compression: "NONE", scheduleName: null }, "prod/shop/manual/20261123T020007Z_42.sql"],
    [{ format: "pg-custom", compression: "NONE", scheduleName: "hourly" }, "prod/shop/hourly/20261123T020007Z_42.dump"],
    [{ format: "pg-custom", compression: "ZSTD", scheduleName: "hourly" }, "prod/shop/hourly/20261123T020007Z_42.dump.zst"],
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
});
