/**
 * Top-level errors with their `extensions.code` values (the README's wire tables), as services and resolvers throw them: a
 * transport-free `DomainError`, which the server maps to a GraphQL error (graphql-js copies its `extensions`) and to
 * an HTTP status. Expected failures of a mutation are not thrown: they are returned as `userErrors` (user-error.ts).
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  RATE_LIMITED: 'RATE_LIMITED',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  BAD_REQUEST: 'BAD_REQUEST',
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  PERSISTED_QUERY_NOT_SUPPORTED: 'PERSISTED_QUERY_NOT_SUPPORTED',
  OPERATION_RESOLUTION_FAILURE: 'OPERATION_RESOLUTION_FAILURE',
  /** A subscription's `after` cursor (or SSE `Last-Event-ID`) is past the stream's retention: refetch, then resume. */
  CURSOR_EXPIRED: 'CURSOR_EXPIRED',
  /** PostgreSQL cancelled a statement that ran past DB_STATEMENT_TIMEOUT_MS; a mutation's transaction rolled back. */
  TIMEOUT: 'TIMEOUT',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Codes whose message is meant for the client; anything else thrown by a resolver is masked. */
export const PUBLIC_ERROR_CODES: ReadonlySet<string> = new Set(
  Object.values(ErrorCode).filter((code) => code !== ErrorCode.INTERNAL_SERVER_ERROR),
);

/** An error meant for the client: its message and extensions (with `code`) reach it as they are. */
export class DomainError extends Error {
  readonly extensions: Readonly<Record<string, unknown>> & { code: ErrorCode };

  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    super(message);
    this.name = 'DomainError';
    this.extensions = { ...extensions, code };
  }

  get code(): ErrorCode {
    return this.extensions.code;
  }
}

export function badUserInput(message: string, extensions: Record<string, unknown> = {}): DomainError {
  return new DomainError(ErrorCode.BAD_USER_INPUT, message, extensions);
}

export function unauthenticated(message = 'Authentication required'): DomainError {
  return new DomainError(ErrorCode.UNAUTHENTICATED, message);
}

export function forbidden(missingScopes: string[], message?: string): DomainError {
  return new DomainError(
    ErrorCode.FORBIDDEN,
    message ?? `Missing scope${missingScopes.length === 1 ? '' : 's'}: ${missingScopes.join(', ')}`,
    {
      missingScopes,
    },
  );
}

export function notFound(message: string): DomainError {
  return new DomainError(ErrorCode.NOT_FOUND, message);
}

export const TIMEOUT_MESSAGE = 'The operation took too long and was cancelled';

export function timedOut(): DomainError {
  return new DomainError(ErrorCode.TIMEOUT, TIMEOUT_MESSAGE);
}

export function rateLimited(message: string, retryAfterSeconds: number, extensions: Record<string, unknown> = {}): DomainError {
  return new DomainError(ErrorCode.RATE_LIMITED, message, { retryAfter: retryAfterSeconds, ...extensions });
}
