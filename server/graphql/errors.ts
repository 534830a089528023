import { GraphQLError } from "graphql";
import { AppError, ValidationError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";

/**
 * The one map from application errors to GraphQL errors: AppError codes become
 * `extensions.code` (and `field` / `fields` for input errors); GraphQL's own errors (bad queries)
 * pass; anything else is logged and masked as INTERNAL_SERVER_ERROR.
 */
export function createMaskError(logger: Logger) {
  return (error: unknown, message: string): Error => {
    const original = error instanceof GraphQLError ? (error.originalError ?? undefined) : error;
    if (original instanceof AppError) {
      const gqlError = error instanceof GraphQLError ? error : undefined;
      return new GraphQLError(original.message, {
        nodes: gqlError?.nodes,
        path: gqlError?.path,
        extensions: {
          code: original.code,
          ...(original.field ? { field: original.field } : {}),
          ...(original instanceof ValidationError && original.problems.length > 1 ? { fields: original.problems } : {}),
        },
      });
    }
    if (error instanceof GraphQLError && !error.originalError) return error;
    logger.error({ err: original }, "unexpected error in a GraphQL operation");
    return new GraphQLError(message, {
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: "INTERNAL_SERVER_ERROR" },
    });
  };
}
