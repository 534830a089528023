import fsp from "node:fs/promises";
import { noIdentityMessage, type Decryption } from "../encryption/artifact-decryption.ts";
import { parseIdentityFile } from "../encryption/age-keys.ts";
import type { ServerConnection } from "../runner/dumpers/types.ts";
import { MANIFEST_FORMAT, type Manifest } from "../runner/manifest.ts";
import { UsageError, type CliEnv } from "./usage.ts";

const SCHEMES: Record<string, { engine: ServerConnection["engine"]; port: number; user: string }> = {
  "mysql:": { engine: "MYSQL", port: 3306, user: "root" },
  "mariadb:": { engine: "MARIADB", port: 3306, user: "root" },
  "postgres:": { engine: "POSTGRESQL", port: 5432, user: "postgres" },
  "postgresql:": { engine: "POSTGRESQL", port: 5432, user: "postgres" },
};

/**
 * Parses `--to`: `mysql://` / `mariadb://` or `postgres[ql]://user[:password]@host[:port][/database]`,
 * `?tls=true` (or `?sslmode=require`) for TLS. Without a password in the URL, MYSQL_PWD or
 * PGPASSWORD is used (keeps it out of `ps`). Throws a UsageError naming `option`.
 */
export function parseConnectionUrl(text: string, env: CliEnv, option = "--to"): { conn: ServerConnection; database: string | null } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(option, "must be a URL such as mysql://root@db:3306 or postgres://postgres@db:5432");
  }
  const scheme = SCHEMES[url.protocol];
  if (!scheme) throw new UsageError(option, `unknown scheme ${JSON.stringify(url.protocol)}: use mysql://, mariadb://, postgres:// or postgresql://`);
  if (!url.hostname) throw new UsageError(option, "has no host");
  const pg = scheme.engine === "POSTGRESQL";
  const password = url.password ? decodeURIComponent(url.password) : ((pg ? env.PGPASSWORD : env.MYSQL_PWD) ?? null);
  const database = decodeURIComponent(url.pathname.replace(/^\//, "")) || null;
  const tls = url.searchParams.get("tls") === "true" || ["require", "verify-ca", "verify-full"].includes(url.searchParams.get("sslmode") ?? "");
  return {
    conn: {
      engine: scheme.engine,
      host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: url.port ? Number(url.port) : scheme.port,
      username: url.username ? decodeURIComponent(url.username) : scheme.user,
      password: password || null,
      tls,
      // ?allowPublicKeyRetrieval=false: never fetch the server's RSA key (see README, MySQL 8).
      allowPublicKeyRetrieval: url.searchParams.get("allowPublicKeyRetrieval") !== "false",
    },
    database,
  };
}

/** Parses `s3://bucket/key` (or `s3://bucket/prefix`); throws a UsageError naming `option`. */
export function parseS3Url(text: string, option: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(text);
  if (!match) throw new UsageError(option, "must look like s3://bucket/key");
  return { bucket: match[1]!, key: match[2]! };
}

const ALGORITHMS = { zstd: "ZSTD", gzip: "GZIP", none: "NONE" } as const;
const ENGINES = new Set(["MYSQL", "MARIADB", "POSTGRESQL"]);

/**
 * Parses and checks a `*.manifest.json`: the format, and every field a restore or a metadata
 * rebuild relies on. Throws an Error naming the first bad field (`artifact.sha256: …`).
 */
export function parseManifest(text: string): Manifest {
  let m: Record<string, any>;
  try {
    m = JSON.parse(text) as Record<string, any>;
  } catch (error) {
    throw new Error(`not valid JSON: ${(error as Error).message}`);
  }
  const problem = (field: string, what: string): never => {
    throw new Error(`${field}: ${what}`);
  };
  if (m?.format !== MANIFEST_FORMAT) problem("format", `must be ${MANIFEST_FORMAT}`);
  if (!Number.isInteger(m.backupId) || m.backupId < 1) problem("backupId", "must be a positive integer");
  if (typeof m.database !== "string" || !m.database) problem("database", "must be a non-empty string");
  if (typeof m.server?.name !== "string" || !ENGINES.has(m.server?.engine)) problem("server", "must have a name and an engine (MYSQL, MARIADB or POSTGRESQL)");
  if (!/^[0-9a-f]{64}$/.test(m.artifact?.sha256 ?? "")) problem("artifact.sha256", "must be 64 lower-case hex digits");
  if (typeof m.artifact?.key !== "string" || !m.artifact.key) problem("artifact.key", "must be a non-empty string");
  if (!Number.isInteger(m.artifact?.storedBytes) || !Number.isInteger(m.artifact?.rawBytes)) problem("artifact.storedBytes", "sizes must be integers");
  if (!(m.compression?.algorithm in ALGORITHMS)) problem("compression.algorithm", "must be zstd, gzip or none");
  if (!["sql", "pg-custom", "tar"].includes(m.dump?.format)) problem("dump.format", "must be sql, pg-custom or tar");
  if (Number.isNaN(Date.parse(m.startedAt)) || Number.isNaN(Date.parse(m.finishedAt))) problem("startedAt", "startedAt and finishedAt must be ISO times");
  return m as Manifest;
}

/** The record's compression for a manifest's algorithm. */
export function compressionOf(manifest: Manifest): "ZSTD" | "GZIP" | "NONE" {
  return ALGORITHMS[manifest.compression.algorithm];
}

/** The identities of an age identity file (age-keygen's). Throws a UsageError naming `--identity`. */
export async function identityFileDecryption(identityFile: string, keys: string): Promise<Decryption> {
  let text: string;
  try {
    text = await fsp.readFile(identityFile, "utf8");
  } catch (error) {
    throw new UsageError("--identity", `cannot read ${identityFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    const identities = parseIdentityFile(text);
    return { identities, noIdentity: () => noIdentityMessage(keys).replace("no identity this instance holds", `no identity in ${identityFile}`) };
  } catch (error) {
    throw new UsageError("--identity", `${identityFile} is not an age identity file: ${(error as Error).message}`);
  }
}
