import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Store } from "../storage/s3-store.ts";
import { startS3rver } from "../testing/s3rver.ts";
import { runCli } from "./testing/run-cli.ts";

/**
 * `sqlguard restore` when the artifact or its manifest is not where it was asked for: it names the
 * missing file (artifact or manifest), the target (directory or bucket) and the key, and exits 1
 * before it connects anywhere.
 */
describe("sqlguard restore with a missing file", () => {
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-cli-missing-"));
  const artifact = path.join(dir, "20261203T120000Z_7.sql.zst");
  const manifest = `${artifact}.manifest.json`;
  const s3Env = () => ({ AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" });
  // Nothing listens on port 1: a restore that got as far as connecting would fail differently.
  const to = "mariadb://root@127.0.0.1:1";

  beforeAll(async () => {
    s3 = await startS3rver();
    const store = new S3Store({
      bucket: s3.bucket,
      region: "us-east-1",
      endpoint: s3.endpoint,
      forcePathStyle: true,
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
    });
    await store.put("team/only-artifact.sql.zst", Readable.from([Buffer.from("not really zstd")]));
    await store.put("team/only-manifest.sql.zst.manifest.json", Readable.from([Buffer.from("{}")]));
  });

  afterAll(async () => {
    await s3?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("names a missing local manifest, its directory and file name, and the artifact that is there", async () => {
    fs.writeFileSync(artifact, "x");
    fs.rmSync(manifest, { force: true });
    const r = await runCli(["restore", "--file", artifact, "--to", to]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `sqlguard restore: the manifest is missing: no manifest "20261203T120000Z_7.sql.zst.manifest.json" on the local directory ${dir}; the artifact "20261203T120000Z_7.sql.zst" is on the local directory ${dir}`,
    );
  });

  it("names a missing local artifact, and both when neither is there", async () => {
    fs.rmSync(artifact, { force: true });
    fs.writeFileSync(manifest, "{}");
    const r = await runCli(["restore", "--file", artifact, "--to", to]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sqlguard restore: the artifact is missing: no artifact "20261203T120000Z_7\.sql\.zst" on the local directory /);
    expect(r.stderr).toContain(`the manifest "20261203T120000Z_7.sql.zst.manifest.json" is on the local directory ${dir}`);

    const elsewhere = path.join(dir, "kept", "elsewhere.json");
    const both = await runCli(["restore", "--file", artifact, "--manifest", elsewhere, "--to", to]);
    expect(both.code).toBe(1);
    expect(both.stderr.trim()).toBe(
      `sqlguard restore: the artifact and its manifest are missing: no artifact "20261203T120000Z_7.sql.zst" on the local directory ${dir}; no manifest "elsewhere.json" on the local directory ${path.join(dir, "kept")}`,
    );
  });

  it("names the bucket, endpoint and key of a missing S3 manifest or artifact", async () => {
    const where = `s3://${s3.bucket} (endpoint ${s3.endpoint})`;
    const noManifest = await runCli(["restore", "--from-s3", `s3://${s3.bucket}/team/only-artifact.sql.zst`, "--endpoint", s3.endpoint, "--to", to], s3Env());
    expect(noManifest.code).toBe(1);
    expect(noManifest.stderr.trim()).toBe(
      `sqlguard restore: the manifest is missing: no manifest "team/only-artifact.sql.zst.manifest.json" on ${where}; the artifact "team/only-artifact.sql.zst" is on ${where}`,
    );

    const noArtifact = await runCli(["restore", "--from-s3", `s3://${s3.bucket}/team/only-manifest.sql.zst`, "--endpoint", s3.endpoint, "--to", to], s3Env());
    expect(noArtifact.code).toBe(1);
    expect(noArtifact.stderr.trim()).toBe(
      `sqlguard restore: the artifact is missing: no artifact "team/only-manifest.sql.zst" on ${where}; the manifest "team/only-manifest.sql.zst.manifest.json" is on ${where}`,
    );
  });
});
