/**
 * Statements of an operation whose client went away are cancelled, on PostgreSQL.
 *
 * Threat: a client sends an expensive query (a long `search`, a wide filter) and hangs up at once, again and again.
 * Without cancellation each abandoned statement keeps a pooled connection until it finishes or hits
 * DB_STATEMENT_TIMEOUT_MS, so a dozen of them starve the pool and every other request (`/readyz` included) waits.
 *
 * The transports hand the operation core an AbortSignal that fires when the client disconnects before its answer;
 * the operation's statement scope (statement-scope.ts, shared with the statistics of sql-stats.ts) carries it, and
 * the postgres.js client of the operation's database is wrapped by `trackStatements` with that scope, so every
 * statement the operation starts — DataLoader batches and statements inside transactions included — is recorded with
 * it. `withCancellation` listens for the abort while the operation runs. On abort:
 *
 * - a statement that is running gets a PostgreSQL cancel request (postgres.js sends it on a separate connection, as
 *   `pg_cancel_backend` would); one still waiting for a pooled connection is taken out of the queue;
 * - a statement the operation starts afterwards is refused before it reaches the database;
 * - a transaction whose statement was cancelled is rolled back by postgres.js (`begin` answers an error with
 *   ROLLBACK), so a mutation cancelled half-way leaves nothing half-written.
 *
 * A cancel request names a backend, not a statement: one that arrives just after the statement finished could hit the
 * next statement that backend runs. Only statements that have not settled are cancelled, which keeps that window to
 * the time the request takes to reach PostgreSQL. PGlite runs statements synchronously in this process; nothing can
 * interrupt them, and its client is not wrapped.
 */
import type { Tracer } from '@opentelemetry/api';
import { QUERY_CANCELED } from './errors.js';
import { observeSettled, observeStatement } from './sql-stats.js';
import type { OperationStatements, StatementScope } from './statement-scope.js';

/** The part of a postgres.js PendingQuery this module uses. */
interface PendingStatement extends Promise<unknown> {
  cancel(): void;
}

/** What cancellation needs of a signal: an AbortSignal is one, and so is a ClientGone. */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A signal that fires once, when a request's client goes away: the CancelSignal of one HTTP request. An
 * AbortController would do, but it is an EventTarget, and making one for every request costs more than the rest of
 * this module (about 5 µs on Node 20, against a flag and an array).
 */
export class ClientGone implements CancelSignal {
  aborted = false;
  #listeners: Array<() => void> = [];

  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.aborted) this.#listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const index = this.#listeners.indexOf(listener);
    if (index >= 0) this.#listeners.splice(index, 1);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) listener();
  }
}

/** What a statement refused after the client went away rejects with: a query_canceled, as if PostgreSQL had. */
export class StatementCancelledError extends Error {
  readonly code = QUERY_CANCELED;

  constructor() {
    super('Statement not run: the operation was cancelled because its client went away');
    this.name = 'StatementCancelledError';
  }
}

/**
 * postgres.js's `cancel()` discards the promise of its cancel request, which rejects when PostgreSQL cannot be
 * reached; unhandled, that rejection would end the process. Its canceller (postgres 3.4, src/query.js) returns it.
 */
function cancel(statement: PendingStatement): void {
  const query = statement as PendingStatement & { canceller?: ((query: unknown) => Promise<void> | undefined) | null };
  if (typeof query.canceller !== 'function') return statement.cancel();
  const request = query.canceller(query);
  query.canceller = null;
  request?.catch(() => {});
}

/** What an operation's scope holds for its cancellation: the signal, and the statements started and not settled. */
export type OperationCancellation = OperationStatements & { signal: CancelSignal };

export function operationStatements(signal: CancelSignal): OperationCancellation {
  return { signal, pending: new Set() };
}

/** Runs `run` (one operation); when its signal aborts, the statements it started are cancelled. */
export async function withCancellation<T>(operation: OperationCancellation | undefined, run: () => T | Promise<T>): Promise<T> {
  if (!operation) return run();
  const abort = () => {
    for (const statement of operation.pending) cancel(statement as PendingStatement);
    operation.pending.clear();
  };
  operation.signal.addEventListener('abort', abort, { once: true });
  try {
    return await run();
  } finally {
    operation.signal.removeEventListener('abort', abort);
  }
}

function refused(): Promise<never> & { values(): Promise<never> } {
  const rejection = Promise.reject(new StatementCancelledError());
  // Drizzle awaits it at once; this only keeps the rejection from counting as unhandled in between.
  rejection.catch(() => {});
  return Object.assign(rejection, { values: () => rejection });
}

function track(statement: PendingStatement, operation: OperationStatements | undefined): PendingStatement {
  if (!operation) return statement;
  operation.pending.add(statement);
  const settled = () => void operation.pending.delete(statement);
  // The base `then`: postgres.js's own `then` sends the query, and Drizzle may still add `.values()` before it does.
  Promise.prototype.then.call(statement, settled, settled);
  return statement;
}

/**
 * The postgres.js client as Drizzle should see it: `unsafe` (every statement Drizzle runs), `begin` and `savepoint`
 * (whose callbacks get a client wrapped the same way) record their statements with `scope` (an operation's, or none
 * for the process's own client), and each statement is observed for the operation's SQL time and, with tracing, a
 * span (sql-stats.ts).
 */
export function trackStatements<T extends object>(sql: T, tracer: Tracer | null, scope: StatementScope = {}): T {
  return new Proxy(sql, new StatementTracker(tracer, scope));
}

/** The proxy handler of `trackStatements`: one per wrapped client, each wrapped method made once, on first use. */
class StatementTracker<T extends object> implements ProxyHandler<T> {
  #unsafe: ((...args: unknown[]) => unknown) | undefined;
  #begin: ((...args: unknown[]) => unknown) | undefined;
  #savepoint: ((...args: unknown[]) => unknown) | undefined;

  constructor(
    private readonly tracer: Tracer | null,
    private readonly scope: StatementScope,
  ) {}

  get(target: T, property: PropertyKey, receiver: unknown): unknown {
    const value: unknown = Reflect.get(target, property, receiver);
    if (typeof value !== 'function') return value;
    const method = value as (...args: unknown[]) => unknown;
    if (property === 'unsafe') return (this.#unsafe ??= this.unsafe(target, method));
    if (property === 'begin') return (this.#begin ??= this.transaction(target, method));
    if (property === 'savepoint') return (this.#savepoint ??= this.transaction(target, method));
    return value;
  }

  private unsafe(target: T, method: (...args: unknown[]) => unknown) {
    const { tracer, scope } = this;
    const { stats, cancellation } = scope;
    return (...args: unknown[]) => {
      if (cancellation?.signal.aborted) return refused();
      const done = observeStatement(args[0], tracer, stats);
      return track(observeSettled(method.apply(target, args) as PendingStatement, done), cancellation);
    };
  }

  private transaction(target: T, method: (...args: unknown[]) => unknown) {
    const { tracer, scope } = this;
    return (...args: unknown[]) => {
      if (scope.cancellation?.signal.aborted) return refused();
      const callback = args.pop() as (inner: object) => unknown;
      return method.apply(target, [...args, (inner: object) => callback(trackStatements(inner, tracer, scope))]);
    };
  }
}
