#!/usr/bin/env node
// The `sqlguard` command (package.json "bin"): runs the compiled CLI (dist/cli.js, built by
// scripts/build-server.mjs; the Docker image has only that) when it is there and not older than
// server/; otherwise server/cli/main.ts through tsx, registered programmatically so that no loader
// flag is needed (`npx sqlguard restore …`).
import { existsSync, readdirSync, statSync } from "node:fs";

const compiled = new URL("../dist/cli.js", import.meta.url);
const sources = new URL("../server/", import.meta.url);

/** True when a file under `dir` (tests excluded) was modified after `since` (ms). */
function changedSince(dir, since) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.endsWith(".test.ts")) continue;
    const child = new URL(`${entry.name}${entry.isDirectory() ? "/" : ""}`, dir);
    if (statSync(child).mtimeMs > since) return true;
    if (entry.isDirectory() && changedSince(child, since)) return true;
  }
  return false;
}

if (existsSync(compiled) && !(existsSync(sources) && changedSince(sources, statSync(compiled).mtimeMs))) {
  await import(compiled.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../server/cli/main.ts");
}
