/**
 * Writes docs/sqlguard.schema.json, the JSON Schema of sqlguard.yaml, from the document's own zod
 * schema (server/config-as-code/document.ts). `--check` fails when the committed file is stale.
 */
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { documentJsonSchema } from "../server/config-as-code/document.ts";

const file = fileURLToPath(new URL("../docs/sqlguard.schema.json", import.meta.url));
const text = `${JSON.stringify(documentJsonSchema(), null, 2)}\n`;
if (process.argv.includes("--check")) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  if (current !== text) {
    process.stderr.write("docs/sqlguard.schema.json is stale: run npm run config-schema:print\n");
    process.exit(1);
  }
} else {
  fs.writeFileSync(file, text);
  process.stdout.write("wrote docs/sqlguard.schema.json\n");
}
