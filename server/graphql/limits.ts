import { EnvelopArmor } from "@escape.tech/graphql-armor";
import {
  GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLOutputType,
  Kind,
  type ASTVisitor,
  type FieldNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
  type ValueNode,
} from "graphql";
import type { Plugin } from "graphql-yoga";

/**
 * What one GraphQL request may ask for. Every limit is checked while parsing and validating, before
 * the request is authenticated and before any resolver runs; the console's heaviest operation is far
 * below each (server/graphql/limits.test.ts checks every one it sends).
 */
export const GRAPHQL_LIMITS = {
  /** Bytes of the HTTP body (document and variables). */
  maxBodyBytes: 256 * 1024,
  /** Lexical tokens of the document: the parser stops at the first one past it. */
  maxTokens: 2_000,
  /** Aliased fields in one operation (each alias is a field resolved again). */
  maxAliases: 20,
  /** Nesting of selections; 9 is the deepest path through the schema that repeats no type (a connection's edges → node included). */
  maxDepth: 9,
  maxDirectives: 20,
  /** Objects the operation may produce by the estimate of `listCostRule`. */
  maxCost: 20_000,
  /** The size assumed for a list without a `first` argument. */
  defaultListSize: 50,
} as const;

/**
 * The parse caches yoga keeps per document text, bounded by size as well as count: only documents
 * up to 16 KiB are kept (the console's largest is under 3 KiB), 1,024 of them, so that distinct
 * hostile documents of 256 KiB cannot make the cache hold hundreds of MB.
 */
export function boundedDocumentCache<T>(maxEntries = 1_024, maxKeyLength = 16 * 1024): { get(key: string): T | undefined; set(key: string, value: T): void } {
  const entries = new Map<string, T>();
  return {
    get(key) {
      const value = entries.get(key);
      if (value !== undefined) {
        entries.delete(key);
        entries.set(key, value);
      }
      return value;
    },
    set(key, value) {
      if (key.length > maxKeyLength) return;
      entries.delete(key);
      entries.set(key, value);
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    },
  };
}

/**
 * Lists without a page argument that are short by nature: one entry per storage target, label or
 * restore of one backup, server or schedule. Every other such list counts as `defaultListSize`.
 */
const SHORT_LISTS: Record<string, number> = {
  "Backup.artifacts": 10,
  "Backup.restores": 10,
  "Backup.drills": 10,
  "Server.labels": 10,
  "Schedule.storageTargets": 10,
  "Schedule.retentionRules": 10,
  "DashboardTotals.storage": 10,
};

/** Arguments that bound the length of the list a field returns (or its connection's `nodes` and `edges`): every paged list is a connection with `first`. */
const PAGE_ARGUMENTS = new Set(["first", "last"]);

/** graphql-armor: token, alias, directive and depth limits, and no "Did you mean …?" in errors. */
export function armorPlugins(): Plugin[] {
  const onReject = [
    (_context: unknown, error: GraphQLError) => {
      throw new GraphQLError(error.message.replace(/^Syntax Error: /, ""), { extensions: { code: "GRAPHQL_VALIDATION_FAILED" } });
    },
  ];
  const common = { propagateOnRejection: false, onReject };
  const armor = new EnvelopArmor({
    maxTokens: { n: GRAPHQL_LIMITS.maxTokens, ...common },
    // Every alias counts, `__typename` ones too: 200,000 of them are as much work to answer.
    maxAliases: { n: GRAPHQL_LIMITS.maxAliases, allowList: [], ...common },
    maxDepth: { n: GRAPHQL_LIMITS.maxDepth, ignoreIntrospection: true, ...common },
    maxDirectives: { n: GRAPHQL_LIMITS.maxDirectives, ...common },
    // Armor's own cost model counts fields but not list lengths; listCostRule does.
    costLimit: { enabled: false },
    blockFieldSuggestion: { enabled: true },
  });
  return [...(armor.protect().plugins as Plugin[]), { onValidate: ({ addValidationRule }) => addValidationRule(listCostRule()) }];
}

/**
 * Refuses an operation whose estimated output is over `maxCost` objects. Each object-typed field
 * costs the product of the list lengths above it and its own: a `first` literal, or the
 * argument's default when it is a variable or omitted (a page's `first` sizes its `nodes`), or
 * for a list without one its SHORT_LISTS size or `defaultListSize`. Nested lists (servers → profile → servers → …) and
 * aliases multiply, so a small document cannot ask for millions of rows.
 */
export function listCostRule(max: number = GRAPHQL_LIMITS.maxCost, listSize: number = GRAPHQL_LIMITS.defaultListSize): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(operation) {
      const root =
        operation.operation === "query"
          ? context.getSchema().getQueryType()
          : operation.operation === "mutation"
            ? context.getSchema().getMutationType()
            : context.getSchema().getSubscriptionType();
      if (!root) return;
      const cost = selectionCost(context, operation.selectionSet, root as GraphQLNamedType, 1, null, listSize, new Set());
      if (cost > max) {
        throw new GraphQLError(`Query cost limit of ${max} exceeded, estimated ${Math.round(cost)}: ask for fewer items (first) or fewer nested lists.`, {
          extensions: { code: "GRAPHQL_VALIDATION_FAILED" },
        });
      }
    },
  });
}

function selectionCost(
  context: ValidationContext,
  selectionSet: SelectionSetNode,
  parent: GraphQLNamedType,
  multiplier: number,
  pendingPage: number | null,
  listSize: number,
  fragments: Set<string>,
): number {
  let cost = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      cost += fieldCost(context, selection, parent, multiplier, pendingPage, listSize, fragments);
      continue;
    }
    const fragment = selection.kind === Kind.FRAGMENT_SPREAD ? context.getFragment(selection.name.value) : selection;
    // A spread already being counted is a cycle: NoFragmentCyclesRule reports it.
    if (!fragment || (selection.kind === Kind.FRAGMENT_SPREAD && fragments.has(selection.name.value))) continue;
    const typeName = fragment.typeCondition?.name.value;
    const type = typeName ? context.getSchema().getType(typeName) : parent;
    if (!type) continue;
    const seen = selection.kind === Kind.FRAGMENT_SPREAD ? new Set([...fragments, selection.name.value]) : fragments;
    cost += selectionCost(context, fragment.selectionSet, type, multiplier, pendingPage, listSize, seen);
  }
  return cost;
}

function fieldCost(
  context: ValidationContext,
  field: FieldNode,
  parent: GraphQLNamedType,
  multiplier: number,
  pendingPage: number | null,
  listSize: number,
  fragments: Set<string>,
): number {
  if (!field.selectionSet || field.name.value.startsWith("__")) return 0;
  // Duck-typed, not instanceof: a test runner may load graphql's CommonJS and ESM builds side by side.
  const fields = "getFields" in parent ? (parent.getFields() as Record<string, GraphQLField<unknown, unknown>>) : null;
  const definition = fields?.[field.name.value];
  if (!definition) return 0;
  const type = namedType(definition.type);
  const isList = String(definition.type).replace(/!$/, "").startsWith("[");
  const page = pageSize(field, definition.args);
  let own = multiplier;
  let pending = pendingPage;
  if (page !== null) {
    if (isList) own *= page;
    else pending = page;
  } else if (isList) {
    own *= pendingPage ?? SHORT_LISTS[`${parent.name}.${field.name.value}`] ?? listSize;
    pending = null;
  }
  return own + selectionCost(context, field.selectionSet, type, own, isList ? null : pending, listSize, fragments);
}

function namedType(type: GraphQLOutputType): GraphQLNamedType {
  let t: GraphQLOutputType = type;
  while ("ofType" in t && t.ofType) t = t.ofType as GraphQLOutputType;
  return t as GraphQLNamedType;
}

/** The list length a field asks for: its page argument's literal, else that argument's default. */
function pageSize(field: FieldNode, args: ReadonlyArray<{ name: string; defaultValue?: unknown }>): number | null {
  for (const definition of args) {
    if (!PAGE_ARGUMENTS.has(definition.name)) continue;
    const given = field.arguments?.find((a) => a.name.value === definition.name)?.value;
    const literal = given ? intOf(given) : null;
    if (literal !== null) return Math.max(literal, 1);
    if (typeof definition.defaultValue === "number") return Math.max(definition.defaultValue, 1);
  }
  return null;
}

function intOf(value: ValueNode): number | null {
  return value.kind === Kind.INT ? Number(value.value) : null;
}
