import crypto from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { hashStream } from "../restore/artifact-read.ts";
import { MANIFEST_SUFFIX } from "../runner/artifact-key.ts";
import { manifestEncryption } from "../runner/manifest.ts";
import { StorageError, type ArtifactStore } from "../storage/artifact-store.ts";
import { AgeError, buildHeader, unwrapFileKey } from "./age-header.ts";
import type { AgeIdentity } from "./age-keys.ts";
import { readHeader } from "./artifact-decryption.ts";
import type { RecipientKey } from "./keys.service.ts";

/** Where a rewrapped copy is written and checked before it replaces the artifact. */
export function rewrapTempKey(key: string): string {
  return `${key}.rewrap`;
}

/** A new object: its SHA-256 and size. */
export type Rewritten = { sha256: string; bytes: number };

/**
 * The artifact with a new age header: the file key unwrapped with one of `identities`, wrapped
 * again for `keys`; the nonce and payload after the header are copied byte for byte. Written to
 * `<key>.rewrap` (a put only exists complete), with the artifact's SHA-256 checked on the way:
 * an artifact that differs from `expectedSha256` is not rewrapped (the put fails, nothing is
 * left). Throws AgeError NO_IDENTITY when no identity opens the header.
 */
export async function writeRewrapped(
  store: ArtifactStore,
  key: string,
  o: { expectedSha256: string; keys: RecipientKey[]; identities: AgeIdentity[]; noIdentity: () => string; signal?: AbortSignal },
): Promise<Rewritten> {
  const { header } = await readHeader(await store.get(key, { signal: o.signal }));
  const fileKey = unwrapFileKey(header, o.identities);
  if (!fileKey) throw new AgeError("NO_IDENTITY", o.noIdentity());
  const newHeader = buildHeader(
    o.keys.map((k) => k.publicRaw),
    fileKey,
  );
  const source = await store.get(key, { signal: o.signal });
  const oldHash = crypto.createHash("sha256");
  const newHash = crypto.createHash("sha256");
  let bytes = 0;
  async function* rewritten(): AsyncGenerator<Buffer> {
    newHash.update(newHeader);
    bytes += newHeader.length;
    yield newHeader;
    let skip = header.length;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      oldHash.update(chunk);
      const rest = skip >= chunk.length ? null : chunk.subarray(skip);
      skip = Math.max(0, skip - chunk.length);
      if (!rest) continue;
      newHash.update(rest);
      bytes += rest.length;
      yield rest;
    }
    // Thrown before the stream ends, so the put never completes with an unverified payload.
    const actual = oldHash.digest("hex");
    if (actual !== o.expectedSha256)
      throw new Error(`the artifact's SHA-256 is ${actual}, its record says ${o.expectedSha256}: it is not rewrapped (verify it)`);
  }
  await store.put(rewrapTempKey(key), Readable.from(rewritten()), { signal: o.signal, contentType: "application/octet-stream" });
  return { sha256: newHash.digest("hex"), bytes };
}

/**
 * Checks the rewrapped copy before it may replace the artifact: its SHA-256 is the one written,
 * and its header opens with an identity this instance holds (when it holds one of the new keys)
 * to the same file key. Throws an Error saying what is wrong.
 */
export async function checkRewrapped(store: ArtifactStore, key: string, expected: Rewritten, identities: AgeIdentity[], keys: RecipientKey[]): Promise<void> {
  const temp = rewrapTempKey(key);
  const { sha256, bytes } = await hashStream(await store.get(temp));
  if (sha256 !== expected.sha256 || bytes !== expected.bytes)
    throw new Error(`the rewrapped copy ${temp} reads back with SHA-256 ${sha256} (${bytes} bytes), ${expected.sha256} was written`);
  const { header } = await readHeader(await store.get(temp));
  if (header.stanzas.length !== keys.length) throw new Error(`the rewrapped copy's header has ${header.stanzas.length} recipients, ${keys.length} expected`);
  const held = identities.filter((i) => keys.some((k) => k.recipient === i.recipient));
  if (held.length && !unwrapFileKey(header, held)) throw new Error("the rewrapped copy's header does not open with the instance key");
}

/**
 * Replaces the artifact with the checked copy: put from `<key>.rewrap` to `<key>` (the old object
 * stays until the new one is complete), its SHA-256 checked on the way (a mismatch fails the put,
 * so the old object stays).
 */
export async function replaceWithRewrapped(store: ArtifactStore, key: string, expectedSha256: string, signal?: AbortSignal): Promise<void> {
  const source = await store.get(rewrapTempKey(key), { signal });
  const hash = crypto.createHash("sha256");
  async function* checked(): AsyncGenerator<Buffer> {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      hash.update(chunk);
      yield chunk;
    }
    const actual = hash.digest("hex");
    if (actual !== expectedSha256) throw new Error(`the rewrapped copy changed (SHA-256 ${actual}, ${expectedSha256} expected): the artifact was not replaced`);
  }
  await store.put(key, Readable.from(checked()), { signal, contentType: "application/octet-stream" });
}

/** The SHA-256 of an object now, or null when it is missing. */
export async function objectSha256(store: ArtifactStore, key: string): Promise<string | null> {
  try {
    return (await hashStream(await store.get(key))).sha256;
  } catch (error) {
    if (error instanceof StorageError && error.code === "NOT_FOUND") return null;
    throw error;
  }
}

/**
 * Rewrites the manifest beside a rewrapped artifact: its SHA-256 and size, the recipients, and
 * the checksum in the restore hint. A missing manifest stays missing (verification reports it).
 */
export async function rewriteManifest(
  store: ArtifactStore,
  key: string,
  o: {
    oldSha256: string;
    sha256: string;
    bytes: number;
    keys: Array<Pick<RecipientKey, "id" | "kind" | "label" | "fingerprint" | "recipient">>;
    signal?: AbortSignal;
  },
): Promise<void> {
  let manifest: Record<string, any>;
  try {
    manifest = JSON.parse((await buffer(await store.get(key + MANIFEST_SUFFIX))).toString("utf8")) as Record<string, any>;
  } catch (error) {
    if (error instanceof StorageError && error.code === "NOT_FOUND") return;
    throw error;
  }
  manifest.artifact = { ...manifest.artifact, sha256: o.sha256, storedBytes: o.bytes };
  manifest.encryption = manifestEncryption(o.keys);
  if (typeof manifest.restore === "string") manifest.restore = manifest.restore.split(o.oldSha256).join(o.sha256);
  await store.put(key + MANIFEST_SUFFIX, Readable.from([Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)]), {
    contentType: "application/json",
    signal: o.signal,
  });
}
