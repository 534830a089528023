// The console's GraphQL client: one urql Client for POST /graphql with the session cookie. Queries and
// mutations go over fetch; subscriptions stream over Server-Sent Events from the same endpoint
// (`fetchSubscriptions`, which graphql-yoga serves without extra packages). Errors are turned into
// GraphQLRequestError so forms can show the server's `extensions.field(s)` problems. Every request
// carries the CSRF header the server requires of cookie-authenticated requests a browser could send
// without a preflight (server/http/edge.ts).
import { Client, cacheExchange, fetchExchange, type AnyVariables, type CombinedError, type TypedDocumentNode } from "@urql/core";

export const client = new Client({
  url: "/graphql",
  exchanges: [cacheExchange, fetchExchange],
  fetchSubscriptions: true,
  fetchOptions: { credentials: "same-origin", headers: { "x-graphql-yoga-csrf": "1" } },
  // POST like every other request: no operation in a URL, and no GET caching by the browser.
  preferGetMethod: false,
  requestPolicy: "cache-and-network",
});

/** One input problem reported by the server (`extensions.fields`). */
export interface FieldProblem {
  field: string;
  problem: string;
}

/** An error from a GraphQL response's `errors` list, or a transport failure. */
export class GraphQLRequestError extends Error {
  override name = "GraphQLRequestError";
  constructor(
    message: string,
    /** `extensions.code`: UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, NOT_FOUND, CONFLICT… */
    readonly code?: string,
    /** Every field problem: `extensions.fields`, or the single `extensions.field`. */
    readonly fields: FieldProblem[] = [],
    /** RATE_LIMITED: seconds until the server takes the request again. */
    readonly retryAfterSeconds?: number,
    /** Every extension the server sent (SECOND_FACTOR_REQUIRED: secondFactor, enrolment). */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

interface ErrorExtensions {
  code?: string;
  field?: string;
  fields?: FieldProblem[];
  retryAfterSeconds?: number;
}

/** Strips the "field: " prefix the server puts in front of a single problem. */
function problemText(message: string, field: string): string {
  return message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
}

/** The first GraphQL error of an urql result (code and field problems), or a transport message. */
export function toRequestError(error: CombinedError): GraphQLRequestError {
  const first = error.graphQLErrors[0];
  if (!first) {
    const status = (error.response as Response | undefined)?.status;
    return new GraphQLRequestError(status ? `Unexpected response from the server (HTTP ${status}).` : "Cannot reach the SQLGuard server.");
  }
  const ext = (first.extensions ?? {}) as ErrorExtensions;
  const fields = ext.fields ?? (ext.field ? [{ field: ext.field, problem: problemText(first.message, ext.field) }] : []);
  return new GraphQLRequestError(first.message, ext.code, fields, ext.retryAfterSeconds, (first.extensions ?? {}) as Record<string, unknown>);
}

/** Variables as an argument: optional when the operation has none that are required. */
type VariablesArg<V> = Record<string, never> extends V ? [variables?: V] : [variables: V];

/**
 * Runs one query or mutation outside a component (form submits, previews, polls); queries bypass the
 * cache. Resolves with the typed data; throws GraphQLRequestError with the first GraphQL error.
 */
export async function request<Data, Variables extends AnyVariables>(
  document: TypedDocumentNode<Data, Variables>,
  ...[variables]: VariablesArg<Variables>
): Promise<Data> {
  const vars = (variables ?? {}) as Variables;
  const isMutation = document.definitions.some((d) => d.kind === "OperationDefinition" && d.operation === "mutation");
  const result = isMutation
    ? await client.mutation(document, vars).toPromise()
    : await client.query(document, vars, { requestPolicy: "network-only" }).toPromise();
  if (result.error) throw toRequestError(result.error);
  if (result.data == null) throw new GraphQLRequestError("Empty response from the server.");
  return result.data;
}

/**
 * Problems keyed by field path, list indexes dropped (`includeDatabases.2` → `includeDatabases`,
 * `smtp.to.1` → `smtp.to`), so a nested field (`smtp.host`) lands at its own input. A nested
 * problem is also kept under its top-level name (`smtp`), for forms that show one message per group.
 */
export function fieldErrorsOf(error: unknown): Record<string, string> {
  if (!(error instanceof GraphQLRequestError)) return {};
  const out: Record<string, string> = {};
  const add = (key: string, problem: string) => {
    out[key] = out[key] ? `${out[key]}; ${problem}` : problem;
  };
  for (const { field, problem } of error.fields) {
    const parts = field.split(".").filter((part) => !/^\d+$/.test(part));
    const key = parts.join(".") || field;
    add(key, problem);
    if (parts.length > 1) add(parts[0]!, problem);
  }
  return out;
}

/** A readable message for any thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : "Something went wrong.";
}
