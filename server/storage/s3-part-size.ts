const MiB = 1024 * 1024;

/** Smallest part SQLGuard uploads (S3 allows 5 MiB, except for the last part). */
export const MIN_PART_BYTES = 8 * MiB;
/** Largest part: S3 allows 5 GiB, but a part is one Buffer, and Node allocates at most 4 GiB. */
export const MAX_PART_BYTES = 4 * 1024 * MiB;
/** The S3 limit of parts per upload. */
export const MAX_PARTS = 10_000;
/** Parts grow to a thousandth of what was uploaded so far (see nextPartSize). */
const GROWTH_DIVISOR = 1000;

const wholeMiB = (bytes: number): number => Math.ceil(bytes / MiB) * MiB;

/**
 * Size of the first part of an upload expected to be about `expectedBytes` long (an upper-bound
 * estimate, or the previous backup's size): at least 8 MiB, large enough that the expected size
 * fits twice in 9,000 parts (S3 allows 10,000), in whole MiB: the rule SQLGuard used before parts grew.
 */
export function initialPartSize(expectedBytes?: number): number {
  const needed = expectedBytes && expectedBytes > 0 ? (2 * expectedBytes) / (MAX_PARTS - 1000) : 0;
  return Math.min(MAX_PART_BYTES, wholeMiB(Math.max(MIN_PART_BYTES, needed)));
}

/**
 * Size of the next part once `uploadedBytes` went out in earlier parts: the initial size, or a
 * thousandth of what was uploaded when that is larger (whole MiB, at most 4 GiB). Parts stay at
 * the initial size while the estimate holds; beyond it they grow with the upload, so no stream up
 * to S3's 5 TiB object limit needs more than 10,000 parts, whatever the estimate said, and the
 * memory an upload holds (a few parts) stays about 0.3 % of what it uploaded.
 */
export function nextPartSize(initial: number, uploadedBytes: number): number {
  return Math.min(MAX_PART_BYTES, Math.max(initial, wholeMiB(uploadedBytes / GROWTH_DIVISOR)));
}

/** The part sizes an upload of `totalBytes` would use (tests, benchmarks). */
export function planParts(totalBytes: number, expectedBytes?: number): number[] {
  const initial = initialPartSize(expectedBytes);
  const parts: number[] = [];
  let uploaded = 0;
  while (uploaded < totalBytes) {
    const size = Math.min(nextPartSize(initial, uploaded), totalBytes - uploaded);
    parts.push(size);
    uploaded += size;
  }
  return parts;
}
