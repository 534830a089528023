import path from "node:path";
import type { PrismaClient } from "../db/client.ts";
import type { Prisma } from "../db/generated/client.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { createStore } from "../storage/create-store.ts";
import { LocalStore } from "../storage/local-store.ts";
import { S3Store } from "../storage/s3-store.ts";
import { parseS3Url } from "./cli-inputs.ts";
import { UsageError, type CliEnv } from "./usage.ts";

/** A storage location to scan, and how to find or create its StorageTarget row. */
export type ScanTarget = {
  label: string;
  store: ArtifactStore;
  /** The row it is, when it came from the metadata database. */
  existingId: number | null;
  /** Finds a matching row (same directory, or same bucket, prefix and endpoint). */
  match: Prisma.StorageTargetWhereInput;
  /** The row to create when none matches (a name is added). */
  create: Omit<Prisma.StorageTargetCreateInput, "name">;
  nameHint: string;
};

/**
 * The locations given on the command line: `--local <dir>` and `--s3 s3://bucket[/prefix]` (with
 * `--endpoint`, `--region`; credentials AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). The S3 secret
 * is stored sealed only when a secret box is available. Throws a UsageError naming the option.
 */
export function targetsFromArgs(
  locals: string[],
  s3s: string[],
  opts: { endpoint?: string; region?: string },
  env: CliEnv,
  secrets: SecretBox | null,
): ScanTarget[] {
  const out: ScanTarget[] = locals.map((dir) => {
    const base = path.resolve(dir);
    return {
      label: base,
      store: new LocalStore({ basePath: base }),
      existingId: null,
      match: { kind: "LOCAL", path: base },
      create: { kind: "LOCAL", path: base },
      nameHint: "recovered-local",
    };
  });
  if (s3s.length && (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY)) throw new UsageError("--s3", "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  for (const url of s3s) {
    const { bucket, key: prefix } = parseS3Url(url, "--s3");
    const cleanPrefix = prefix.replace(/^\/+|\/+$/g, "");
    const region = opts.region ?? env.AWS_REGION ?? "us-east-1";
    const forcePathStyle = Boolean(opts.endpoint);
    const store = new S3Store({
      bucket,
      region,
      endpoint: opts.endpoint,
      prefix: cleanPrefix,
      forcePathStyle,
      accessKeyId: env.AWS_ACCESS_KEY_ID!,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY!,
    });
    out.push({
      label: url,
      store,
      existingId: null,
      match: { kind: "S3", bucket, prefix: cleanPrefix, endpoint: opts.endpoint ?? null },
      create: {
        kind: "S3",
        bucket,
        prefix: cleanPrefix,
        region,
        endpoint: opts.endpoint ?? null,
        forcePathStyle,
        accessKeyId: env.AWS_ACCESS_KEY_ID!,
        secretAccessKeyEnc: secrets ? secrets.seal(env.AWS_SECRET_ACCESS_KEY!) : null,
      },
      nameHint: `recovered-s3-${bucket}`.slice(0, 90),
    });
  }
  return out;
}

/** Every storage target configured in the (reachable) metadata database. */
export async function targetsFromDatabase(prisma: PrismaClient, secrets: SecretBox): Promise<ScanTarget[]> {
  const rows = await prisma.storageTarget.findMany({ orderBy: { id: "asc" } });
  return rows.map((t) => ({
    label: t.name,
    store: createStore(t, secrets),
    existingId: t.id,
    match: { id: t.id },
    create: { kind: t.kind },
    nameHint: t.name,
  }));
}

/** The id of the target's row: the one it came from, a matching one, or a new one (`recovered-…`, numbered if taken). */
export async function ensureTarget(prisma: PrismaClient, target: ScanTarget): Promise<{ id: number; created: boolean }> {
  if (target.existingId !== null) return { id: target.existingId, created: false };
  const found = await prisma.storageTarget.findFirst({ where: target.match, select: { id: true } });
  if (found) return { id: found.id, created: false };
  for (let n = 1; ; n++) {
    const name = n === 1 ? target.nameHint : `${target.nameHint}-${n}`;
    if (await prisma.storageTarget.findUnique({ where: { name }, select: { id: true } })) continue;
    const row = await prisma.storageTarget.create({ data: { ...target.create, name } });
    return { id: row.id, created: true };
  }
}

/** Finds a matching row without creating one (dry runs). */
export async function findTarget(prisma: PrismaClient | null, target: ScanTarget): Promise<number | null> {
  if (target.existingId !== null) return target.existingId;
  return prisma ? ((await prisma.storageTarget.findFirst({ where: target.match, select: { id: true } }))?.id ?? null) : null;
}
