/**
 * Error masking, the same on both transports: an error the server did not mean for the client (anything but a
 * GraphQLError with a public code, or graphql-js's own parse/validation/coercion errors) becomes
 * "Internal server error" with the request id; the full error, with its stack, goes to the log.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { isQueryCanceled } from '../db/errors.js';
import type { Logger } from '../log.js';
import { DomainError, ErrorCode, PUBLIC_ERROR_CODES, timedOut } from '../schema/shared/errors.js';

const hasPublicCode = (error: GraphQLError) => PUBLIC_ERROR_CODES.has(error.extensions?.code as string);

export function isPublicError(error: GraphQLError): boolean {
  const original = error.originalError;
  if (original === undefined || original === null) return true;
  // What services and resolvers throw on purpose.
  if (original instanceof DomainError) return PUBLIC_ERROR_CODES.has(original.code);
  if (!(original instanceof GraphQLError)) return false;
  // A GraphQLError thrown on purpose carries a public code; one wrapped by Apollo (variable coercion) has its own.
  return hasPublicCode(original) || (!original.originalError && hasPublicCode(error));
}

export interface FormatOptions {
  requestId?: string;
  /** Where masked errors are logged; omit when the caller logs them itself. */
  log?: Logger;
  /** Code for a public error that carries none (graphql-ws validation and coercion errors). */
  defaultCode?: string;
  /** Development only: keep the stack of masked errors in `extensions.stacktrace`. */
  exposeStack?: boolean;
  /** Production: drop graphql-js's "Did you mean …?" hints, which reveal field and type names. */
  hideSuggestions?: boolean;
}

const SUGGESTION = / ?Did you mean [^?]*\?/g;

/** The client's view of one error; masked errors are logged here, once. */
export function formatError(error: GraphQLError, options: FormatOptions): GraphQLFormattedError {
  // PostgreSQL cancelled a statement (DB_STATEMENT_TIMEOUT_MS): the client learns why, not "Internal server error".
  if (isQueryCanceled(error.originalError)) {
    const timeout = timedOut();
    error = new GraphQLError(timeout.message, {
      nodes: error.nodes,
      path: error.path,
      originalError: timeout,
      extensions: timeout.extensions,
    });
  }
  if (isPublicError(error)) {
    const formatted = error.toJSON();
    const message = options.hideSuggestions ? formatted.message.replace(SUGGESTION, '') : formatted.message;
    const { http: _http, stacktrace: _stack, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
    return {
      ...formatted,
      message,
      extensions: {
        ...extensions,
        code: extensions.code ?? options.defaultCode ?? ErrorCode.GRAPHQL_VALIDATION_FAILED,
        ...(options.requestId ? { requestId: options.requestId } : {}),
      },
    };
  }
  const cause = error.originalError ?? error;
  options.log?.error({ err: cause, requestId: options.requestId, path: error.path }, 'Unexpected error in a GraphQL operation');
  return {
    message: 'Internal server error',
    ...(error.locations ? { locations: error.locations } : {}),
    ...(error.path ? { path: error.path } : {}),
    extensions: {
      code: ErrorCode.INTERNAL_SERVER_ERROR,
      ...(options.requestId ? { requestId: options.requestId } : {}),
      ...(options.exposeStack && cause.stack ? { stacktrace: cause.stack.split('\n') } : {}),
    },
  };
}

/** The code logged for an operation: its first error's, or undefined when it succeeded. */
export function firstErrorCode(errors: readonly GraphQLFormattedError[] | undefined): string | undefined {
  const code = errors?.[0]?.extensions?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The GraphQL response shape of a request refused outside the operation core (body too large, malformed JSON). */
export function errorEnvelope(message: string, code: string, requestId: string): { errors: GraphQLFormattedError[] } {
  return { errors: [{ message, extensions: { code, requestId } }] };
}

/** A domain error as a GraphQL error outside execution (a refusal graphql-ws sends as an `error` message). */
export function toGraphQLError(error: DomainError): GraphQLError {
  return new GraphQLError(error.message, { extensions: error.extensions });
}
