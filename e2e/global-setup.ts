// Runs once before all workers: makes sure console/out exists and is current.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Builds the static console if needed; throws when the build fails. */
export default function globalSetup(): void {
  const result = spawnSync(process.execPath, [path.join(root, "scripts/ensure-console.mjs")], {
    cwd: root,
    stdio: "inherit",
  });
  if (result.status !== 0) {
    throw new Error(`scripts/ensure-console.mjs failed (${result.signal ?? `exit ${result.status}`})`);
  }
}
