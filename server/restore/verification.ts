import { buffer } from "node:stream/consumers";
import type { PrismaClient } from "../db/client.ts";
import type { BackupArtifact, VerificationResult } from "../db/generated/client.ts";
import { MANIFEST_SUFFIX } from "../runner/artifact-key.ts";
import { StorageError, type ArtifactStore } from "../storage/artifact-store.ts";
import { hashStream } from "./artifact-read.ts";

/** What re-reading one artifact found. */
export type ArtifactCheck = { result: VerificationResult; detail: string | null; bytes: number | null };

const MANIFEST_MAX_BYTES = 1 << 20;

/**
 * Re-reads an artifact from its store and compares its SHA-256 with the backup record, then reads
 * its manifest and compares the SHA-256 recorded there. MISSING: the object is gone; CORRUPT: its
 * bytes differ from the record; MANIFEST_PROBLEM: the data is intact but the manifest is missing,
 * unreadable or disagrees (a restore without SQLGuard would fail); UNREADABLE: storage failed, so
 * nothing is known. Never throws. An encrypted artifact is checked as stored, with no key.
 * `rewrapSha256`: a rewrap is replacing the object with one whose age header is new; either is intact.
 */
export async function checkArtifact(
  store: ArtifactStore,
  key: string,
  expectedSha256: string,
  expectedBytes: number | null,
  rewrapSha256: string | null = null,
): Promise<ArtifactCheck> {
  let stream;
  try {
    stream = await store.get(key);
  } catch (error) {
    if (error instanceof StorageError && error.code === "NOT_FOUND")
      return { result: "MISSING", detail: `the object ${key} is missing from its storage target`, bytes: null };
    return { result: "UNREADABLE", detail: `cannot read the object: ${(error as Error).message}`, bytes: null };
  }
  let actual;
  try {
    actual = await hashStream(stream);
  } catch (error) {
    return { result: "UNREADABLE", detail: `reading the object failed: ${(error as Error).message}`, bytes: null };
  }
  if (actual.sha256 !== expectedSha256 && actual.sha256 !== rewrapSha256) {
    const size = expectedBytes !== null && expectedBytes !== actual.bytes ? ` (${actual.bytes} bytes, ${expectedBytes} recorded)` : "";
    return {
      result: "CORRUPT",
      detail: `checksum mismatch: the stored object's SHA-256 is ${actual.sha256}, the backup recorded ${expectedSha256}${size}`,
      bytes: actual.bytes,
    };
  }
  const manifest = await readManifest(store, key);
  if (typeof manifest === "string") return { result: "MANIFEST_PROBLEM", detail: manifest, bytes: actual.bytes };
  // Mid-rewrap the object and its manifest are replaced one after the other: either SHA-256 will do.
  const agreeing = rewrapSha256 ? [expectedSha256, rewrapSha256] : [actual.sha256];
  if (!agreeing.includes(manifest.sha256 as string)) {
    return {
      result: "MANIFEST_PROBLEM",
      detail: `the manifest records SHA-256 ${manifest.sha256}, the backup and the object ${actual.sha256}`,
      bytes: actual.bytes,
    };
  }
  return { result: "OK", detail: null, bytes: actual.bytes };
}

/** The manifest's artifact checksum, or why it cannot be had. */
async function readManifest(store: ArtifactStore, key: string): Promise<{ sha256: unknown } | string> {
  try {
    const body = await buffer(await store.get(key + MANIFEST_SUFFIX));
    if (body.length > MANIFEST_MAX_BYTES) return "the manifest is too large to be one";
    const parsed = JSON.parse(body.toString("utf8")) as { artifact?: { sha256?: unknown } };
    return { sha256: parsed.artifact?.sha256 };
  } catch (error) {
    if (error instanceof StorageError && error.code === "NOT_FOUND") return `the manifest ${key}${MANIFEST_SUFFIX} is missing`;
    if (error instanceof SyntaxError) return `the manifest is not valid JSON: ${error.message}`;
    return `cannot read the manifest: ${(error as Error).message}`;
  }
}

/** Artifact statuses a verification may change (never DELETED, PENDING or FAILED ones). */
const VERIFIABLE: BackupArtifact["status"][] = ["STORED", "CORRUPT", "MISSING"];

/**
 * Records a check on the artifact: result, detail and time; CORRUPT and MISSING become the
 * artifact's status, an intact one is STORED again; UNREADABLE leaves the status as it was.
 * Conditional, so an artifact retention deleted meanwhile stays DELETED. Returns the row, or null.
 */
export async function recordCheck(prisma: PrismaClient, artifactId: number, check: ArtifactCheck, at: Date): Promise<BackupArtifact | null> {
  const status = check.result === "CORRUPT" ? "CORRUPT" : check.result === "MISSING" ? "MISSING" : check.result === "UNREADABLE" ? undefined : "STORED";
  const error = status === "CORRUPT" || status === "MISSING" ? check.detail : status === "STORED" ? null : undefined;
  const { count } = await prisma.backupArtifact.updateMany({
    where: { id: artifactId, status: { in: VERIFIABLE } },
    data: { verifyResult: check.result, verifyDetail: check.detail, verifiedAt: at, ...(status ? { status } : {}), ...(error !== undefined ? { error } : {}) },
  });
  return count ? prisma.backupArtifact.findUnique({ where: { id: artifactId } }) : null;
}

/** One line per server, database and storage target: the latest verification of its newest verified artifact. */
export type VerificationStatus = {
  serverName: string;
  database: string;
  storageTargetId: number;
  storageTargetName: string;
  backupId: number;
  artifactId: number;
  result: VerificationResult;
  verifiedAt: Date;
};

/**
 * The verification status per server, database and storage target, for the metrics module's
 * `sqlguard_backup_verification_status` gauge (1 when `result` is OK) at start and after each
 * VERIFIED event. Deleted artifacts are left out.
 */
export async function verificationStatuses(prisma: PrismaClient): Promise<VerificationStatus[]> {
  const rows = await prisma.backupArtifact.findMany({
    where: { verifyResult: { not: null }, verifiedAt: { not: null }, status: { in: VERIFIABLE }, storageTargetId: { not: null } },
    orderBy: [{ backupId: "desc" }],
    select: {
      id: true,
      backupId: true,
      verifyResult: true,
      verifiedAt: true,
      storageTargetId: true,
      storageTarget: { select: { name: true } },
      backup: { select: { serverName: true, database: true } },
    },
  });
  const seen = new Map<string, VerificationStatus>();
  for (const r of rows) {
    const key = JSON.stringify([r.backup.serverName, r.backup.database, r.storageTargetId]);
    if (seen.has(key)) continue;
    seen.set(key, {
      serverName: r.backup.serverName,
      database: r.backup.database,
      storageTargetId: r.storageTargetId!,
      storageTargetName: r.storageTarget?.name ?? "",
      backupId: r.backupId,
      artifactId: r.id,
      result: r.verifyResult!,
      verifiedAt: r.verifiedAt!,
    });
  }
  return [...seen.values()];
}
