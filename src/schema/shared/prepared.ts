/**
 * Prepared statements for the hot paths.
 *
 * Building a query with Drizzle on every call costs CPU in this process, and a statement sent unnamed is parsed and
 * planned again by PostgreSQL each time. A statement prepared here is built once (its SQL text and row mapping kept by
 * Drizzle's `.prepare()`) with `sql.placeholder` in place of every value; on PostgreSQL, postgres.js then prepares it
 * as a named statement once per pooled connection and afterwards only binds and executes it. Statements whose shape
 * varies (which filters are set, the sort, whether a cursor bounds the page) are kept per shape in a `Statements`
 * cache: the shapes are a small fixed set, so the cache stays small.
 *
 * Prepared statements run through the same wrapped clients as every other statement (db/cancellation.ts,
 * db/sql-stats.ts): they are counted, traced, cancelled and bound by `statement_timeout` alike.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';

/**
 * `column = any($name::type[])`: one array parameter, so every number of keys shares one statement (and one plan),
 * where `in ($1, $2, …)` would make one statement per batch size.
 */
export function anyOf(column: AnyPgColumn, name: string, type: string): SQL {
  return sql`${column} = any(${sql.placeholder(name)}::${sql.raw(type)}[])`;
}

/** `column = any($ids::uuid[])`: the by-id lookups of the loaders. */
export function anyId(column: AnyPgColumn, name = 'ids'): SQL {
  return anyOf(column, name, 'uuid');
}

/**
 * A placeholder value as the column stores it. Drizzle encodes literal values with their column (a Date becomes an
 * ISO string for a timestamp), but hands a placeholder's value to the driver as it is: encode it here.
 */
export function driverValue(column: AnyPgColumn, value: unknown): unknown {
  return value === null || value === undefined ? value : column.mapToDriverValue(value);
}

/** Built on first use, then kept: the statement of one executor (the database, or one transaction). */
export function once<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => (built ??= build());
}

/** Prepared statements by shape, each built on first use and kept. */
export class Statements<T> {
  readonly #byShape = new Map<string, T>();

  get(shape: string, build: () => T): T {
    let statement = this.#byShape.get(shape);
    if (statement === undefined) {
      statement = build();
      this.#byShape.set(shape, statement);
    }
    return statement;
  }
}

/** A prepared select, as repositories keep it. */
export interface Prepared<Row> {
  execute(placeholders?: Record<string, unknown>): Promise<Row[]>;
}
