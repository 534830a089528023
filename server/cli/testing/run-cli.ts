import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../../bin/sqlguard.mjs", import.meta.url));

/** Metadata database URL that nothing listens on: proves a command does not need one. */
export const NO_METADATA_DB = "mysql://root@127.0.0.1:1/sqlguard_gone";

/** How a CLI run ended and what it printed. */
export type CliResult = { code: number | null; stdout: string; stderr: string };

/** Runs `bin/sqlguard.mjs <args>` as a user would (`npx sqlguard …`), with `env` added to a minimal environment. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", DATABASE_URL: NO_METADATA_DB, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`sqlguard ${args[0]} did not finish within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
