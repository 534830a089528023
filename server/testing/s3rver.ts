import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const CHILD = fileURLToPath(new URL("./s3rver-child.mjs", import.meta.url));
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

export type S3rverHandle = {
  /** `http://127.0.0.1:<port>`; use with `forcePathStyle: true`. */
  endpoint: string;
  bucket: string;
  port: number;
  /** The data directory, removed by `stop()`. */
  dir: string;
  /** Ends the server and removes its data directory. */
  stop(): Promise<void>;
  /** SIGKILLs the server at once (simulates S3 dying mid-upload); still call `stop()` afterwards. */
  kill(): void;
};

/**
 * Starts s3rver (a fake S3) as a child process on 127.0.0.1 and a free port, with `bucket`
 * (default "sqlguard-test") already created and a fresh temporary data directory. Resolves once
 * it listens; rejects when it exits or does not start within 15 s. It accepts any credentials.
 */
export async function startS3rver(options: { bucket?: string; port?: number; dir?: string } = {}): Promise<S3rverHandle> {
  const bucket = options.bucket ?? "sqlguard-test";
  // `port` and `dir` restart a stopped server where it was (an outage that ends): `stop()` then keeps `dir`.
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-s3rver-")));
  // The legacy OpenSSL provider is needed: without it s3rver's ListObjectsV2 paging answers 500.
  const child = spawn(process.execPath, ["--openssl-legacy-provider", CHILD, dir, bucket, ...(options.port ? [String(options.port)] : [])], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });

  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`s3rver did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk;
        const match = /LISTENING (\d+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited before listening (code ${code}, signal ${signal}): ${stderr.trim()}`));
      });
    });
  } catch (error) {
    child.kill("SIGKILL");
    if (ownDir) await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }

  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(kill, STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    child.stdin.destroy();
    if (ownDir) await fs.rm(dir, { recursive: true, force: true });
  };

  return { endpoint: `http://127.0.0.1:${port}`, bucket, port, dir, stop, kill };
}
