#!/usr/bin/env node
// Writes console/graphql-env.d.ts, the gql.tada introspection types of the committed schema.graphql,
// from the "gql.tada/ts-plugin" entry of console/tsconfig.json; with --check, fails when it is stale.
// Same output as `gql-tada generate-output`, whose CLI cannot load this repo's TypeScript 7
// (it needs the TypeScript JS API), so the script calls gql.tada's own generator directly.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadRef, minifyIntrospection, outputIntrospectionFile } from "@gql.tada/internal";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const consoleDir = path.join(root, "console");
const tsconfig = JSON.parse(readFileSync(path.join(consoleDir, "tsconfig.json"), "utf8"));
const plugin = tsconfig.compilerOptions.plugins.find((p) => p.name === "gql.tada/ts-plugin");
if (!plugin) throw new Error('console/tsconfig.json has no "gql.tada/ts-plugin" plugin entry');

const output = path.resolve(consoleDir, plugin.tadaOutputLocation);
const schema = await loadRef(plugin).load({ rootPath: consoleDir });
const generated = outputIntrospectionFile(minifyIntrospection(schema.current.introspection), {
  fileType: output,
  shouldPreprocess: true,
});
const relative = path.relative(root, output);

if (process.argv.includes("--check")) {
  const current = existsSync(output) ? readFileSync(output, "utf8") : "";
  if (current !== generated) {
    console.error(`${relative} is stale: run \`npm run console:types\` and commit the result`);
    process.exit(1);
  }
  console.log(`${relative} is up to date`);
} else {
  writeFileSync(output, generated);
  console.log(`wrote ${relative}`);
}
