import { compareSegments, parseSegment } from "./wal.ts";

/**
 * The WAL archives of a PostgreSQL server that no kept base backup needs: the segments before the
 * start segment of its oldest kept base backup (a replay starts there, never earlier). Timeline
 * history files are kept (a later timeline's replay reads them), and so is everything when no
 * base backup is kept.
 */
export function walToTrim<T extends { file: string }>(archives: T[], keptBaseStartSegments: string[]): T[] {
  const starts = keptBaseStartSegments.map((s) => parseSegment(s)).filter((s) => s !== null);
  if (!starts.length) return [];
  const oldest = starts.sort(compareSegments)[0]!;
  return archives.filter((a) => {
    const s = parseSegment(a.file);
    return s !== null && compareSegments(s, oldest) < 0;
  });
}
