/** PostgreSQL error codes we act on (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';
const RESTRICT_VIOLATION = '23001'; // ON DELETE RESTRICT
/** statement_timeout, a cancel request (the client went away, src/db/cancellation.ts), or postgres.js's own cancel. */
export const QUERY_CANCELED = '57014';

interface PgErrorLike {
  code?: unknown;
  constraint?: unknown;
  constraint_name?: unknown;
  cause?: unknown;
}

/** Drizzle wraps driver errors; postgres.js and PGlite name the constraint differently. */
function pgError(error: unknown): PgErrorLike | null {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth += 1) {
    const candidate = current as PgErrorLike;
    if (typeof candidate.code === 'string' && /^[0-9A-Z]{5}$/.test(candidate.code)) return candidate;
    current = candidate.cause;
  }
  return null;
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const pg = pgError(error);
  if (!pg || pg.code !== UNIQUE_VIOLATION) return false;
  return constraint === undefined || (pg.constraint ?? pg.constraint_name) === constraint;
}

/** A row still referenced elsewhere (e.g. an item with orders) cannot be deleted. */
export function isForeignKeyViolation(error: unknown): boolean {
  const code = pgError(error)?.code;
  return code === FOREIGN_KEY_VIOLATION || code === RESTRICT_VIOLATION;
}

/**
 * PostgreSQL cancelled the statement: it ran past DB_STATEMENT_TIMEOUT_MS, or the operation was cancelled because its
 * client went away. Inside a transaction the transaction has been rolled back.
 */
export function isQueryCanceled(error: unknown): boolean {
  return pgError(error)?.code === QUERY_CANCELED;
}

/**
 * Fields of driver errors that carry the values of a statement rather than its text: drizzle's `params`, postgres.js's
 * `parameters`, `args` and `types`, PGlite's `params` and `queryOptions`, and PostgreSQL's `detail` and `where`, which
 * quote rows and keys ("Key (email)=(…) already exists", "Failing row contains (…)" with a password hash). Logs drop
 * them; the statement text (`query`) has placeholders only and may stay.
 */
export const SQL_VALUE_FIELDS: ReadonlySet<string> = new Set([
  'params',
  'parameters',
  'args',
  'types',
  'queryOptions',
  'detail',
  'where',
  'internalQuery',
  'internal_query',
]);

/** Drizzle's DrizzleQueryError message is `Failed query: <sql>\nparams: <values>`: the values part goes. */
const DRIZZLE_PARAMS = /\nparams: [\s\S]*$/;
/** Data exceptions (class 22) quote the offending value: `invalid input syntax for type uuid: "<value>"`. */
const DATA_EXCEPTION = /^22[0-9A-Z]{3}$/;
const QUOTED = /"(?:[^"]|"")*"/g;

/** An error's message without the statement's values (see SQL_VALUE_FIELDS). */
export function withoutSqlValues(error: { message: string; code?: unknown }): string {
  const message = error.message.replace(DRIZZLE_PARAMS, '');
  return typeof error.code === 'string' && DATA_EXCEPTION.test(error.code) ? message.replace(QUOTED, '"…"') : message;
}
