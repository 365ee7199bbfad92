/**
 * What an operation's SQL statements cost, measured where they run: both database clients are wrapped (postgres.js
 * by `trackStatements` in cancellation.ts, PGlite by `observePglite` here), so every statement — DataLoader batches,
 * statements inside transactions, those of a job — passes through `observeStatement` as it starts and when it settles.
 *
 * - Per operation (its statement scope, statement-scope.ts, made by the operation core): the number of statements
 *   and the time at least one of them was running (overlapping statements count once, so the figure never exceeds
 *   the operation's own time). `Server-Timing: sql` and `extensions.sql` (DEBUG_SQL) report it.
 * - With tracing on: a client span per statement, child of the active span (the operation's, or a job's), named by
 *   the statement's verb, with the statement text as Drizzle built it — placeholders, never the parameters, so a
 *   password hash on `register` reaches no exporter.
 */
import { SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { SqlStats } from './statement-scope.js';

export type { SqlStats };

export function newSqlStats(): SqlStats {
  return { statements: 0, busyMs: 0, active: 0, busySince: 0 };
}

/** The statement time so far, in ms rounded to hundredths. */
export function sqlTimeMs(stats: SqlStats): number {
  const running = stats.active > 0 ? performance.now() - stats.busySince : 0;
  return Math.round((stats.busyMs + running) * 100) / 100;
}

/** The tracer for statement spans, or null when tracing is off (DatabaseOptions.tracing). */
export function statementTracer(on: boolean): Tracer | null {
  return on ? trace.getTracer('opshub.db') : null;
}

/** The statement's verb (`SELECT`, `INSERT`, `BEGIN` …): the span name, low-cardinality by construction. */
function verb(text: string): string {
  const match = /^\s*(?:with\b[\s\S]*?\)\s*)?([a-z]+)/i.exec(text);
  return match ? match[1]!.toUpperCase() : 'SQL';
}

/** Called as a statement starts (counted in `stats`, its operation's); the returned function when it settles. */
export function observeStatement(text: unknown, tracer: Tracer | null, stats?: SqlStats): ((error?: unknown) => void) | null {
  if (!stats && !tracer) return null;
  if (stats) {
    stats.statements += 1;
    if (stats.active++ === 0) stats.busySince = performance.now();
  }
  const query = typeof text === 'string' ? text : '';
  // Only inside a traced operation or job: the runner's polls and other background statements start no trace.
  const span =
    tracer && trace.getActiveSpan()?.isRecording()
      ? tracer.startSpan(verb(query), {
          kind: SpanKind.CLIENT,
          attributes: { 'db.system.name': 'postgresql', 'db.query.text': query.length > 2_000 ? `${query.slice(0, 2_000)}…` : query },
        })
      : undefined;
  let settled = false;
  return (error) => {
    if (settled) return;
    settled = true;
    if (stats && --stats.active === 0) stats.busyMs += performance.now() - stats.busySince;
    if (span) {
      if (error !== undefined) {
        const code = (error as { code?: unknown }).code;
        span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : 'error' });
      }
      span.end();
    }
  };
}

/** Observes a promise-like statement until it settles, without changing what its caller sees. */
export function observeSettled<T extends PromiseLike<unknown>>(statement: T, done: ((error?: unknown) => void) | null): T {
  // The base `then`: a postgres.js query sends itself from its own `then`, and Drizzle may still call `.values()`.
  if (done)
    Promise.prototype.then.call(
      statement,
      () => done(),
      (error: unknown) => done(error ?? new Error('failed')),
    );
  return statement;
}

/** The part of a PGlite client (or its transaction) that Drizzle calls. */
interface PgliteLike {
  query(...args: unknown[]): Promise<unknown>;
  exec?(...args: unknown[]): Promise<unknown>;
  transaction?(callback: (tx: PgliteLike) => Promise<unknown>): Promise<unknown>;
}

/**
 * A PGlite client (or transaction) whose `query` and `exec` are observed (counted in `stats`, an operation's), and
 * whose transactions hand their callback an observed transaction. PGlite keeps its state in private fields, so every
 * method runs on the real object.
 */
export function observePglite<T extends object>(client: T, tracer: Tracer | null, stats?: SqlStats): T {
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (property === 'query' || property === 'exec') {
        return (...args: unknown[]) => {
          const done = observeStatement(args[0], tracer, stats);
          return observeSettled(Reflect.apply(method, target, args) as Promise<unknown>, done);
        };
      }
      if (property === 'transaction') {
        return (callback: (tx: PgliteLike) => Promise<unknown>) =>
          Reflect.apply(method, target, [(tx: PgliteLike) => callback(observePglite(tx, tracer, stats))]);
      }
      return method.bind(target);
    },
  });
}
