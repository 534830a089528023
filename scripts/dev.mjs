#!/usr/bin/env node
// `npm run dev`: the SQLGuard server (restarted by `node --watch` when server code changes) and the
// console under `next dev` (hot reload), side by side. The console's dev server forwards /graphql and
// /api/* to the SQLGuard server (console/next.config.ts, development only), so the browser talks to
// one origin: open the console URL printed at start.
// Environment: SQLGUARD_PORT (API, default 8080), CONSOLE_PORT (console, default 3000), plus
// whatever the server itself needs (DATABASE_URL, ...). Ctrl+C stops both; if one exits, so does
// the other, with its exit code.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const apiPort = process.env.SQLGUARD_PORT || "8080";
const consolePort = process.env.CONSOLE_PORT || "3000";
const apiUrl = `http://127.0.0.1:${apiPort}`;
const STOP_GRACE_MS = 5_000;

/** Starts one child with its output prefixed by `label`; returns it. */
function start(label, args, env) {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["inherit", "pipe", "pipe"] });
  const prefix = (stream, out) => {
    let partial = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) out.write(`[${label}] ${line}\n`);
    });
    stream.on("end", () => partial && out.write(`[${label}] ${partial}\n`));
  };
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  return child;
}

const children = [
  start("server", ["--import", "tsx", "--watch", "server/main.ts"], { SQLGUARD_PORT: apiPort }),
  start("console", [path.join(root, "node_modules/next/dist/bin/next"), "dev", "console", "--port", consolePort], {
    SQLGUARD_DEV_API_URL: apiUrl,
    NEXT_TELEMETRY_DISABLED: "1",
  }),
];

console.log(`dev: API on ${apiUrl}/graphql; console with hot reload: open http://localhost:${consolePort}/`);

let stopping = false;
/** Stops every child still running (SIGTERM, then SIGKILL after the grace period) and exits with `code`. */
function stopAll(code) {
  if (stopping) return;
  stopping = true;
  const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
  for (const child of running) child.kill("SIGTERM");
  const force = setTimeout(() => {
    for (const c of running) c.kill("SIGKILL");
  }, STOP_GRACE_MS);
  force.unref();
  Promise.all(running.map((c) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once("exit", resolve))))).then(() =>
    process.exit(code),
  );
}

for (const child of children) {
  // A child that ends by itself (a crash, a port in use) ends the session: exit non-zero.
  child.on("exit", (code) => stopAll(stopping ? 0 : code || 1));
  child.on("error", (error) => {
    console.error(`dev: could not start a child process: ${error.message}`);
    stopAll(1);
  });
}
process.on("SIGINT", () => stopAll(0));
process.on("SIGTERM", () => stopAll(0));
