import fs from "node:fs";
import fsp from "node:fs/promises";
import type { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { parseArgs } from "node:util";
import { MANIFEST_SUFFIX } from "../runner/artifact-key.ts";
import { restoreArtifact, type ArtifactSource } from "../restore/restore-artifact.ts";
import { defaultRestoreName, databaseNameProblem } from "../restore/restore-command.ts";
import { compressionOf, parseConnectionUrl, parseManifest, parseS3Url } from "./cli-inputs.ts";
import { UsageError, type CliEnv, type CliIo } from "./usage.ts";
import path from "node:path";
import { replayBinlogs, type DumpPosition } from "../pitr/replay.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { LocalStore } from "../storage/local-store.ts";
import { planFromStorage } from "./cli-pitr.ts";

/**
 * `sqlguard restore`: restores an artifact file or S3 object into a server, verifying its SHA-256
 * against the manifest on the way (a new database is dropped again if anything fails). Resolves
 * with the exit code; throws a UsageError for bad options.
 */
export async function runRestoreCommand(argv: string[], env: CliEnv, io: CliIo, signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      file: { type: "string" },
      "from-s3": { type: "string" },
      manifest: { type: "string" },
      endpoint: { type: "string" },
      region: { type: "string" },
      to: { type: "string" },
      database: { type: "string" },
      overwrite: { type: "boolean", default: false },
      threads: { type: "string" },
      spool: { type: "string" },
      "point-in-time": { type: "string" },
      force: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (!values.to) throw new UsageError("--to", "is required: the server to restore into");
  if (Boolean(values.file) === Boolean(values["from-s3"])) throw new UsageError("--file", "give exactly one of --file and --from-s3");
  const target = parseConnectionUrl(values.to, env);
  const input = values.file ? localInput(values.file, values.manifest) : await s3Input(values["from-s3"]!, values, env);
  const manifest = await input.manifest().then(parseManifest, (error: Error) => {
    throw new UsageError("--manifest", `cannot read the manifest: ${error.message}`);
  });
  const isPg = manifest.server.engine === "POSTGRESQL";
  if (isPg !== (target.conn.engine === "POSTGRESQL"))
    throw new UsageError("--to", `a ${manifest.server.engine} backup needs a ${isPg ? "postgres://" : "mysql:// or mariadb://"} URL`);
  const database = values.database ?? target.database ?? defaultRestoreName(target.conn.engine, manifest.database, new Date());
  const problem = databaseNameProblem(target.conn.engine, database);
  if (problem) throw new UsageError("--database", problem);

  const pointInTime = values["point-in-time"] === undefined ? null : new Date(values["point-in-time"]);
  if (pointInTime && (Number.isNaN(pointInTime.getTime()) || !/(Z|[+-]\d\d:\d\d)$/.test(values["point-in-time"]!)))
    throw new UsageError("--point-in-time", "must be an ISO 8601 instant with its zone, e.g. 2026-12-02T17:00:00Z");
  if (pointInTime && isPg) throw new UsageError("--point-in-time", "point-in-time recovery is not available for PostgreSQL backups yet");
  // The binlog archive sits on the same storage as the dump, under pitr/<server>/: planned before anything is restored.
  const plan = pointInTime
    ? await planFromStorage(
        input.store(manifest.artifact.key),
        manifest.server.name,
        (manifest as { position?: DumpPosition | null }).position ?? null,
        pointInTime,
        values.force,
      ).catch((error: Error) => {
        throw new UsageError("--point-in-time", error.message);
      })
    : null;

  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > 64))
    throw new UsageError("--threads", "must be a whole number from 1 to 64");
  const source: ArtifactSource = { open: input.open, sha256: manifest.artifact.sha256, compression: compressionOf(manifest), format: manifest.dump.format };
  io.err(
    `restoring ${manifest.server.name}/${manifest.database} (backup ${manifest.backupId}, ${manifest.artifact.storedBytes} bytes) into ${JSON.stringify(database)} on ${target.conn.host}:${target.conn.port}`,
  );
  try {
    const outcome = await restoreArtifact(
      source,
      { conn: target.conn, database, mode: values.overwrite ? "overwrite" : "create" },
      // PARALLEL artifacts (.tar.zst) unpack into --spool (the temporary directory by default) and load with myloader / pg_restore.
      { signal, threads, spoolDir: values.spool },
    );
    io.out(
      `restored into ${JSON.stringify(database)}: ${outcome.storedBytes} bytes read, SHA-256 ${outcome.sha256} verified, ${(outcome.restoreMs / 1000).toFixed(1)} s`,
    );
    if (plan) {
      const replayed = await replayBinlogs(
        plan,
        input.store(manifest.artifact.key),
        // Never the source's own binlog: a CLI restore does not know whether --to is the source, so the replay is not logged.
        { conn: target.conn, database, sourceDatabase: manifest.database, sameServer: true },
        { signal },
      );
      io.out(`replayed ${replayed.files} binlog file(s) from ${plan.startFile}:${plan.startPosition} to ${plan.stopAt.toISOString()}`);
    }
    return 0;
  } catch (error) {
    const message = (error as Error).message;
    io.err(`sqlguard restore: ${message}${/already exists/.test(message) ? " (pass --overwrite to replace it)" : ""}`);
    return 1;
  }
}

/** Where the artifact and its manifest are read from, and the store holding it (for the binlog archive). */
type Input = { open: (signal: AbortSignal) => Promise<Readable>; manifest: () => Promise<string>; store: (artifactKey: string) => ArtifactStore };

function localInput(file: string, manifestFile: string | undefined): Input {
  return {
    // The target's base directory: the artifact's path without its key.
    store: (artifactKey) => {
      const resolved = path.resolve(file);
      if (!resolved.endsWith(`/${artifactKey}`))
        throw new UsageError("--file", `is not at its storage key ${artifactKey}: the binlog archive beside it cannot be found`);
      return new LocalStore({ basePath: resolved.slice(0, -artifactKey.length - 1) });
    },
    open: async (signal) => {
      await fsp.access(file, fs.constants.R_OK);
      return fs.createReadStream(file, { signal });
    },
    manifest: () => fsp.readFile(manifestFile ?? file + MANIFEST_SUFFIX, "utf8"),
  };
}

async function s3Input(url: string, values: { endpoint?: string; region?: string; manifest?: string }, env: CliEnv): Promise<Input> {
  const { bucket, key } = parseS3Url(url, "--from-s3");
  if (!key) throw new UsageError("--from-s3", "names no object key");
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) throw new UsageError("--from-s3", "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  // Loaded only when needed: the AWS SDK takes a while to import.
  const { S3Store } = await import("../storage/s3-store.ts");
  const store = new S3Store({
    bucket,
    region: values.region ?? env.AWS_REGION ?? "us-east-1",
    endpoint: values.endpoint,
    // S3-compatible servers behind an endpoint (MinIO…) usually need path-style addressing.
    forcePathStyle: Boolean(values.endpoint),
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
  });
  return {
    // A bucket prefix before the artifact's key is the target's prefix.
    store: (artifactKey) => {
      if (!key.endsWith(artifactKey))
        throw new UsageError("--from-s3", `is not at its storage key ${artifactKey}: the binlog archive beside it cannot be found`);
      const prefix = key.slice(0, -artifactKey.length).replace(/\/$/, "");
      return new S3Store({
        bucket,
        prefix,
        region: values.region ?? env.AWS_REGION ?? "us-east-1",
        endpoint: values.endpoint,
        forcePathStyle: Boolean(values.endpoint),
        accessKeyId: env.AWS_ACCESS_KEY_ID,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      });
    },
    open: (signal) => store.get(key, { signal }),
    manifest: async () => (values.manifest ? fsp.readFile(values.manifest, "utf8") : (await buffer(await store.get(key + MANIFEST_SUFFIX))).toString("utf8")),
  };
}
