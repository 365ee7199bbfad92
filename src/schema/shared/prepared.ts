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
 * db/sql-stats.ts): they are counted, traced, cancelled and bound by `statement_timeout` alike. A statement is built
 * once for a repository and every operation's view of it, so each is handed the executor it runs on: the operation's
 * database sends it through the operation's client (db/statement-scope.ts).
 */
import { Column, getTableName, is, noopDecoder, SQL, sql, Subquery } from 'drizzle-orm';
import { PgTimestamp, type AnyPgColumn } from 'drizzle-orm/pg-core';
import { parseTimestamptz } from '../../db/timestamps.js';
import { onExecutor, rooted } from '../../db/statement-scope.js';

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

/**
 * The selected fields of a subquery, as `select()` would take them for it: a subquery joined to a table is then
 * selected with some of that table's columns rather than all (`select({ ...fieldsOf(numbered), author: … })`).
 */
export function fieldsOf<T extends { _: { selectedFields: Record<string, unknown> } }>(subquery: T): T['_']['selectedFields'] {
  const fields = subquery as unknown as Record<string, unknown>;
  return Object.fromEntries(Object.keys(subquery._.selectedFields).map((key) => [key, fields[key]])) as T['_']['selectedFields'];
}

/**
 * Built on first use (with its row mapper), then kept: the statement of one repository (on the database, or on one
 * transaction), run on the executor it is asked for (`db`: the database, or one operation's view of it).
 */
export function once<T>(build: () => T): (db: object) => T {
  let built: T | undefined;
  return (db) => onExecutor((built ??= withRowMapper(build())), db);
}

/** Prepared statements by shape, each built on first use (with its row mapper), kept, and run on `db`. */
export class Statements<T> {
  readonly #byShape = new Map<string, T>();

  get(db: object, shape: string, build: () => T): T {
    let statement = this.#byShape.get(shape);
    if (statement === undefined) {
      statement = rooted(withRowMapper(build()), db);
      this.#byShape.set(shape, statement);
    }
    return onExecutor(statement, db);
  }
}

/** A selected field of a Drizzle statement, as `.prepare()` keeps them: where it goes in the row object, and what it is. */
interface SelectedField {
  path: string[];
  field: unknown;
}

interface Decoder {
  mapFromDriverValue(value: unknown): unknown;
}

/** The part of Drizzle's prepared query (both drivers) the row mapper reads and sets. */
interface MappedStatement {
  fields?: SelectedField[];
  joinsNotNullableMap?: Record<string, boolean>;
  customResultMapper?: (rows: unknown[][]) => unknown;
}

/** Drizzle's choice of decoder for a selected field (`SQL.decoder` is internal to Drizzle's types). */
function decoderOf(field: unknown): Decoder {
  const decoderOfSql = (value: unknown) => (value as { decoder: Decoder }).decoder;
  if (is(field, Column)) return field;
  if (is(field, SQL)) return decoderOfSql(field);
  if (is(field, Subquery)) return decoderOfSql((field as unknown as { _: { sql: SQL } })._.sql);
  return decoderOfSql((field as { sql: SQL }).sql);
}

/** A decoder that returns the driver's value as it is (a text, uuid or boolean column; untyped SQL). */
const passesThrough = (decoder: Decoder) => decoder === noopDecoder || decoder.mapFromDriverValue === Column.prototype.mapFromDriverValue;

/** A row's object as the mapper builds it: its keys in select order, each a column (by index) or a nested object. */
interface Shape {
  keys: Map<string, number | Shape>;
}

/**
 * Drizzle's row mapping (`mapResultRow`), worked out once per statement instead of once per cell: the same objects
 * (nested by each field's path, keys in select order), the same decoders, and the same rule for a joined table that
 * matched no row (its object is null when its first column is null and the join may miss). Drizzle re-derives each
 * column's decoder and path for every value it maps, which was a tenth of a nested page's CPU; this maps the array
 * rows both drivers return with a function made when the statement is prepared. Both drivers call a statement's
 * `customResultMapper`, when it has one, in place of `mapResultRow`.
 *
 * The function is generated (`new Function`, as graphql-jit and Fastify's serializer do) so that each row is one
 * object literal of the statement's own shape: assigning the keys one by one in a loop shared by every statement
 * made each store a megamorphic keyed store and each row object a chain of shape transitions. What goes into the
 * source is the fields' keys, as JSON string literals, and column indexes; the values stay in the row array.
 */
export function rowMapper(fields: readonly SelectedField[], joinsNotNullableMap?: Record<string, boolean>) {
  const root: Shape = { keys: new Map() };
  const decoders: Array<(value: unknown) => unknown> = [];
  const decoded = new Map<number, number>();
  fields.forEach(({ path, field }, index) => {
    let shape = root;
    for (const key of path.slice(0, -1)) {
      let next = shape.keys.get(key);
      if (typeof next !== 'object') shape.keys.set(key, (next = { keys: new Map() }));
      shape = next;
    }
    shape.keys.set(path[path.length - 1]!, index);
    const decoder = decoderOf(field);
    if (!passesThrough(decoder)) decoded.set(index, decoders.push(fastDecoder(field) ?? ((value) => decoder.mapFromDriverValue(value))) - 1);
  });
  // Drizzle's null rule, per top-level object of table columns: decided by the object's first column, and only when
  // every column of the object comes from that column's table and the join may find no row.
  const nullWhen = new Map<string, number>();
  if (joinsNotNullableMap) {
    const groups = new Map<string, { index: number; table: string; mixed: boolean }>();
    fields.forEach(({ path, field }, index) => {
      if (path.length !== 2 || !is(field, Column)) return;
      const table = getTableName(field.table);
      const group = groups.get(path[0]!);
      if (!group) groups.set(path[0]!, { index, table, mixed: false });
      else if (group.table !== table) group.mixed = true;
    });
    for (const [key, group] of groups) if (!group.mixed && !joinsNotNullableMap[group.table]) nullWhen.set(key, group.index);
  }
  const cell = (index: number) => {
    const decoder = decoded.get(index);
    return decoder === undefined ? `row[${index}]` : `(row[${index}] === null ? null : d[${decoder}](row[${index}]))`;
  };
  const literal = (shape: Shape, top: boolean): string => {
    const entries = [...shape.keys].map(([key, value]) => {
      if (typeof value === 'number') return `${JSON.stringify(key)}: ${cell(value)}`;
      const nested = literal(value, false);
      const nullIndex = top ? nullWhen.get(key) : undefined;
      return `${JSON.stringify(key)}: ${nullIndex === undefined ? nested : `row[${nullIndex}] === null ? null : ${nested}`}`;
    });
    return `{ ${entries.join(', ')} }`;
  };
  const mapRow = new Function('d', `return function mapRow(row) { return ${literal(root, true)}; };`)(decoders) as (
    row: unknown[],
  ) => Record<string, unknown>;
  return (rows: unknown[][]) => rows.map(mapRow);
}

/**
 * A faster decoder with the same results, where there is one: `timestamp with time zone` columns in `date` mode
 * (every timestamp in OpsHub's tables), whose ISO text `new Date()` would parse through V8's general date parser.
 */
function fastDecoder(field: unknown): ((value: unknown) => unknown) | null {
  if (!is(field, PgTimestamp) || !field.withTimezone || field.mapFromDriverValue !== PgTimestamp.prototype.mapFromDriverValue) return null;
  return (value) => (typeof value === 'string' ? parseTimestamptz(value) : value);
}

/** A statement Drizzle prepared with selected fields gets the row mapper above (anything else is left as it is). */
function withRowMapper<T>(statement: T): T {
  const prepared = statement as MappedStatement;
  if (typeof statement === 'object' && statement !== null && Array.isArray(prepared.fields) && !prepared.customResultMapper) {
    prepared.customResultMapper = rowMapper(prepared.fields, prepared.joinsNotNullableMap);
  }
  return statement;
}

/**
 * `insert … returning *`, prepared per shape (the columns given, in the order given): the columns left out take their
 * defaults as with Drizzle's own insert. An insert's placeholders stand for column values, so Drizzle encodes them by
 * their column itself (unlike a placeholder in a condition, see driverValue).
 */
export class PreparedInserts<Row> {
  readonly #statements = new Statements<Prepared<Row>>();

  constructor(
    private readonly name: string,
    private readonly build: (placeholders: Record<string, ReturnType<typeof sql.placeholder>>) => { prepare(name: string): Prepared<Row> },
  ) {}

  async insert(db: object, values: Record<string, unknown>): Promise<Row> {
    const keys = Object.keys(values).filter((key) => values[key] !== undefined);
    const statement = this.#statements.get(db, keys.join(','), () =>
      this.build(Object.fromEntries(keys.map((key) => [key, sql.placeholder(key)]))).prepare(this.name),
    );
    const [row] = await statement.execute(values);
    return row!;
  }
}

/** A prepared select, as repositories keep it. */
export interface Prepared<Row> {
  execute(placeholders?: Record<string, unknown>): Promise<Row[]>;
}
