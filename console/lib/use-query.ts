"use client";

import { useCallback, useMemo } from "react";
import { useQuery as useUrqlQuery, type AnyVariables, type TypedDocumentNode, type UseQueryArgs } from "urql";
import { type GraphQLRequestError, toRequestError } from "./graphql";

export interface QueryState<T> {
  data: T | undefined;
  error: GraphQLRequestError | undefined;
  loading: boolean;
  /** Runs the query again over the network, keeping the current data on screen meanwhile. */
  refetch: () => void;
}

/**
 * Runs a typed query through urql ('cache-and-network': cached data first, then fresh data) when the
 * component mounts and whenever `variables` change. `skip` holds it back (e.g. until a URL parameter
 * is known). Call `refetch` after a mutation.
 */
export function useQuery<Data, Variables extends AnyVariables>(
  query: TypedDocumentNode<Data, Variables>,
  variables?: Variables,
  options: { skip?: boolean } = {},
): QueryState<Data> {
  const [result, reexecute] = useUrqlQuery<Data, Variables>({
    query,
    variables,
    pause: options.skip,
    requestPolicy: "cache-and-network",
  } as UseQueryArgs<Variables, Data>);
  const refetch = useCallback(() => reexecute({ requestPolicy: "network-only" }), [reexecute]);
  const error = useMemo(() => (result.error ? toRequestError(result.error) : undefined), [result.error]);
  return { data: result.data, error, loading: result.fetching, refetch };
}
