import { COMPRESSION_SUFFIX, type CompressionKind } from "../process/compress.ts";
import type { DumpFormat } from "./dumpers/types.ts";

/** How an artifact is encrypted (prisma EncryptionMode). */
export type EncryptionKind = "NONE" | "AGE";

const EXTENSIONS: Record<DumpFormat, string> = { sql: ".sql", "pg-custom": ".dump", tar: ".tar" };

/** Percent-encodes what a path segment cannot hold ('/', '\', '%', control characters, "." / ".."). */
export function keySegment(name: string): string {
  const encoded = name.replace(/[%/\\\u0000-\u001f\u007f]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
  if (encoded === "." || encoded === "..") return encoded.replace(/\./g, "%2E");
  return encoded;
}

/** `20261123T020000Z`: sortable, and free of ':' (invalid in Windows file names). */
export function keyTimestamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
}

/** The suffix of an age-encrypted artifact, after the compression's. */
export const AGE_SUFFIX = ".age";

/**
 * The artifact's key inside a storage target (the target adds its own prefix or base path):
 * `<server>/<database>/<schedule or manual>/<UTC timestamp>_<backup id>.sql.zst`, `.sql.gz`,
 * `.sql`, `.dump[.zst|.gz]` for pg_dump's custom format, or `.tar[.zst|.gz]` for a parallel
 * engine's directory; an encrypted artifact (`encryption: "AGE"`) adds `.age` to any of them.
 */
export function artifactKey(b: {
  serverName: string;
  database: string;
  scheduleName: string | null;
  createdAt: Date;
  backupId: number;
  format: DumpFormat;
  compression: CompressionKind;
  encryption?: EncryptionKind;
}): string {
  const extension = EXTENSIONS[b.format] + COMPRESSION_SUFFIX[b.compression] + (b.encryption === "AGE" ? AGE_SUFFIX : "");
  return [
    keySegment(b.serverName),
    keySegment(b.database),
    keySegment(b.scheduleName ?? "manual"),
    `${keyTimestamp(b.createdAt)}_${b.backupId}${extension}`,
  ].join("/");
}

/**
 * pg_dump's custom format is stored as `.dump[.zst|.gz][.age]`, a parallel engine's directory as
 * `.tar[.zst|.gz][.age]`; everything else is SQL.
 */
export function formatOfKey(key: string): DumpFormat {
  if (/\.tar(\.zst|\.gz)?(\.age)?$/.test(key)) return "tar";
  return /\.dump(\.zst|\.gz)?(\.age)?$/.test(key) ? "pg-custom" : "sql";
}

/** Whether a key names an age-encrypted artifact (it ends in `.age`). */
export function isEncryptedKey(key: string): boolean {
  return key.endsWith(AGE_SUFFIX);
}

export const MANIFEST_SUFFIX = ".manifest.json";

const CONTENT_TYPES: Record<CompressionKind, string> = { ZSTD: "application/zstd", GZIP: "application/gzip", NONE: "application/sql" };

/** The stored object's media type; an age file has none of its own registered, so it is bytes. */
export function contentTypeOf(format: DumpFormat, compression: CompressionKind, encryption: EncryptionKind = "NONE"): string {
  if (encryption === "AGE") return "application/octet-stream";
  if (compression === "NONE" && format === "tar") return "application/x-tar";
  return compression === "NONE" && format === "pg-custom" ? "application/octet-stream" : CONTENT_TYPES[compression];
}
