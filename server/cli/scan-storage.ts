import { buffer } from "node:stream/consumers";
import { MANIFEST_SUFFIX } from "../runner/artifact-key.ts";
import type { Manifest } from "../runner/manifest.ts";
import { hashStream } from "../restore/artifact-read.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { parseManifest } from "./cli-inputs.ts";

/** An artifact found with its manifest; `problem` set when its size or checksum disagrees. */
export type FoundArtifact = { key: string; bytes: number; manifest: Manifest; problem: string | null };

/** What one storage target holds: artifacts with manifests, objects without one, and problems. */
export type StorageScan = {
  artifacts: FoundArtifact[];
  /** Objects no manifest accounts for: reported, never turned into records. */
  orphans: Array<{ key: string; bytes: number }>;
  problems: Array<{ key: string; problem: string }>;
};

/** Objects SQLGuard writes that are neither artifacts nor manifests. */
const IGNORED_PREFIXES = [".sqlguard-probe/"];

/**
 * Lists a store and reads every `*.manifest.json`: each valid manifest whose artifact sits beside
 * it yields a FoundArtifact (size compared with the manifest; with `verify`, the SHA-256 too).
 * Invalid manifests and manifests without their artifact are problems; objects without a manifest
 * are orphans. Never guesses what an orphan is. Throws only when the store cannot be listed.
 */
export async function scanStorage(store: ArtifactStore, options: { verify?: boolean } = {}): Promise<StorageScan> {
  const objects = new Map<string, number>();
  for await (const o of store.list("")) if (!IGNORED_PREFIXES.some((p) => o.key.startsWith(p))) objects.set(o.key, o.bytes);
  const scan: StorageScan = { artifacts: [], orphans: [], problems: [] };
  const claimed = new Set<string>();
  for (const manifestKey of [...objects.keys()].filter((k) => k.endsWith(MANIFEST_SUFFIX)).sort()) {
    claimed.add(manifestKey);
    const key = manifestKey.slice(0, -MANIFEST_SUFFIX.length);
    let manifest: Manifest;
    try {
      manifest = parseManifest((await buffer(await store.get(manifestKey))).toString("utf8"));
    } catch (error) {
      scan.problems.push({ key: manifestKey, problem: `invalid manifest: ${(error as Error).message}` });
      continue;
    }
    const bytes = objects.get(key);
    if (bytes === undefined) {
      scan.problems.push({ key: manifestKey, problem: `the manifest's artifact ${key} is missing` });
      continue;
    }
    claimed.add(key);
    scan.artifacts.push({ key, bytes, manifest, problem: await check(store, key, bytes, manifest, options.verify === true) });
  }
  for (const [key, bytes] of objects) if (!claimed.has(key)) scan.orphans.push({ key, bytes });
  scan.orphans.sort((a, b) => (a.key < b.key ? -1 : 1));
  return scan;
}

async function check(store: ArtifactStore, key: string, bytes: number, manifest: Manifest, verify: boolean): Promise<string | null> {
  if (manifest.artifact.key !== key) {
    const prefix = key.endsWith(`/${manifest.artifact.key}`) ? key.slice(0, -manifest.artifact.key.length - 1) : null;
    const hint = prefix ? `: the target's prefix or base path seems to end with ${JSON.stringify(prefix)}; scan that location instead` : "";
    return `the manifest names the artifact ${manifest.artifact.key}, but sits beside ${key}${hint}`;
  }
  if (bytes !== manifest.artifact.storedBytes) return `the object has ${bytes} bytes, its manifest records ${manifest.artifact.storedBytes}`;
  if (!verify) return null;
  try {
    const { sha256 } = await hashStream(await store.get(key));
    return sha256 === manifest.artifact.sha256
      ? null
      : `checksum mismatch: the object's SHA-256 is ${sha256}, its manifest records ${manifest.artifact.sha256}`;
  } catch (error) {
    return `cannot read the object: ${(error as Error).message}`;
  }
}
