import { COMPRESSION_SUFFIX, type CompressionKind } from "../process/compress.ts";

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

/**
 * The artifact's key inside a storage target (the target adds its own prefix or base path):
 * `<server>/<database>/<schedule or manual>/<UTC timestamp>_<backup id>.sql.zst`, `.sql.gz`,
 * `.sql`, or `.dump[.zst|.gz]` for pg_dump's custom format.
 */
export function artifactKey(b: {
  serverName: string;
  database: string;
  scheduleName: string | null;
  createdAt: Date;
  backupId: number;
  format: "sql" | "pg-custom";
  compression: CompressionKind;
}): string {
  const extension = (b.format === "pg-custom" ? ".dump" : ".sql") + COMPRESSION_SUFFIX[b.compression];
  return [
    keySegment(b.serverName),
    keySegment(b.database),
    keySegment(b.scheduleName ?? "manual"),
    `${keyTimestamp(b.createdAt)}_${b.backupId}${extension}`,
  ].join("/");
}

export const MANIFEST_SUFFIX = ".manifest.json";

const CONTENT_TYPES: Record<CompressionKind, string> = { ZSTD: "application/zstd", GZIP: "application/gzip", NONE: "application/sql" };

export function contentTypeOf(format: "sql" | "pg-custom", compression: CompressionKind): string {
  return compression === "NONE" && format === "pg-custom" ? "application/octet-stream" : CONTENT_TYPES[compression];
}
