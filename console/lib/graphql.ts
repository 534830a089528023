// Minimal GraphQL-over-HTTP client for the placeholder console (urql replaces it later).

/** An error returned in a GraphQL response's `errors` list, or a transport failure. */
export class GraphQLRequestError extends Error {
  override name = "GraphQLRequestError";
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: ReadonlyArray<{ message: string }>;
}

/**
 * POSTs one operation to the same-origin `/graphql` endpoint with the session cookie.
 * Throws GraphQLRequestError carrying the first GraphQL error message, or a transport message.
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
  if (first) throw new GraphQLRequestError(first.message);
  if (body.data == null) throw new GraphQLRequestError(`Empty response from the server (HTTP ${response.status}).`);
  return body.data;
}
