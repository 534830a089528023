/**
 * Typed application errors. Every error a user may see carries a stable code; the GraphQL layer maps
 * them to `extensions.code` (server/graphql/errors.ts) and masks anything else.
 */
export type ErrorCode =
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "BAD_USER_INPUT"
  | "NOT_FOUND"
  | "CONFLICT"
  | "UNAVAILABLE"
  | "RATE_LIMITED"
  | "SECOND_FACTOR_REQUIRED"
  | "INTERNAL";

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

/** What a user must set up before a role that requires TOTP can sign in: the secret and its QR code. */
export type TotpEnrolment = { secret: string; otpauthUri: string; qrSvg: string };

/**
 * The password was right; the login needs a TOTP code (`kind: "TOTP"`), or, for a role that must
 * use TOTP, enrolment first (`kind: "ENROL"`, with the secret to scan). No session was created.
 */
export class SecondFactorRequiredError extends AppError {
  constructor(
    readonly kind: "TOTP" | "ENROL",
    readonly enrolment?: TotpEnrolment,
  ) {
    super(
      "SECOND_FACTOR_REQUIRED",
      kind === "TOTP" ? "enter the code from your authenticator app" : "your role requires a second factor: scan the QR code and enter a code to finish",
    );
  }
}
