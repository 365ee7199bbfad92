/**
 * The operation a SQL statement belongs to, as the wrapped database clients see it when the statement starts: its
 * statistics (sql-stats.ts) and its cancellation (cancellation.ts).
 *
 * Both live in one AsyncLocalStorage. On Node 20 every enabled storage adds its own work to a hook that runs for every
 * promise the process creates, whoever creates it; two storages cost about 1.7 times one. Entering a scope inside
 * another keeps what the outer one set.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** What an operation's statements cost so far (sql-stats.ts measures it). */
export interface SqlStats {
  statements: number;
  /** Time with at least one statement running, in ms (a statement still running at read time counts up to now). */
  busyMs: number;
  /** Statements started and not settled. */
  active: number;
  /** When `active` last went from 0 to 1. */
  busySince: number;
}

/** What cancellation keeps of an operation (cancellation.ts). */
export interface OperationStatements {
  signal: { readonly aborted: boolean };
  /** Statements started and not yet settled. */
  pending: Set<{ cancel(): void }>;
}

export interface StatementScope {
  stats?: SqlStats;
  cancellation?: OperationStatements;
}

const storage = new AsyncLocalStorage<StatementScope>();

/** Runs `fn` with `scope` added to the current one. */
export function withStatementScope<T>(scope: StatementScope, fn: () => T): T {
  const outer = storage.getStore();
  return storage.run(outer ? { ...outer, ...scope } : scope, fn);
}

/** The scope of the statement starting now, if it belongs to an operation. */
export function statementScope(): StatementScope | undefined {
  return storage.getStore();
}
