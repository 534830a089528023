#!/usr/bin/env node
// Builds the static console (console/out) only when it is missing or older than its sources.
// Usage: node scripts/ensure-console.mjs [--force]
// Prints one line saying whether it built or skipped; exits non-zero (after printing Next's output)
// when the build fails.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const consoleDir = path.join(root, "console");
const marker = path.join(consoleDir, "out", "index.html");
// Build output and files Next (or tsc) rewrites on every build; they must not trigger a rebuild.
const ignoredNames = new Set([".next", "out", "node_modules", "next-env.d.ts"]);

/** Returns the first entry under `dir` modified after `since` (ms), or undefined. */
function findNewer(dir, since) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (ignoredNames.has(entry.name) || entry.name.endsWith(".tsbuildinfo")) continue;
    const full = path.join(dir, entry.name);
    // A directory's mtime moves when a file in it is added, removed or renamed.
    if (statSync(full).mtimeMs > since) return full;
    if (entry.isDirectory()) {
      const newer = findNewer(full, since);
      if (newer) return newer;
    }
  }
  return undefined;
}

/** Says why a build is needed, or returns undefined when console/out is up to date. */
function buildReason() {
  if (process.argv.includes("--force")) return "--force";
  if (!existsSync(marker)) return "console/out/index.html is missing";
  const newer = findNewer(consoleDir, statSync(marker).mtimeMs);
  return newer ? `${path.relative(root, newer)} changed` : undefined;
}

/** Runs `next build console` from the repo root, buffering its output. */
function runNextBuild() {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, "node_modules/next/dist/bin/next"), "build", "console"], {
      cwd: root,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const output = [];
    child.stdout.on("data", (chunk) => output.push(chunk));
    child.stderr.on("data", (chunk) => output.push(chunk));
    child.on("error", (error) => resolve({ code: 1, output: `${error.message}\n` }));
    child.on("close", (code, signal) => resolve({ code: code ?? 1, signal, output: Buffer.concat(output).toString() }));
  });
}

const reason = buildReason();
if (!reason) {
  console.log("ensure-console: skipped build, console/out is up to date");
} else {
  const started = Date.now();
  const { code, signal, output } = await runNextBuild();
  if (code !== 0 || !existsSync(marker)) {
    process.stderr.write(output);
    console.error(`ensure-console: build FAILED (${signal ?? `exit ${code}`}) after ${reason}`);
    process.exit(code || 1);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`ensure-console: built console/out in ${seconds}s (${reason})`);
}
