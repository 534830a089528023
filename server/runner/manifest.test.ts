import { describe, expect, it } from "vitest";
import { buildManifest, manifestEncryption, type Manifest } from "./manifest.ts";

const SHA = "ab".repeat(32);
const SED = "sed '1{/999999\\\\- enable the sandbox mode/d;}'";

const KEYS = [
  { id: 1, kind: "INSTANCE" as const, label: "instance key", fingerprint: "0123456789abcdef", recipient: "age1instance" },
  { id: 4, kind: "RECOVERY" as const, label: "vault", fingerprint: "fedcba9876543210", recipient: "age1vault" },
];

function manifest(
  engine: string,
  tool: string,
  format: Manifest["dump"]["format"],
  algorithm: Manifest["compression"]["algorithm"],
  encrypted = false,
): Manifest {
  return buildManifest({
    ...(encrypted ? { encryption: manifestEncryption(KEYS) } : {}),
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

  const AGE = "age -d -i <identity file> <artifact> | ";
  it.each([
    [
      "MARIADB",
      "mariadb-dump 10.11.19-MariaDB --single-transaction",
      "sql",
      "zstd",
      `${AGE}zstd -dc | mariadb <database>   (Oracle's mysql client: ${AGE}zstd -dc | ${SED} | mysql --binary-mode <database>)`,
    ],
    ["MYSQL", "mysqldump 8.0.36 --single-transaction", "sql", "gzip", `${AGE}gzip -dc | mysql <database>   (or mariadb)`],
    ["POSTGRESQL", "pg_dump 17.6 --format=plain", "sql", "none", `${AGE}psql --dbname <database>`],
    ["POSTGRESQL", "pg_dump 17.6 --format=custom", "pg-custom", "zstd", `${AGE}zstd -dc | pg_restore --no-owner --dbname <database>`],
    [
      "POSTGRESQL",
      "pg_dump 17.6 --format=directory --jobs=4",
      "tar",
      "zstd",
      `mkdir <dir> && ${AGE}zstd -dc | tar -xf - -C <dir> && pg_restore --no-owner --exit-on-error --jobs=4 --dbname <database> <dir>`,
    ],
  ] as const)("encrypted: %s, %s, %s, %s", (engine, tool, format, algorithm, hint) => {
    const m = manifest(engine, tool, format, algorithm, true);
    expect(m.restore).toBe(`${hint}; verify first: sha256sum <artifact> = ${SHA}`);
  });

  it("records the age format and the recipients' public parts, nothing else", () => {
    expect(manifest("MARIADB", "mariadb-dump", "sql", "zstd", true).encryption).toEqual({
      format: "age-v1",
      recipients: [
        { keyId: 1, kind: "INSTANCE", label: "instance key", fingerprint: "0123456789abcdef", recipient: "age1instance" },
        { keyId: 4, kind: "RECOVERY", label: "vault", fingerprint: "fedcba9876543210", recipient: "age1vault" },
      ],
    });
    expect(manifest("MARIADB", "mariadb-dump", "sql", "zstd").encryption).toBeUndefined();
  });
});
