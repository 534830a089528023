import { describe, expect, it } from "vitest";
import { buildManifest, type Manifest } from "./manifest.ts";

const SHA = "ab".repeat(32);
const SED = "sed '1{/999999\\\\- enable the sandbox mode/d;}'";

function manifest(engine: string, tool: string, format: Manifest["dump"]["format"], algorithm: Manifest["compression"]["algorithm"]): Manifest {
  return buildManifest({
    backupId: 7,
    server: { name: "prod", engine, host: "db", port: 3306, version: "x" },
    database: "shop",
    schedule: null,
    trigger: "MANUAL",
    dump: { tool, format },
    compression: { algorithm, level: 3 },
    artifact: { key: "k", rawBytes: 1, storedBytes: 1, sha256: SHA },
    position: null,
    startedAt: "2026-12-02T00:00:00.000Z",
    finishedAt: "2026-12-02T00:00:01.000Z",
  });
}

describe("the manifest's restore hint", () => {
  it.each([
    [
      "MARIADB",
      "mariadb-dump 10.11.19-MariaDB --single-transaction",
      "sql",
      "zstd",
      `zstd -dc <artifact> | mariadb <database>   (Oracle's mysql client: zstd -dc <artifact> | ${SED} | mysql --binary-mode <database>)`,
    ],
    // A MySQL server dumped with MariaDB's tool: the sandbox line is there all the same.
    [
      "MYSQL",
      "mariadb-dump 10.11.19-MariaDB --single-transaction",
      "sql",
      "gzip",
      `gzip -dc <artifact> | mariadb <database>   (Oracle's mysql client: gzip -dc <artifact> | ${SED} | mysql --binary-mode <database>)`,
    ],
    [
      "MARIADB",
      "mysqldump 10.11.19-MariaDB --single-transaction",
      "sql",
      "none",
      `mariadb <database> < <artifact>   (Oracle's mysql client: ${SED} <artifact> | mysql --binary-mode <database>)`,
    ],
    ["MYSQL", "mysqldump 8.0.36 --single-transaction --set-gtid-purged=OFF", "sql", "zstd", "zstd -dc <artifact> | mysql <database>   (or mariadb)"],
    ["POSTGRESQL", "pg_dump 17.6 --format=plain", "sql", "zstd", "zstd -dc <artifact> | psql --dbname <database>"],
    ["POSTGRESQL", "pg_dump 17.6 --format=plain", "sql", "none", "psql --dbname <database> -f <artifact>"],
    ["POSTGRESQL", "pg_dump 17.6 --format=custom", "pg-custom", "gzip", "gzip -dc <artifact> | pg_restore --no-owner --dbname <database>"],
    ["POSTGRESQL", "pg_dump 17.6 --format=custom", "pg-custom", "none", "pg_restore --no-owner --dbname <database> <artifact>"],
  ] as const)("%s, %s, %s, %s", (engine, tool, format, algorithm, hint) => {
    expect(manifest(engine, tool, format, algorithm).restore).toBe(`${hint}; verify first: sha256sum <artifact> = ${SHA}`);
  });
});
