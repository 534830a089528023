// Fetch-based GraphQL client for the console: queries and mutations over POST /graphql with the
// session cookie, and subscriptions over Server-Sent Events (the same endpoint, Accept: text/event-stream).
// urql is not installed in this repo; this keeps the bundle small and covers what the console needs.

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
  ) {
    super(message);
  }
}

interface RawError {
  message: string;
  extensions?: { code?: string; field?: string; fields?: FieldProblem[] };
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: ReadonlyArray<RawError>;
}

/** Strips the "field: " prefix the server puts in front of a single problem. */
function problemText(message: string, field: string): string {
  return message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
}

function toError(raw: RawError): GraphQLRequestError {
  const ext = raw.extensions ?? {};
  const fields = ext.fields ?? (ext.field ? [{ field: ext.field, problem: problemText(raw.message, ext.field) }] : []);
  return new GraphQLRequestError(raw.message, ext.code, fields);
}

/**
 * POSTs one operation to the same-origin `/graphql` endpoint with the session cookie.
 * Throws GraphQLRequestError carrying the first GraphQL error (code and field problems), or a transport message.
 */
export async function requestGraphQL<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
  let response: Response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new GraphQLRequestError("Cannot reach the SQLGuard server.");
  }

  let body: GraphQLResponse<T>;
  try {
    body = (await response.json()) as GraphQLResponse<T>;
  } catch {
    throw new GraphQLRequestError(`Unexpected response from the server (HTTP ${response.status}).`);
  }

  const first = body.errors?.[0];
  if (first) throw toError(first);
  if (body.data == null) throw new GraphQLRequestError(`Empty response from the server (HTTP ${response.status}).`);
  return body.data;
}

/**
 * Runs a subscription over SSE until `signal` aborts or the server ends the stream; calls `onOpen`
 * once the server accepted it and `onData` for every `next` event. Resolves when the stream ends;
 * rejects on transport or GraphQL errors.
 */
export async function subscribeGraphQL<T>(
  query: string,
  variables: Record<string, unknown> | undefined,
  onData: (data: T) => void,
  signal: AbortSignal,
  onOpen?: () => void,
): Promise<void> {
  const response = await fetch("/graphql", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ query, variables }),
    signal,
  });
  if (!response.ok || !response.body) throw new GraphQLRequestError(`Live updates unavailable (HTTP ${response.status}).`);
  onOpen?.();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (!data) continue; // keep-alive comment or the `complete` event
      const payload = JSON.parse(data) as GraphQLResponse<T>;
      if (payload.errors?.[0]) throw toError(payload.errors[0]);
      if (payload.data) onData(payload.data);
    }
  }
}

/** Problems keyed by field, the list index dropped (`includeDatabases.2` → `includeDatabases`). */
export function fieldErrorsOf(error: unknown): Record<string, string> {
  if (!(error instanceof GraphQLRequestError)) return {};
  const out: Record<string, string> = {};
  for (const { field, problem } of error.fields) {
    const key = field.split(".")[0] ?? field;
    out[key] = out[key] ? `${out[key]}; ${problem}` : problem;
  }
  return out;
}

/** A readable message for any thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : "Something went wrong.";
}
