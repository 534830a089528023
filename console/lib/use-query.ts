"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { GraphQLRequestError, requestGraphQL } from "./graphql";

export interface QueryState<T> {
  data: T | undefined;
  error: GraphQLRequestError | undefined;
  loading: boolean;
  /** Runs the query again, keeping the current data on screen meanwhile. */
  refetch: () => void;
}

/**
 * Runs a query when the component mounts and whenever `variables` change (compared as JSON).
 * `skip` holds it back (e.g. until a URL parameter is known).
 */
export function useQuery<T>(query: string, variables?: Record<string, unknown>, options: { skip?: boolean } = {}): QueryState<T> {
  const key = JSON.stringify(variables ?? {});
  const [nonce, setNonce] = useState(0);
  const [state, setState] = useState<{ data?: T; error?: GraphQLRequestError; loading: boolean }>({ loading: !options.skip });
  const latest = useRef(0);

  useEffect(() => {
    if (options.skip) return;
    const run = ++latest.current;
    setState((s) => ({ ...s, loading: true }));
    requestGraphQL<T>(query, JSON.parse(key) as Record<string, unknown>).then(
      (data) => run === latest.current && setState({ data, loading: false }),
      (error: unknown) =>
        run === latest.current &&
        setState((s) => ({
          data: s.data,
          loading: false,
          error: error instanceof GraphQLRequestError ? error : new GraphQLRequestError(String(error)),
        })),
    );
  }, [query, key, nonce, options.skip]);

  const refetch = useCallback(() => setNonce((n) => n + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, refetch };
}
