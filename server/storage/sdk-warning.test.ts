import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Starts a Node process that builds an S3Store (the SDK warns at its first client) and returns its stderr. */
function stderrOfS3Client(env: Record<string, string | undefined>): string {
  const script = `
    const { S3Store } = await import("./server/storage/s3-store.ts");
    const store = new S3Store({ bucket: "b", region: "us-east-1", endpoint: "http://127.0.0.1:9", forcePathStyle: true, accessKeyId: "k", secretAccessKey: "s" });
    await store.head("x").catch(() => undefined);
  `;
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  const result = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: ROOT,
    env: childEnv as NodeJS.ProcessEnv,
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(result.status, result.stderr).toBe(0);
  return result.stderr;
}

describe.runIf(Number(process.versions.node.split(".")[0]) < 22)("the AWS SDK's Node-version warning", () => {
  it("is not printed by a CLI call or a server start on the supported Node 20", () => {
    expect(stderrOfS3Client({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined })).not.toMatch(/NodeVersionSupportWarning/);
  });

  it("is printed when the operator asks for it (the check above can see it)", () => {
    expect(stderrOfS3Client({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "false" })).toMatch(/NodeVersionSupportWarning/);
  });
});
