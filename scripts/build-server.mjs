#!/usr/bin/env node
// Compiles the server (server/main.ts -> dist/main.js) and the `sqlguard` CLI (server/cli/main.ts ->
// dist/cli.js) to ESM JavaScript with esbuild, so production runs plain `node` instead of tsx.
// node_modules stay external (resolved at run time, as with tsx); sourcemaps are on.
// Usage: node scripts/build-server.mjs [--if-stale] [--outdir DIR]
//   --if-stale  builds only when dist/ is missing or older than server/ (what `npm start` uses).
//   --outdir    another output directory inside the repository (tests); node_modules must resolve from it.
// Prints one line saying whether it built or skipped.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outdirArg = process.argv.indexOf("--outdir");
const outdir = outdirArg > 0 ? path.resolve(process.argv[outdirArg + 1]) : path.join(root, "dist");
const markers = [path.join(outdir, "main.js"), path.join(outdir, "cli.js")];
const sources = [path.join(root, "server"), path.join(root, "package.json")];

/** Returns the first file under `entry` modified after `since` (ms), tests excluded, or undefined. */
function findNewer(entry, since) {
  const stat = statSync(entry);
  if (stat.mtimeMs > since) return entry;
  if (!stat.isDirectory()) return undefined;
  for (const child of readdirSync(entry, { withFileTypes: true })) {
    if (child.name === "node_modules" || child.name.endsWith(".test.ts")) continue;
    const newer = findNewer(path.join(entry, child.name), since);
    if (newer) return newer;
  }
  return undefined;
}

/** Says why a build is needed, or returns undefined when dist/ is up to date. */
function buildReason() {
  if (!process.argv.includes("--if-stale")) return "asked";
  const missing = markers.find((m) => !existsSync(m));
  if (missing) return `${path.relative(root, missing)} is missing`;
  const since = Math.min(...markers.map((m) => statSync(m).mtimeMs));
  for (const source of sources) {
    const newer = findNewer(source, since);
    if (newer) return `${path.relative(root, newer)} changed`;
  }
  return undefined;
}

/**
 * Modules find files next to their source (`new URL("../../prisma/migrations", import.meta.url)`).
 * In the bundle every module shares dist/main.js's import.meta.url, so each project module gets its
 * own source file's URL instead, computed from the bundle's location (all output files, chunks
 * included, are written directly into the output directory).
 */
const sourceUrlPlugin = {
  name: "source-import-meta-url",
  setup(b) {
    b.onLoad({ filter: /\.[cm]?ts$/ }, async (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const text = await readFile(args.path, "utf8");
      const relative = path.relative(outdir, args.path).split(path.sep).join("/");
      const url = `new URL(${JSON.stringify(relative)}, import.meta.url).href`;
      const contents = text.includes("import.meta.url") ? text.replaceAll("import.meta.url", url) : text;
      // After the rewrite above: the .wasm file sits next to the bundle, where import.meta.url points.
      return { contents: await wasmFromFile(contents, args.path), loader: "ts" };
    });
  },
};

/**
 * Prisma's generated client imports its query compiler as a 2.3 MB base64 string module and decodes
 * it at the first query; the module's source and the string then stay on the heap for the life of
 * the process (about 4.5 MB, twice the string). The build decodes it once into a .wasm file next to
 * the bundle, and the client compiles that file's bytes instead (same module, same behaviour).
 */
const WASM_BASE64 = "@prisma/client/runtime/query_compiler_small_bg.mysql.wasm-base64.mjs";
const WASM_FILE = "query_compiler_small_bg.mysql.wasm";
const GENERATED_CLASS = path.join("server", "db", "generated", "internal", "class.ts");
const WASM_LOADER = `const { wasm } = await import("${WASM_BASE64}")
    return await decodeBase64AsWasm(wasm)`;

async function wasmFromFile(text, file) {
  if (!file.endsWith(GENERATED_CLASS)) return text;
  if (!text.includes(WASM_LOADER)) throw new Error(`${GENERATED_CLASS} no longer loads ${WASM_BASE64} as expected: update scripts/build-server.mjs`);
  const { wasm } = await import(WASM_BASE64);
  mkdirSync(outdir, { recursive: true });
  writeFileSync(path.join(outdir, WASM_FILE), Buffer.from(wasm, "base64"));
  return text.replace(
    WASM_LOADER,
    `const { readFile } = await import("node:fs/promises")
    return new WebAssembly.Module(await readFile(new URL(${JSON.stringify(`./${WASM_FILE}`)}, import.meta.url)))`,
  );
}

const reason = buildReason();
if (!reason) {
  console.log("build-server: skipped build, dist/ is up to date");
} else {
  const started = Date.now();
  rmSync(outdir, { recursive: true, force: true });
  try {
    await build({
      absWorkingDir: root,
      entryPoints: { main: "server/main.ts", cli: "server/cli/main.ts" },
      outdir,
      bundle: true,
      // Dynamic imports become their own chunks: a module imported lazily is loaded only when used.
      splitting: true,
      chunkNames: "[name]-[hash]",
      format: "esm",
      platform: "node",
      target: "node20.19",
      packages: "external",
      sourcemap: true,
      // Stack traces keep the project's function and class names (logs, errors).
      keepNames: true,
      legalComments: "none",
      logLevel: "warning",
      plugins: [sourceUrlPlugin],
      banner: { js: "// Built by scripts/build-server.mjs from server/ (do not edit)." },
    });
  } catch (error) {
    console.error(`build-server: build FAILED (${reason}): ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`build-server: built dist/ in ${seconds}s (${reason})`);
}
