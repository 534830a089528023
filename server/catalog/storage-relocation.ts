import type { StorageTarget } from "../db/generated/client.ts";
import { ValidationError } from "../errors.ts";
import { MANIFEST_SUFFIX } from "../runner/artifact-key.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { realStoragePathProblem } from "../storage/storage-paths.ts";

type Location = Pick<StorageTarget, "kind" | "path" | "bucket" | "prefix" | "endpoint">;

const blank = (v: string | null | undefined): string => v ?? "";

/**
 * The fields whose change makes `after` point somewhere else than `before`, in the order they are
 * reported: the kind, then a LOCAL target's path, or an S3 target's bucket, prefix and endpoint.
 * (A LOCAL target does not use its prefix.) Null and "" are the same.
 */
export function relocatedFields(before: Location, after: Location): string[] {
  if (before.kind !== after.kind) return ["kind"];
  const fields: Array<keyof Location> = after.kind === "LOCAL" ? ["path"] : ["bucket", "prefix", "endpoint"];
  return fields.filter((f) => blank(before[f]) !== blank(after[f]));
}

/** Throws ValidationError on `path` when it is a system directory or holds SQLGuard's data directory (symbolic links followed). */
export async function checkStoragePath(path: string, dataDir: string | undefined): Promise<void> {
  const problem = await realStoragePathProblem(path, dataDir);
  if (problem) throw new ValidationError("path", problem);
}

const CONCURRENCY = 8;

/**
 * What of `artifacts` the store lacks: each artifact must be there with its recorded size, and its
 * manifest beside it. Returns one line per problem ("key: missing", "key: 10 bytes, expected 12").
 */
export async function findUnmovedArtifacts(store: ArtifactStore, artifacts: Array<{ key: string; sizeBytes: bigint | null }>): Promise<string[]> {
  const problems: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < artifacts.length) {
      const { key, sizeBytes } = artifacts[next++]!;
      try {
        const [object, manifest] = await Promise.all([store.head(key), store.head(key + MANIFEST_SUFFIX)]);
        if (!object) problems.push(`${key}: missing`);
        else if (sizeBytes !== null && BigInt(object.bytes) !== sizeBytes) problems.push(`${key}: ${object.bytes} bytes, expected ${sizeBytes}`);
        else if (!manifest) problems.push(`${key + MANIFEST_SUFFIX}: missing`);
      } catch (error) {
        problems.push(`${key}: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, artifacts.length) }, worker));
  return problems.sort();
}
