// Prints the GraphQL schema to schema.graphql; with --check, fails when the committed file is stale.
import fs from "node:fs";
import { lexicographicSortSchema, printSchema } from "graphql";
import { schema } from "../server/graphql/schema.ts";

const file = new URL("../schema.graphql", import.meta.url);
const printed = `${printSchema(lexicographicSortSchema(schema))}\n`;

if (process.argv.includes("--check")) {
  const committed = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  if (committed !== printed) {
    console.error("schema.graphql is stale: run `npm run schema:print` and commit the result");
    process.exit(1);
  }
  console.log("schema.graphql is up to date");
} else {
  fs.writeFileSync(file, printed);
  console.log("wrote schema.graphql");
}
