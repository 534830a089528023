import { createRequire } from "node:module";
import type { TableStats } from "./table-stats.ts";
import type { DumpFormat, ReplicationPosition } from "./dumpers/types.ts";
import type { TarMember } from "../process/tar.ts";

const VERSION = (createRequire(import.meta.url)("../../package.json") as { version: string }).version;

export const MANIFEST_FORMAT = "sqlguard-manifest/1";

/**
 * The sidecar `<artifact key>.manifest.json`: enough to restore with standard tools and no
 * SQLGuard (what engine and tool made it, how it is compressed, its checksum), and to rebuild the
 * metadata records if the metadata database is lost. Never contains a secret.
 */
export type Manifest = {
  format: typeof MANIFEST_FORMAT;
  sqlguardVersion: string;
  backupId: number;
  server: { name: string; engine: string; host: string; port: number; version: string };
  database: string;
  schedule: string | null;
  trigger: string;
  dump: { tool: string; format: DumpFormat };
  /** format "tar": every file of the dump directory, in tar order, with its size and SHA-256. */
  members?: TarMember[];
  compression: { algorithm: "zstd" | "gzip" | "none"; level: number };
  /** `storedBytes` and `sha256` are over the stored object: for an encrypted one, the age file. */
  artifact: { key: string; rawBytes: number; storedBytes: number; sha256: string };
  /** Set when the artifact is an age v1 file: the keys that open it (public parts only). */
  encryption?: ManifestEncryption;
  position: ReplicationPosition | null;
  /** Tables, row counts and objects at dump time, when restore drills check this schedule's backups. */
  tableStats?: TableStats | null;
  /** What the dump left out or did not take consistently (Backup.warnings); absent in older manifests. */
  warnings?: string[];
  startedAt: string;
  finishedAt: string;
  restore: string;
};

/** Age encryption as the manifest records it: the format, and the recipients without any secret. */
export type ManifestEncryption = {
  format: "age-v1";
  recipients: Array<{ keyId: number; kind: "INSTANCE" | "RECOVERY"; label: string; fingerprint: string; recipient: string }>;
};

/** The manifest's `encryption` for an artifact encrypted to these keys. */
export function manifestEncryption(
  keys: Array<{ id: number; kind: "INSTANCE" | "RECOVERY"; label: string; fingerprint: string; recipient: string }>,
): ManifestEncryption {
  return {
    format: "age-v1",
    recipients: keys.map((k) => ({ keyId: k.id, kind: k.kind, label: k.label, fingerprint: k.fingerprint, recipient: k.recipient })),
  };
}

const DECOMPRESS = { zstd: "zstd -dc <artifact> | ", gzip: "gzip -dc <artifact> | ", none: "" } as const;
const DECRYPT = "age -d -i <identity file> <artifact> | ";
const DECOMPRESS_STDIN = { zstd: "zstd -dc | ", gzip: "gzip -dc | ", none: "" } as const;
/** Deletes MariaDB's sandbox first line (see restore/sandbox-line.ts), which Oracle's mysql refuses. */
const SANDBOX_SED = "sed '1{/999999\\\\- enable the sandbox mode/d;}'";

/**
 * The standard-tools restore command for an artifact. A dump made by mariadb-dump starts with a
 * sandbox line that MariaDB's client runs and Oracle's mysql client refuses, so the hint gives
 * the command for each; --binary-mode keeps Oracle's client from running `\!` and the like.
 */
function restoreHint(
  engine: string,
  format: Manifest["dump"]["format"],
  tool: string,
  algorithm: Manifest["compression"]["algorithm"],
  encrypted: boolean,
): string {
  if (encrypted) {
    // Decrypted to a pipe: every command then reads the dump from its standard input.
    const through = DECRYPT + DECOMPRESS_STDIN[algorithm];
    if (format === "tar") {
      const unpack = `mkdir <dir> && ${through}tar -xf - -C <dir>`;
      return engine === "POSTGRESQL"
        ? `${unpack} && pg_restore --no-owner --exit-on-error --jobs=4 --dbname <database> <dir>`
        : `${unpack} && myloader --directory=<dir> --database=<database> --threads=4 --defaults-file=<option file with user and password>`;
    }
    if (engine === "POSTGRESQL") return format === "pg-custom" ? `${through}pg_restore --no-owner --dbname <database>` : `${through}psql --dbname <database>`;
    if (!/mariadb/i.test(tool)) return `${through}mysql <database>   (or mariadb)`;
    return `${through}mariadb <database>   (Oracle's mysql client: ${through}${SANDBOX_SED} | mysql --binary-mode <database>)`;
  }
  const through = DECOMPRESS[algorithm];
  if (format === "tar") {
    const unpack = `mkdir <dir> && ${algorithm === "none" ? "tar -xf <artifact>" : `${through}tar -xf -`} -C <dir>`;
    return engine === "POSTGRESQL"
      ? `${unpack} && pg_restore --no-owner --exit-on-error --jobs=4 --dbname <database> <dir>`
      : `${unpack} && myloader --directory=<dir> --database=<database> --threads=4 --defaults-file=<option file with user and password>`;
  }
  if (engine === "POSTGRESQL") {
    if (format === "pg-custom")
      return algorithm === "none" ? "pg_restore --no-owner --dbname <database> <artifact>" : `${through}pg_restore --no-owner --dbname <database>`;
    return algorithm === "none" ? "psql --dbname <database> -f <artifact>" : `${through}psql --dbname <database>`;
  }
  const plain = (client: string) => (algorithm === "none" ? `${client} <database> < <artifact>` : `${through}${client} <database>`);
  if (!/mariadb/i.test(tool)) return `${plain("mysql")}   (or mariadb)`;
  const sed = algorithm === "none" ? `${SANDBOX_SED} <artifact> | ` : `${through}${SANDBOX_SED} | `;
  return `${plain("mariadb")}   (Oracle's mysql client: ${sed}mysql --binary-mode <database>)`;
}

export function buildManifest(input: Omit<Manifest, "format" | "sqlguardVersion" | "restore">): Manifest {
  const hint = restoreHint(input.server.engine, input.dump.format, input.dump.tool, input.compression.algorithm, input.encryption !== undefined);
  return {
    format: MANIFEST_FORMAT,
    sqlguardVersion: VERSION,
    ...input,
    restore: `${hint}; verify first: sha256sum <artifact> = ${input.artifact.sha256}`,
  };
}
