import { buffer } from "node:stream/consumers";
import { parseManifest } from "../cli/cli-inputs.ts";
import { hashStream } from "../restore/artifact-read.ts";
import { MANIFEST_SUFFIX } from "../runner/artifact-key.ts";
import type { Manifest } from "../runner/manifest.ts";
import { type ArtifactStore, StorageError } from "../storage/artifact-store.ts";

/**
 * What a target holds of an interrupted backup. `ok`: the artifact and its manifest were both
 * committed and agree (size and SHA-256 of the object on the target). Otherwise why not, and
 * whether an object sits under the final name that must go (a backup without a valid manifest
 * keeps no artifact, as when the runner fails to store a manifest).
 */
export type CommittedCopy = { ok: true; bytes: number; manifest: Manifest } | { ok: false; problem: string; removeFinal: boolean };

/**
 * Checks `key` on a store for a committed copy of backup `backupId`: the object, then its manifest,
 * then the manifest's size and SHA-256 against the object (read whole, streamed). A storage failure
 * is reported as a problem, never thrown, and never leads to removal.
 */
export async function committedCopy(store: ArtifactStore, backupId: number, key: string): Promise<CommittedCopy> {
  try {
    const object = await store.head(key);
    if (!object) return { ok: false, problem: "not stored", removeFinal: false };
    let manifest: Manifest;
    try {
      manifest = parseManifest((await buffer(await store.get(key + MANIFEST_SUFFIX))).toString("utf8"));
    } catch (error) {
      if (error instanceof StorageError && error.code !== "NOT_FOUND") throw error;
      const why = error instanceof StorageError ? "its manifest was not" : `its manifest is invalid (${(error as Error).message})`;
      return { ok: false, problem: `the artifact was stored but ${why}`, removeFinal: true };
    }
    if (manifest.backupId !== backupId || manifest.artifact.key !== key) {
      return { ok: false, problem: `the manifest beside the artifact describes backup ${manifest.backupId} (${manifest.artifact.key})`, removeFinal: true };
    }
    if (manifest.artifact.storedBytes !== object.bytes) {
      return { ok: false, problem: `the artifact has ${object.bytes} bytes, its manifest records ${manifest.artifact.storedBytes}`, removeFinal: true };
    }
    const { sha256 } = await hashStream(await store.get(key));
    if (sha256 !== manifest.artifact.sha256) {
      return {
        ok: false,
        problem: `checksum mismatch: the artifact's SHA-256 is ${sha256}, its manifest records ${manifest.artifact.sha256}`,
        removeFinal: true,
      };
    }
    return { ok: true, bytes: object.bytes, manifest };
  } catch (error) {
    return { ok: false, problem: `could not be checked after the interruption: ${(error as Error).message}`, removeFinal: false };
  }
}
