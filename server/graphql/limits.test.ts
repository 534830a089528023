// The GraphQL limits as the real handler applies them (its parse and validate, without executing):
// every operation the console sends passes, so does the deepest path through the committed schema,
// and hostile shapes do not.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildSchema, getNamedType, type GraphQLObjectType, isObjectType, parse, validate } from "graphql";
import { describe, expect, it } from "vitest";
import { createLogger } from "../observability/logger.ts";
import { boundedDocumentCache, GRAPHQL_LIMITS, listCostRule } from "./limits.ts";
import { createGraphQLHandler } from "./yoga.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const committed = buildSchema(fs.readFileSync(path.join(ROOT, "schema.graphql"), "utf8"));
// Only parse and validate run here: nothing reaches the context (services) or a resolver.
const yoga = createGraphQLHandler({ prisma: {} as never, services: {} as never, logger: createLogger({ level: "silent", pretty: false }) });

/** The handler's own parse + validate: the errors it would answer with, or none. */
function problems(document: string): string[] {
  const {
    parse: parseLimited,
    validate: validateLimited,
    schema,
  } = yoga.getEnveloped({ request: new Request("http://localhost/graphql", { method: "POST" }) } as never);
  try {
    return validateLimited(schema, parseLimited(document)).map((e: Error) => e.message);
  } catch (error) {
    return [(error as Error).message];
  }
}

/** Every `graphql(\`…\`)` document of the console, each operation with the fragments it spreads. */
function consoleOperations(): Array<{ file: string; name: string; document: string }> {
  const files = fs
    .readdirSync(path.join(ROOT, "console"), { recursive: true, encoding: "utf8" })
    .filter((f) => /\.(ts|tsx)$/.test(f) && !f.includes("node_modules"));
  const texts = files.flatMap((file) =>
    [...fs.readFileSync(path.join(ROOT, "console", file), "utf8").matchAll(/graphql\(\s*`([\s\S]*?)`/g)].map((m) => ({ file, text: m[1]! })),
  );
  const fragments = new Map<string, string>();
  for (const { text } of texts) for (const m of text.matchAll(/fragment\s+(\w+)\s+on/g)) fragments.set(m[1]!, text);
  const withFragments = (text: string, seen = new Set<string>()): string => {
    let out = text;
    for (const m of text.matchAll(/\.\.\.(\w+)/g)) {
      const name = m[1]!;
      if (seen.has(name) || !fragments.has(name)) continue;
      seen.add(name);
      out += `\n${withFragments(fragments.get(name)!, seen)}`;
    }
    return out;
  };
  return texts
    .filter(({ text }) => /^\s*(query|mutation|subscription)\b/.test(text))
    .map(({ file, text }) => ({ file, name: /(query|mutation|subscription)\s+(\w+)/.exec(text)?.[2] ?? "?", document: withFragments(text) }));
}

/** The longest path through the schema that visits no type twice, as a query. */
function deepestAcyclicQuery(): string {
  const walk = (type: GraphQLObjectType, seen: Set<string>): string[] => {
    let best: string[] = [];
    for (const [name, field] of Object.entries(type.getFields())) {
      const next = getNamedType(field.type);
      if (!isObjectType(next) || seen.has(next.name) || field.args.some((a) => a.type.toString().endsWith("!"))) continue;
      const path = [name, ...walk(next, new Set([...seen, next.name]))];
      if (path.length > best.length) best = path;
    }
    return best;
  };
  const fields = walk(committed.getQueryType()!, new Set(["Query"]));
  return `{ ${fields.map((f) => `${f} {`).join(" ")} __typename ${"}".repeat(fields.length)} }`;
}

describe("GraphQL limits", () => {
  it("let every operation the console sends through", () => {
    const operations = consoleOperations();
    expect(operations.length).toBeGreaterThan(40);
    for (const { file, name, document } of operations) expect(problems(document), `${file} ${name}`).toEqual([]);
  });

  it("let the deepest path through the committed schema through", () => {
    const query = deepestAcyclicQuery();
    expect(query.split("{").length - 2).toBeGreaterThanOrEqual(6);
    // Depth, tokens and aliases: the path multiplies three unbounded lists (restores → drills →
    // covered servers), which the cost rule rightly refuses; cost has its own tests below.
    expect(problems(query).filter((p) => !p.startsWith("Query cost limit"))).toEqual([]);
  });

  it("let the largest page of backups with their artifacts through", () => {
    expect(problems("{ backups(first: 500) { nodes { id status error artifacts { key status storageTarget { name } } } } }")).toEqual([]);
  });

  it("refuse documents over each limit, naming the limit", () => {
    const aliases = `{ ${Array.from({ length: GRAPHQL_LIMITS.maxAliases + 1 }, (_, i) => `a${i}: __typename`).join(" ")} }`;
    expect(problems(aliases).join()).toMatch(/Aliases limit of 20/);
    expect(problems(`{ ${"__typename ".repeat(GRAPHQL_LIMITS.maxTokens)} }`).join()).toMatch(/Token limit of 2000/);
    const deep = `{ servers { dumpOptions { servers { dumpOptions { servers { dumpOptions { servers { dumpOptions { servers { id } } } } } } } } } }`;
    expect(problems(deep).join()).toMatch(/depth limit of 9/);
    expect(problems("{ schedules { servers { dumpOptions { servers { id } } } } }").join()).toMatch(/cost limit of 20000/);
    expect(problems("{ me { usernme } }").join()).not.toMatch(/Did you mean/);
  });
});

describe("listCostRule", () => {
  const cost = (document: string): number => {
    try {
      validate(committed, parse(document), [listCostRule(0)]);
    } catch (error) {
      return Number(/estimated (\d+)/.exec((error as Error).message)?.[1]);
    }
    throw new Error("a limit of 0 refuses every operation");
  };

  it("counts each object once per element of every list above it", () => {
    // backups (1) + first: 200 nodes
    expect(cost("{ backups(first: 200) { nodes { id } } }")).toBe(201);
    // a variable or no argument: the argument's default (50)
    expect(cost("query($n: Int) { backups(first: $n) { nodes { id } } }")).toBe(51);
    // A connection's edges are sized by its `first` too: each edge and its node count.
    expect(cost("{ backups(first: 200) { edges { cursor node { id } } pageInfo { endCursor } } }")).toBe(1 + 200 + 200 + 1);
    // Every paged list is a connection, sized by its `first`; a connection field below an object too.
    expect(cost("{ auditLog(first: 500) { edges { node { id } } } }")).toBe(1 + 500 + 500);
    expect(cost("{ restoreDrills(first: 300) { nodes { id } } }")).toBe(1 + 300);
    expect(cost("{ notificationDeliveries { nodes { id } } }")).toBe(1 + 100);
    expect(cost("{ encryptionRewraps(first: 100) { edges { cursor } } }")).toBe(1 + 100);
    expect(cost('{ databaseDetail(serverName: "s", database: "d") { backups(first: 200) { nodes { id } } } }')).toBe(1 + 1 + 200);
    // an unpaginated list: 50 servers, 50 profiles, 50 × 50 servers again
    expect(cost("{ servers { dumpOptions { servers { id } } } }")).toBe(50 + 50 + 2_500);
    // aliases and fragments add up
    expect(cost("{ a: servers { id } b: servers { ...S } } fragment S on Server { dumpOptions { id } }")).toBe(50 + 50 + 50);
    expect(cost("{ me { username } }")).toBe(1);
    // a short list by nature (one artifact per storage target): 10 per backup
    expect(cost("{ backups(first: 500) { nodes { id artifacts { key storageTarget { name } } } } }")).toBe(1 + 500 + 5_000 + 5_000);
  });
});

describe("boundedDocumentCache", () => {
  it("keeps small documents, least recently used first out, and never large ones", () => {
    const cache = boundedDocumentCache<number>(2, 10);
    cache.set("{ a }", 1);
    cache.set("{ b }", 2);
    expect(cache.get("{ a }")).toBe(1);
    cache.set("{ c }", 3);
    expect(cache.get("{ b }")).toBeUndefined();
    expect([cache.get("{ a }"), cache.get("{ c }")]).toEqual([1, 3]);
    cache.set(`{ ${"x ".repeat(10)}}`, 4);
    expect(cache.get(`{ ${"x ".repeat(10)}}`)).toBeUndefined();
  });
});
