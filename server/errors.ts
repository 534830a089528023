/**
 * Typed application errors. Every error a user may see carries a stable code; the GraphQL layer maps
 * them to `extensions.code` (server/graphql/errors.ts) and masks anything else.
 */
export type ErrorCode = "UNAUTHENTICATED" | "FORBIDDEN" | "BAD_USER_INPUT" | "NOT_FOUND" | "CONFLICT" | "UNAVAILABLE" | "RATE_LIMITED" | "INTERNAL";

export class AppError extends Error {
  readonly code: ErrorCode;
  /** The input field at fault, for BAD_USER_INPUT and CONFLICT. */
  readonly field?: string;

  constructor(code: ErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.field = options.field;
  }
}

export type FieldProblem = { field: string; problem: string };

/**
 * Bad input: names the field and the problem, e.g. `port: must be between 1 and 65535`.
 * Holds every problem found at once; `field` is the first.
 */
export class ValidationError extends AppError {
  readonly problems: FieldProblem[];

  constructor(field: string, problem: string, more: FieldProblem[] = []) {
    const problems = [{ field, problem }, ...more];
    super("BAD_USER_INPUT", problems.map((p) => `${p.field}: ${p.problem}`).join("; "), { field });
    this.problems = problems;
  }

  static of(problems: FieldProblem[]): ValidationError {
    const [first, ...rest] = problems;
    if (!first) throw new Error("ValidationError.of needs at least one problem");
    return new ValidationError(first.field, first.problem, rest);
  }
}

export class NotFoundError extends AppError {
  constructor(entity: string, id: number | string) {
    super("NOT_FOUND", `${entity} ${id} does not exist`);
  }
}

export class ConflictError extends AppError {
  constructor(field: string, message: string) {
    super("CONFLICT", message, { field });
  }
}

/** Too many attempts (failed logins): try again after `retryAfterSeconds`. */
export class RateLimitedError extends AppError {
  constructor(
    readonly retryAfterSeconds: number,
    message: string,
  ) {
    super("RATE_LIMITED", message);
  }
}
