/**
 * Per-operation SQL statistics for the DEBUG_SQL extension. Drizzle's logger sees every statement (including those
 * inside transactions) before it runs; AsyncLocalStorage ties it to the GraphQL operation that caused it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'drizzle-orm/logger';

export interface SqlStats {
  statements: number;
  startedAt: number;
}

const storage = new AsyncLocalStorage<SqlStats>();

export function withSqlStats<T>(stats: SqlStats, fn: () => T): T {
  return storage.run(stats, fn);
}

export function newSqlStats(): SqlStats {
  return { statements: 0, startedAt: performance.now() };
}

/** Counts only: the statement and its parameters (a password hash on `register`) are never written anywhere. */
export const sqlStatsLogger: Logger = {
  logQuery() {
    const stats = storage.getStore();
    if (stats) stats.statements += 1;
  },
};
