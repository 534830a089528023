import type { FieldProblem } from "../errors.ts";

/** A running server, as the CLI reaches it: SQLGUARD_URL and SQLGUARD_TOKEN (an API token). */
export type ServerConnection = { url: string; token: string };

/** The server could not be reached, refused the token, or answered with an error. The message is for the user; it never holds the token. */
export class ServerCallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ServerCallError";
  }
}

/** The server refused the document: every problem, each named by its path in the document. */
export class DocumentRefusedError extends Error {
  constructor(readonly problems: FieldProblem[]) {
    super(problems.map((p) => `${p.field}: ${p.problem}`).join("\n"));
    this.name = "DocumentRefusedError";
  }
}

type GraphQLError = { message: string; extensions?: { code?: string; field?: string; fields?: FieldProblem[] } };

/** The GraphQL endpoint of SQLGUARD_URL: the server's base URL, with or without /graphql. */
export function graphqlEndpoint(base: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new ServerCallError(`SQLGUARD_URL: must be the server's URL, such as https://backups.example.com`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ServerCallError("SQLGUARD_URL: must be an http:// or https:// URL");
  if (url.username || url.password) throw new ServerCallError("SQLGUARD_URL: must not hold credentials; the token goes in SQLGUARD_TOKEN");
  const path = url.pathname.replace(/\/+$/, "");
  url.pathname = path.endsWith("/graphql") ? path : `${path}/graphql`;
  url.search = "";
  url.hash = "";
  return url.toString();
}

/**
 * Sends one GraphQL operation with the token as `Authorization: Bearer`. Throws ServerCallError
 * (unreachable, token refused, not an admin, not a SQLGuard server) or DocumentRefusedError
 * (BAD_USER_INPUT, with every problem).
 */
export async function callServer<T>(conn: ServerConnection, query: string, variables: Record<string, unknown>): Promise<T> {
  const endpoint = graphqlEndpoint(conn.url);
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", authorization: `Bearer ${conn.token}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(300_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new ServerCallError(`cannot reach the SQLGuard server at ${endpoint}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  let body: { data?: T | null; errors?: GraphQLError[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new ServerCallError(`${endpoint} answered HTTP ${response.status} without a GraphQL response: is SQLGUARD_URL the SQLGuard server?`);
  }
  const error = body.errors?.[0];
  if (error) {
    const code = error.extensions?.code;
    if (code === "UNAUTHENTICATED" || response.status === 401) {
      throw new ServerCallError(`the server at ${endpoint} refused SQLGUARD_TOKEN: the token is unknown, revoked or expired, or its user is disabled`);
    }
    if (code === "FORBIDDEN") throw new ServerCallError(`the server refused the operation: ${error.message} (configuration needs a token with the admin role)`);
    if (code === "BAD_USER_INPUT") {
      const problems = error.extensions?.fields ?? [{ field: error.extensions?.field ?? "document", problem: error.message.replace(/^[^:]+: /, "") }];
      throw new DocumentRefusedError(problems);
    }
    throw new ServerCallError(`the server answered: ${error.message}${code ? ` (${code})` : ""}`);
  }
  if (!response.ok || !body.data) throw new ServerCallError(`${endpoint} answered HTTP ${response.status} without data`);
  return body.data;
}
