import { describe, expect, it } from "vitest";
import { buildManifest } from "../runner/manifest.ts";
import { compressionOf, parseConnectionUrl, parseManifest, parseS3Url } from "./cli-inputs.ts";

const manifest = () =>
  buildManifest({
    backupId: 7,
    server: { name: "prod", engine: "MARIADB", host: "db", port: 3306, version: "10.11.19-MariaDB" },
    database: "shop",
    schedule: null,
    trigger: "MANUAL",
    dump: { tool: "mariadb-dump 10.11.19", format: "sql" },
    compression: { algorithm: "zstd", level: 3 },
    artifact: { key: "prod/shop/manual/20261123T020000Z_7.sql.zst", rawBytes: 100, storedBytes: 40, sha256: "a".repeat(64) },
    position: null,
    startedAt: "2026-11-23T02:00:00.000Z",
    finishedAt: "2026-11-23T02:00:01.000Z",
  });

describe("parseConnectionUrl", () => {
  it.each([
    ["mariadb://root@db", {}, { engine: "MARIADB", host: "db", port: 3306, username: "root", password: null, tls: false, allowPublicKeyRetrieval: true }, null],
    ["mysql://root@db?allowPublicKeyRetrieval=false", {}, { engine: "MYSQL", tls: false, allowPublicKeyRetrieval: false }, null],
    ["mysql://u:p%40ss@[::1]:3307/shop%20db?tls=true", {}, { engine: "MYSQL", host: "::1", port: 3307, username: "u", password: "p@ss", tls: true }, "shop db"],
    ["mysql://u@db", { MYSQL_PWD: "from-env" }, { password: "from-env" }, null],
    ["postgres://db/shop?sslmode=require", { PGPASSWORD: "pg" }, { engine: "POSTGRESQL", port: 5432, username: "postgres", password: "pg", tls: true }, "shop"],
    ["postgresql://app@db:6432", {}, { engine: "POSTGRESQL", port: 6432, username: "app" }, null],
  ] as const)("%s", (url, env, conn, database) => {
    const parsed = parseConnectionUrl(url, env);
    expect(parsed.conn).toMatchObject(conn);
    expect(parsed.database).toBe(database);
  });

  it.each([
    ["not a url", /--to: must be a URL/],
    ["ftp://db", /--to: unknown scheme "ftp:"/],
  ])("refuses %s, naming the option", (url, message) => {
    expect(() => parseConnectionUrl(url, {})).toThrow(message);
  });

  it("splits s3:// URLs", () => {
    expect(parseS3Url("s3://bucket/a/b.sql.zst", "--from-s3")).toEqual({ bucket: "bucket", key: "a/b.sql.zst" });
    expect(parseS3Url("s3://bucket", "--s3")).toEqual({ bucket: "bucket", key: "" });
    expect(() => parseS3Url("https://bucket/x", "--s3")).toThrow(/--s3: must look like s3:\/\/bucket\/key/);
  });
});

describe("parseManifest", () => {
  it("accepts what the runner writes", () => {
    const parsed = parseManifest(JSON.stringify(manifest()));
    expect(parsed.artifact.sha256).toBe("a".repeat(64));
    expect(compressionOf(parsed)).toBe("ZSTD");
  });

  it.each([
    ["{", /not valid JSON/],
    [JSON.stringify({ ...manifest(), format: "other/1" }), /^format: /],
    [JSON.stringify({ ...manifest(), backupId: 0 }), /^backupId: /],
    [JSON.stringify({ ...manifest(), artifact: { ...manifest().artifact, sha256: "XYZ" } }), /^artifact\.sha256: /],
    [JSON.stringify({ ...manifest(), compression: { algorithm: "lz4", level: 1 } }), /^compression\.algorithm: /],
    [JSON.stringify({ ...manifest(), dump: { tool: "x", format: "zip" } }), /^dump\.format: /],
    [JSON.stringify({ ...manifest(), server: { name: "x", engine: "ORACLE" } }), /^server: /],
  ])("refuses a bad manifest, naming the field (%#)", (text, message) => {
    expect(() => parseManifest(text)).toThrow(message);
  });
});
