import { createGraphQLError } from "graphql-yoga";
import { AppError, RateLimitedError, SecondFactorRequiredError, ValidationError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";

type GraphQLErrorLike = Error & { originalError?: unknown; path?: ReadonlyArray<string | number>; nodes?: unknown };

/**
 * Duck-typed on purpose: graphql ships CommonJS and ESM builds, and a test runner may load both,
 * so `instanceof GraphQLError` can be false for a real GraphQLError.
 */
function isGraphQLError(e: unknown): e is GraphQLErrorLike {
  return e instanceof Error && "originalError" in e && "extensions" in e;
}

/**
 * The one map from application errors to GraphQL errors: AppError codes become
 * `extensions.code` (and `field` / `fields` for input errors); GraphQL's own errors (bad queries)
 * pass; anything else is logged and masked as INTERNAL_SERVER_ERROR.
 */
export function createMaskError(logger: Logger) {
  return (error: unknown, message: string): Error => {
    // Yoga may wrap the resolver's error more than once (a located error inside another).
    let original: unknown = error;
    while (isGraphQLError(original) && original.originalError) original = original.originalError;
    const located = isGraphQLError(error) ? error : undefined;
    if (original instanceof AppError) {
      return createGraphQLError(original.message, {
        nodes: located?.nodes as never,
        path: located?.path,
        extensions: {
          code: original.code,
          ...(original.field ? { field: original.field } : {}),
          ...(original instanceof ValidationError && original.problems.length > 1 ? { fields: original.problems } : {}),
          ...(original instanceof RateLimitedError ? { retryAfterSeconds: original.retryAfterSeconds } : {}),
          ...(original instanceof SecondFactorRequiredError
            ? { secondFactor: original.kind, ...(original.enrolment ? { enrolment: original.enrolment } : {}) }
            : {}),
        },
      });
    }
    if (isGraphQLError(original)) return original;
    logger.error({ err: original }, "unexpected error in a GraphQL operation");
    return createGraphQLError(message, { path: located?.path, extensions: { code: "INTERNAL_SERVER_ERROR" } });
  };
}
