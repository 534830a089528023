import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { parseArgs } from "node:util";
import { isEncryptedKey, type Decryption } from "../encryption/artifact-decryption.ts";
import { MANIFEST_SUFFIX } from "../runner/artifact-key.ts";
import type { Manifest } from "../runner/manifest.ts";
import { restoreArtifact, type ArtifactSource } from "../restore/restore-artifact.ts";
import { defaultRestoreName, databaseNameProblem } from "../restore/restore-command.ts";
import { compressionOf, parseConnectionUrl, parseManifest, parseS3Url } from "./cli-inputs.ts";
import { UsageError, type CliEnv, type CliIo } from "./usage.ts";
import { describeStop, parseBinlogPosition, parseGtid, replayBinlogs, type DumpPosition, type ReplayPlan, type ReplayStop } from "../pitr/replay.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { LocalStore } from "../storage/local-store.ts";
import { planFromStorage } from "./cli-pitr.ts";
import { restorePgAtTime } from "./cli-pg-pitr.ts";
import { identityFileDecryption } from "./cli-inputs.ts";

/**
 * `sqlguard restore`: restores an artifact file or S3 object into a server, verifying its SHA-256
 * against the manifest on the way (a new database is dropped again if anything fails). Resolves
 * with the exit code; throws a UsageError for bad options. An encrypted artifact (`.age`) needs
 * `--identity FILE`, an age identity file (age-keygen's) holding a key it was encrypted to: the
 * recovery key opens it with no SQLGuard metadata at all.
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
      "rewrite-definers": { type: "boolean", default: false },
      threads: { type: "string" },
      spool: { type: "string" },
      identity: { type: "string" },
      "point-in-time": { type: "string" },
      "stop-at-gtid": { type: "string" },
      "stop-at-position": { type: "string" },
      force: { type: "boolean", default: false },
      "data-dir": { type: "string" },
      "cluster-user": { type: "string" },
    },
    strict: true,
  });
  // PostgreSQL to a point in time: --data-dir hands over a ready data directory instead of restoring into --to.
  const pgDataDir = values["data-dir"];
  if (!values.to && !(pgDataDir && values["point-in-time"])) throw new UsageError("--to", "is required: the server to restore into");
  if (Boolean(values.file) === Boolean(values["from-s3"])) throw new UsageError("--file", "give exactly one of --file and --from-s3");
  const target = values.to ? parseConnectionUrl(values.to, env) : null;
  const input = values.file ? localInput(values.file, values.manifest) : await s3Input(values["from-s3"]!, values, env);
  const missing = await missingFiles(input.files);
  if (missing) {
    io.err(`sqlguard restore: ${missing}`);
    return 1;
  }
  const manifest = await input.manifest().then(parseManifest, (error: Error) => {
    throw new UsageError("--manifest", `cannot read the manifest: ${error.message}`);
  });
  const isPg = manifest.server.engine === "POSTGRESQL";
  if (target && isPg !== (target.conn.engine === "POSTGRESQL"))
    throw new UsageError("--to", `a ${manifest.server.engine} backup needs a ${isPg ? "postgres://" : "mysql:// or mariadb://"} URL`);
  const engine = target?.conn.engine ?? (manifest.server.engine as typeof target extends null ? never : NonNullable<typeof target>["conn"]["engine"]);
  const database = values.database ?? target?.database ?? defaultRestoreName(engine, manifest.database, new Date());
  const problem = databaseNameProblem(engine, database);
  if (problem) throw new UsageError("--database", problem);
  if (pgDataDir && !(isPg && values["point-in-time"])) throw new UsageError("--data-dir", "goes with --point-in-time of a PostgreSQL backup");

  const pointInTime = values["point-in-time"] === undefined ? null : new Date(values["point-in-time"]);
  if (pointInTime && (Number.isNaN(pointInTime.getTime()) || !/(Z|[+-]\d\d:\d\d)$/.test(values["point-in-time"]!)))
    throw new UsageError("--point-in-time", "must be an ISO 8601 instant with its zone, e.g. 2026-12-02T17:00:00Z");
  const stop = cliStop(pointInTime, values["stop-at-gtid"], values["stop-at-position"]);
  if (stop && isPg && !pointInTime) throw new UsageError(`--${stop.flag}`, "a PostgreSQL backup restores to a point in time (--point-in-time) only");
  if (pointInTime && isPg)
    return restorePgAtTime(
      {
        store: input.store(manifest.artifact.key),
        serverName: manifest.server.name,
        sourceDatabase: manifest.database,
        at: pointInTime,
        force: values.force,
        dataDir: pgDataDir,
        target: target && { conn: target.conn, database, mode: values.overwrite ? "overwrite" : "create" },
        workRoot: values.spool,
        clusterUser: values["cluster-user"],
        identity: values.identity,
      },
      io,
      signal,
    );
  if (!target) throw new UsageError("--to", "is required: the server to restore into");
  // The binlog archive sits on the same storage as the dump, under pitr/<server>/: planned before anything is restored.
  const plan = stop
    ? await planFromStorage(
        input.store(manifest.artifact.key),
        manifest.server.name,
        (manifest as { position?: DumpPosition | null }).position ?? null,
        stop.stop,
        values.force,
      ).catch((error: Error) => {
        throw new UsageError(`--${stop.flag}`, error.message);
      })
    : null;

  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > 64))
    throw new UsageError("--threads", "must be a whole number from 1 to 64");
  const decryption = await decryptionOf(manifest, values.file ?? values["from-s3"]!, values.identity);
  const archiveDecryption = await replayDecryption(plan, decryption, values.identity);
  const source: ArtifactSource = {
    open: input.open,
    sha256: manifest.artifact.sha256,
    compression: compressionOf(manifest),
    format: manifest.dump.format,
    decryption,
  };
  io.err(
    `restoring ${manifest.server.name}/${manifest.database} (backup ${manifest.backupId}, ${manifest.artifact.storedBytes} bytes) into ${JSON.stringify(database)} on ${target.conn.host}:${target.conn.port}`,
  );
  try {
    const outcome = await restoreArtifact(
      source,
      { conn: target.conn, database, mode: values.overwrite ? "overwrite" : "create" },
      // PARALLEL artifacts (.tar.zst) unpack into --spool (the temporary directory by default) and load with myloader / pg_restore.
      { signal, threads, spoolDir: values.spool, rewriteDefiners: values["rewrite-definers"] },
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
        { signal, decryption: archiveDecryption },
      );
      io.out(`replayed ${replayed.files} binlog file(s) from ${plan.startFile}:${plan.startPosition} to ${describeStop(plan.stop)}`);
    }
    return 0;
  } catch (error) {
    const message = (error as Error).message;
    io.err(`sqlguard restore: ${message}${/already exists/.test(message) ? " (pass --overwrite to replace it)" : ""}`);
    return 1;
  }
}

/** One of the two files a restore reads: where it is (a local directory, an S3 bucket), its key there, and whether it is there. */
export type InputFile = { role: "artifact" | "manifest"; target: string; key: string; exists: () => Promise<boolean> };

/** The recipients an encrypted artifact's manifest names (`encryption.recipients`), as `#id (kind "label", fingerprint …)`. */
function manifestKeys(manifest: Manifest): string {
  const recipients = (manifest as { encryption?: { recipients?: Array<{ keyId?: number; kind?: string; label?: string; fingerprint?: string }> } }).encryption
    ?.recipients;
  if (!Array.isArray(recipients) || !recipients.length) return "the keys its manifest does not name";
  return recipients
    .map((r) => `#${r.keyId} (${r.kind === "INSTANCE" ? "instance key" : `recovery key ${JSON.stringify(r.label ?? "")}`}, fingerprint ${r.fingerprint})`)
    .join(", ");
}

/**
 * How an encrypted artifact is opened: the identities in `--identity`. Null for a plain one (an
 * identity given anyway is ignored). Throws a UsageError naming `--identity`.
 */
async function decryptionOf(manifest: Manifest, location: string, identityFile: string | undefined): Promise<Decryption | null> {
  const encrypted = "encryption" in manifest || isEncryptedKey(manifest.artifact.key) || isEncryptedKey(location);
  if (!encrypted) return null;
  const keys = manifestKeys(manifest);
  if (!identityFile) throw new UsageError("--identity", `the artifact is encrypted (age): give the age identity file of a key it opens with: ${keys}`);
  return identityFileDecryption(identityFile, keys);
}

/**
 * The point-in-time replay's way to open encrypted binlog archives: the dump's own decryption
 * when it has one, else the identities in `--identity`; undefined when no archive is encrypted.
 * Throws a UsageError naming `--identity` before anything is restored.
 */
async function replayDecryption(plan: ReplayPlan | null, dump: Decryption | null, identityFile: string | undefined): Promise<Decryption | undefined> {
  if (!plan?.files.some((f) => isEncryptedKey(f.key))) return undefined;
  if (dump) return dump;
  const keys = "the keys the archive manifests name (`encryption.recipients`)";
  if (!identityFile) throw new UsageError("--identity", `the binlog archive is encrypted (age): give the age identity file of a key it opens with: ${keys}`);
  return identityFileDecryption(identityFile, keys);
}

/** Where the artifact and its manifest are read from. */
type Input = {
  open: (signal: AbortSignal) => Promise<Readable>;
  manifest: () => Promise<string>;
  files: [InputFile, InputFile];
  /** The store holding the artifact (for the binlog archive beside it). */
  store: (artifactKey: string) => ArtifactStore;
};

/**
 * Checks that the artifact and its manifest exist; returns null when both do, else one sentence
 * naming each missing file (artifact or manifest), its target and key, and what is there.
 */
export async function missingFiles(files: InputFile[]): Promise<string | null> {
  const present = await Promise.all(files.map((f) => f.exists()));
  const gone = files.filter((_, i) => !present[i]);
  if (gone.length === 0) return null;
  const there = files.filter((_, i) => present[i]);
  const what = gone.length === files.length ? "the artifact and its manifest are" : `the ${gone[0]!.role} is`;
  return `${what} missing: ${[
    ...gone.map((f) => `no ${f.role} ${JSON.stringify(f.key)} on ${f.target}`),
    ...there.map((f) => `the ${f.role} ${JSON.stringify(f.key)} is on ${f.target}`),
  ].join("; ")}`;
}

/** A local file as an InputFile: its directory is the target, its name the key. */
function localFile(role: InputFile["role"], file: string): InputFile {
  const absolute = path.resolve(file);
  return {
    role,
    target: `the local directory ${path.dirname(absolute)}`,
    key: path.basename(absolute),
    exists: () =>
      fsp.stat(absolute).then(
        (s) => s.isFile(),
        () => false,
      ),
  };
}

function localInput(file: string, manifestFile: string | undefined): Input {
  return {
    files: [localFile("artifact", file), localFile("manifest", manifestFile ?? file + MANIFEST_SUFFIX)],
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
  const where = `s3://${bucket}${values.endpoint ? ` (endpoint ${values.endpoint})` : ""}`;
  const object = (role: InputFile["role"], objectKey: string): InputFile => ({
    role,
    target: where,
    key: objectKey,
    exists: async () => (await store.head(objectKey)) !== null,
  });
  return {
    files: [object("artifact", key), values.manifest ? localFile("manifest", values.manifest) : object("manifest", key + MANIFEST_SUFFIX)],
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

/** The replay target of --point-in-time, --stop-at-gtid or --stop-at-position (at most one), with its flag. */
function cliStop(at: Date | null, gtid: string | undefined, position: string | undefined): { stop: Date | ReplayStop; flag: string } | null {
  const given = [at && "point-in-time", gtid !== undefined && "stop-at-gtid", position !== undefined && "stop-at-position"].filter(Boolean);
  if (given.length > 1) throw new UsageError(`--${given[1]}`, `--${given.join(" and --")} exclude each other`);
  if (at) return { stop: at, flag: "point-in-time" };
  if (gtid !== undefined) {
    if (!parseGtid(gtid)) throw new UsageError("--stop-at-gtid", "must be a MariaDB GTID: domain-server-seq, e.g. 0-1-42");
    return { stop: { gtid: gtid.trim() }, flag: "stop-at-gtid" };
  }
  if (position !== undefined) {
    const parsed = parseBinlogPosition(position);
    if (!parsed) throw new UsageError("--stop-at-position", "must be a binlog position: file:offset, e.g. mysql-bin.000007:1234");
    return { stop: parsed, flag: "stop-at-position" };
  }
  return null;
}
