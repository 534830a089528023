#!/usr/bin/env node
// Runs the Prisma CLI. Machines without internet cannot download Prisma's schema engine, which
// every command checks for; `generate`, `validate` and `format` never use it, so a stand-in path
// is given for them when none is configured. Commands that do need it (migrate, db) run unchanged.
import { spawnSync } from "node:child_process";
import path from "node:path";

const args = process.argv.slice(2);
const offlineSafe = ["generate", "validate", "format"].includes(args[0]);
// Generators such as prisma-pothos-types are found on PATH, as under `npm run`.
const bin = path.resolve("node_modules/.bin");
const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`, PRISMA_HIDE_UPDATE_MESSAGE: "1" };
if (offlineSafe && !env.PRISMA_SCHEMA_ENGINE_BINARY) env.PRISMA_SCHEMA_ENGINE_BINARY = "/bin/false";

const result = spawnSync(process.execPath, ["node_modules/prisma/build/index.js", ...args], {
  stdio: "inherit",
  env,
});
process.exit(result.status ?? 1);
