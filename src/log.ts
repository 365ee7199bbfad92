/**
 * The logger every layer writes to: pino's, as Fastify creates it per request. Declared here so that code below the
 * transports needs neither Fastify nor a request to log.
 *
 * What never reaches a log line: credentials (passwords, their hashes, access and refresh tokens, the Authorization
 * and Cookie headers, secrets) and the values of SQL statements. A failed statement is logged by whoever catches it,
 * as the error Drizzle wraps around the driver's; both carry the statement's parameters (a password hash on
 * `register`) in their fields and in Drizzle's message, and PostgreSQL quotes rows in `detail`. The `err` serializer
 * drops all of that and keeps the statement text, which has placeholders only. Credentials are censored by key,
 * wherever a caller puts them: pino's redaction list covers fixed paths, and `censored` the same keys at any depth.
 */
import cluster from 'node:cluster';
import { hostname } from 'node:os';
import type { BaseLogger, Bindings, LoggerOptions } from 'pino';
import { SQL_VALUE_FIELDS, withoutSqlValues } from './db/errors.js';

export interface Logger extends Pick<BaseLogger, 'level' | 'info' | 'error' | 'debug' | 'fatal' | 'warn' | 'trace' | 'silent'> {
  child(bindings: Bindings): Logger;
}

const CENSOR = '[redacted]';

/** Keys whose values never reach a log line, compared in lower case. */
const SECRET_KEYS: ReadonlySet<string> = new Set([
  'password',
  'newpassword',
  'currentpassword',
  'passwordhash',
  'password_hash',
  'hash',
  'token',
  'accesstoken',
  'refreshtoken',
  'authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'secret',
  // SQL parameters: drizzle's `params`, postgres.js's `parameters`.
  'params',
  'parameters',
]);

/**
 * pino's redaction list: the secret keys at the top of a line and the request headers that carry credentials. pino
 * redacts paths, not keys: a key at any depth takes a wildcard path per level, and each wildcard path costs about
 * 1.3 µs on every line (64 µs a line for these keys four levels deep, against 6 µs before). `censored` covers the
 * same keys at any depth in one pass over the line, for under 2 µs.
 */
export const REDACTED_PATHS: readonly string[] = [
  ...[...SECRET_KEYS].filter((key) => /^[a-z_]+$/.test(key)),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
];

/** Nesting `censored` looks into; a log line deeper than this is a bug of its own. */
const MAX_DEPTH = 8;

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
};

/**
 * `value` with the value of every secret key replaced, in plain objects and arrays at any depth (errors, requests and
 * other instances go through their serializers). What holds no secret is returned as it is, not copied.
 */
export function censored<T>(value: T, depth = 0): T {
  if (depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item: unknown, index) => {
      const clean = censored(item, depth + 1);
      if (clean !== item) (copy ??= [...value])[index] = clean;
    });
    return (copy ?? value) as T;
  }
  if (!isPlainObject(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = value[key];
    const clean = item !== undefined && SECRET_KEYS.has(key.toLowerCase()) ? CENSOR : censored(item, depth + 1);
    if (clean !== item) (copy ??= { ...value })[key] = clean;
  }
  return (copy ?? value) as T;
}

/** GraphQLError fields that hold the whole document, inline arguments (a password literal) included. */
const DOCUMENT_FIELDS: ReadonlySet<string> = new Set(['source', 'nodes']);

interface ErrorLike {
  message: string;
  name?: unknown;
  stack?: unknown;
  cause?: unknown;
  errors?: unknown;
  code?: unknown;
}

export interface SerializedError {
  type: string;
  message: string;
  stack: string;
  [key: string]: unknown;
}

const isErrorLike = (value: unknown): value is ErrorLike =>
  typeof value === 'object' && value !== null && typeof (value as ErrorLike).message === 'string';

/** The error's own message and stack, without the values of a statement. */
function scrubbed(error: ErrorLike): { message: string; stack: string } {
  const message = withoutSqlValues(error);
  const stack = typeof error.stack === 'string' ? error.stack : '';
  return { message, stack: message === error.message ? stack : stack.replace(error.message, () => message) };
}

/**
 * pino's error serializer, reproduced (type, message and stack with their causes, `aggregateErrors`, the other fields
 * as they are) minus the fields that carry a statement's values or a whole GraphQL document.
 */
export function serializeError(error: unknown, seen: Set<object> = new Set()): SerializedError {
  if (!isErrorLike(error)) return error as SerializedError;
  seen.add(error);
  const own = scrubbed(error);
  let { message, stack } = own;
  for (let cause = error.cause, depth = 0; isErrorLike(cause) && depth < 10 && !seen.has(cause); cause = cause.cause, depth += 1) {
    seen.add(cause);
    const next = scrubbed(cause);
    message += `: ${next.message}`;
    stack += `\ncaused by: ${next.stack}`;
  }
  const constructor = (error as { constructor?: unknown }).constructor;
  const serialized: SerializedError = {
    type: typeof constructor === 'function' ? constructor.name : String(error.name),
    message,
    stack,
  };
  if (Array.isArray(error.errors)) serialized.aggregateErrors = error.errors.map((inner: unknown) => serializeError(inner, seen));
  for (const key in error) {
    if (key in serialized || key === 'cause' || SQL_VALUE_FIELDS.has(key) || DOCUMENT_FIELDS.has(key)) continue;
    const value = (error as unknown as Record<string, unknown>)[key];
    if (SECRET_KEYS.has(key.toLowerCase())) serialized[key] = CENSOR;
    else if (!isErrorLike(value)) serialized[key] = censored(value);
    else if (!seen.has(value)) serialized[key] = serializeError(value, seen);
  }
  return serialized;
}

interface LoggedRequest {
  method?: string;
  url?: unknown;
  headers?: Record<string, string | string[] | undefined>;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number } | null;
}

/**
 * A URL with the names of its query parameters and none of their values: `GET /graphql?query=…&variables=…` carries
 * the operation's arguments, and a client may put a password there even though the mutation is then refused.
 */
export function withoutQueryValues(url: string): string {
  const start = url.indexOf('?');
  if (start < 0) return url;
  const names = [...new Set(new URLSearchParams(url.slice(start + 1)).keys())];
  return `${url.slice(0, start)}?${names.join('&')}`;
}

/** Fastify's request serializer, with `withoutQueryValues` on the URL. */
function serializeRequest(request: LoggedRequest) {
  return {
    method: request.method,
    url: typeof request.url === 'string' ? withoutQueryValues(request.url) : undefined,
    version: request.headers?.['accept-version'] as string | undefined,
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

/** The options of the process's logger (Fastify creates it); `stream` captures the lines (tests) instead of stdout. */
export function loggerOptions(level: string, stream?: { write(line: string): void }) {
  return {
    level,
    // A node:cluster worker (WORKERS > 1) says which one it is on every line; pino's own pid and hostname stay.
    ...(cluster.worker ? { base: { pid: process.pid, hostname: hostname(), worker: cluster.worker.id } } : {}),
    redact: { paths: [...REDACTED_PATHS], censor: CENSOR },
    formatters: { log: censored, bindings: censored },
    serializers: { err: serializeError, req: serializeRequest },
    ...(stream ? { stream } : {}),
  } satisfies LoggerOptions & { stream?: { write(line: string): void } };
}

type LevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** What `boundLogger` needs of the logger it writes through: pino's own. */
export interface RootLogger extends Logger {
  levels: { values: Record<string, number> };
  child(bindings: Bindings, options?: { level?: string }): Logger;
}

/**
 * A logger that writes through `root` with `bindings` merged into each line, instead of a pino child: Fastify makes
 * one logger per request (with the request id) and the context one more per signed-in operation (with the user id),
 * and a pino child serializes its bindings when it is made, whether or not anything is then logged, which costs more
 * than the lines most requests write. The lines are the same fields (`requestId`, `userId`, then the call's own); a
 * call below the level costs nothing. A level more verbose than the root's (a route's `logLevel: 'debug'` under
 * LOG_LEVEL=info) needs pino's own child, which `boundLogger` then returns.
 */
export function boundLogger(root: RootLogger, bindings: Bindings, options: { level?: string } = {}): Logger {
  const values = root.levels.values;
  if (options.level !== undefined && (values[options.level] ?? Infinity) < (values[root.level] ?? Infinity)) {
    return root.child(bindings, options);
  }
  return new BoundLogger(root, bindings, options.level ?? null);
}

class BoundLogger {
  constructor(
    private readonly root: RootLogger,
    private readonly bindings: Bindings,
    private ownLevel: string | null,
  ) {}

  get level(): string {
    return this.ownLevel ?? this.root.level;
  }

  set level(level: string) {
    this.ownLevel = level;
  }

  child(bindings: Bindings, options: { level?: string } = {}): Logger {
    return boundLogger(this.root, { ...this.bindings, ...bindings }, { level: options.level ?? this.ownLevel ?? undefined });
  }

  silent(): void {}

  /** pino's call forms: (object, message?, ...args), (error, message?, ...args) and (message, ...args). */
  private write(level: LevelName, args: unknown[]): void {
    const values = this.root.levels.values;
    if (values[level]! < (values[this.level] ?? Infinity)) return;
    const [first, ...rest] = args;
    const log = this.root[level] as (...call: unknown[]) => void;
    if (first instanceof Error) {
      log.call(this.root, { ...this.bindings, err: first }, ...(rest.length > 0 ? rest : [first.message]));
    } else if (typeof first === 'object' && first !== null) {
      log.call(this.root, { ...this.bindings, ...first }, ...rest);
    } else {
      log.call(this.root, this.bindings, ...args);
    }
  }

  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
}
