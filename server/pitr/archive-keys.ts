/** Every binlog archive lives under this prefix of a PITR target: `pitr/<server>/<file>.zst`. */
export const PITR_PREFIX = "pitr/";
export const PITR_MANIFEST_SUFFIX = ".manifest.json";

/**
 * The object key of one archived binlog file, or of one partial copy of the open file: each
 * partial shipment has its own key (by its end position), so a replay that planned with one copy
 * never reads the next one under the same name.
 */
export function pitrArchiveKey(serverName: string, file: string, partial: boolean, endPosition = 0): string {
  return `${PITR_PREFIX}${safe(serverName)}/${safe(file)}${partial ? `.partial-${endPosition}` : ""}.zst`;
}

/** The prefix of one server's archives. */
export function pitrServerPrefix(serverName: string): string {
  return `${PITR_PREFIX}${safe(serverName)}/`;
}

function safe(part: string): string {
  return part.replace(/[^A-Za-z0-9._-]/g, "_");
}
