/**
 * Relay connections (https://relay.dev/graphql/connections.htm) with keyset cursors.
 *
 * A cursor is the row's sort value plus its id, so a page boundary is a position in the order, not an offset: rows
 * inserted or deleted during a walk never make an existing row repeat or vanish. Pages are `first`/`after` forward or
 * `last`/`before` backward; the default page is 20 rows, the maximum 100.
 */
import { and, asc, count, desc, eq, gt, lt, or, sql, type Placeholder, type SQL } from 'drizzle-orm';
import type { AnyPgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Executor } from '../../db/client.js';
import { ArgsType, Field, Int, ObjectType, registerEnumType, type ClassType } from 'type-graphql';
import { badUserInput } from './errors.js';
import { driverValue, Statements, type Prepared } from './prepared.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/**
 * A connection field whose page without `first`/`last` is not DEFAULT_PAGE_SIZE declares it in this field extension
 * (`@Extensions({ [DEFAULT_PAGE_EXTENSION]: n })`), so the static cost prices what the field returns.
 */
export const DEFAULT_PAGE_EXTENSION = 'defaultPageSize';

export enum SortDirection {
  ASC = 'ASC',
  DESC = 'DESC',
}

registerEnumType(SortDirection, {
  name: 'SortDirection',
  description: 'Order of a sorted list.',
  valuesConfig: {
    ASC: { description: 'Smallest, earliest or alphabetically first value first.' },
    DESC: { description: 'Largest, latest or alphabetically last value first.' },
  },
});

@ArgsType()
export class ConnectionArgs {
  @Field(() => Int, { nullable: true, description: `Return the first n elements (at most ${MAX_PAGE_SIZE}).` })
  first?: number | null;

  @Field(() => String, { nullable: true, description: 'Return the elements after this cursor.' })
  after?: string | null;

  @Field(() => Int, { nullable: true, description: `Return the last n elements (at most ${MAX_PAGE_SIZE}).` })
  last?: number | null;

  @Field(() => String, { nullable: true, description: 'Return the elements before this cursor.' })
  before?: string | null;
}

@ObjectType({ description: 'Where a page sits in its list.' })
export class PageInfo {
  @Field(() => Boolean, { description: 'True when more elements follow this page.' })
  hasNextPage!: boolean;

  @Field(() => Boolean, { description: 'True when elements precede this page.' })
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Cursor of the first element of the page.' })
  startCursor!: string | null;

  @Field(() => String, { nullable: true, description: 'Cursor of the last element of the page.' })
  endCursor!: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  /** A getter, like the cursors in it and in `pageInfo`: encoded only when selected. */
  readonly edges: Edge<T>[];
  nodes: T[];
  pageInfo: PageInfo;
  /** A getter: the count query runs only when the field is selected, and at most once. */
  readonly totalCount: Promise<number>;
}

/** The `XEdge` and `XConnection` object types for a node type. */
export function connectionTypes<T extends object>(nodeType: ClassType<T>, name: string, plural: string) {
  @ObjectType(`${name}Edge`, { description: `An edge in a list of ${plural}.` })
  class EdgeType {
    @Field(() => String, { description: 'Opaque cursor of this edge, for `after` and `before`.' })
    cursor!: string;

    @Field(() => nodeType, { description: `The ${name.toLowerCase()} at this edge.` })
    node!: T;
  }

  @ObjectType(`${name}Connection`, { description: `A page of ${plural}.` })
  class ConnectionType {
    @Field(() => [EdgeType], { description: 'The edges of this page, with their cursors.' })
    edges!: EdgeType[];

    @Field(() => [nodeType], { description: 'The nodes of this page, without cursors.' })
    nodes!: T[];

    @Field(() => PageInfo, { description: 'Pagination information.' })
    pageInfo!: PageInfo;

    @Field(() => Int, { description: 'Number of elements in the whole list, all pages together.' })
    totalCount!: number;
  }

  return { EdgeType, ConnectionType };
}

// ---------------------------------------------------------------------------------------------------------------
// Cursors and keyset queries

export type SortValueKind = 'date' | 'string' | 'number';

/** A sort order: the column, how its values travel in a cursor, and the direction. Ties break on the id. */
export interface SortSpec<Row> {
  column: AnyPgColumn;
  id: AnyPgColumn;
  kind: SortValueKind;
  direction: SortDirection;
  valueOf(row: Row): unknown;
  idOf(row: Row): string;
}

/** Creation time, ties broken by id: the order of most lists (newest first unless told otherwise). */
export function createdAtSort<Row extends { id: string; createdAt: Date }>(
  table: { createdAt: AnyPgColumn; id: AnyPgColumn },
  direction: SortDirection = SortDirection.DESC,
): SortSpec<Row> {
  return {
    column: table.createdAt,
    id: table.id,
    kind: 'date',
    direction,
    valueOf: (row) => row.createdAt,
    idOf: (row) => row.id,
  };
}

interface CursorPosition {
  value: unknown;
  id: string;
}

export interface PageRequest {
  limit: number;
  backward: boolean;
  after: CursorPosition | null;
  before: CursorPosition | null;
}

export function encodeCursor(value: unknown, id: string): string {
  const wire = value instanceof Date ? value.toISOString() : value;
  return Buffer.from(JSON.stringify([wire, id])).toString('base64url');
}

function decodeCursor(cursor: string, kind: SortValueKind, argument: string): CursorPosition {
  const invalid = () => badUserInput(`Invalid cursor in "${argument}"`, { argument });
  if (cursor.length > 1_000) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[1] !== 'string') throw invalid();
  const [raw, id] = parsed as [unknown, string];
  if (!/^[0-9a-f-]{36}$/.test(id)) throw invalid();
  switch (kind) {
    case 'date': {
      const date = typeof raw === 'string' ? new Date(raw) : new Date(Number.NaN);
      if (Number.isNaN(date.getTime())) throw invalid();
      return { value: date, id };
    }
    case 'number':
      if (typeof raw !== 'number' || !Number.isFinite(raw)) throw invalid();
      return { value: raw, id };
    case 'string':
      if (typeof raw !== 'string') throw invalid();
      return { value: raw, id };
  }
}

function pageSize(value: number | null | undefined, argument: string): number | null {
  if (value === null || value === undefined) return null;
  if (value < 0) throw badUserInput(`"${argument}" must not be negative`, { argument });
  if (value > MAX_PAGE_SIZE) {
    throw badUserInput(`"${argument}" must be at most ${MAX_PAGE_SIZE}, got ${value}`, { argument, maximum: MAX_PAGE_SIZE });
  }
  return value;
}

/** Validates `first/after/last/before`; a bad value is BAD_USER_INPUT. */
export function pageRequest(args: ConnectionArgs, kind: SortValueKind): PageRequest {
  const first = pageSize(args.first, 'first');
  const last = pageSize(args.last, 'last');
  if (first !== null && last !== null) {
    throw badUserInput('Pass either "first" or "last", not both', { argument: 'last' });
  }
  return {
    limit: first ?? last ?? DEFAULT_PAGE_SIZE,
    backward: last !== null,
    after: args.after ? decodeCursor(args.after, kind, 'after') : null,
    before: args.before ? decodeCursor(args.before, kind, 'before') : null,
  };
}

function beyond(sort: SortSpec<unknown>, position: CursorPosition | { value: Placeholder; id: Placeholder }, forwardInOrder: boolean): SQL {
  // `forwardInOrder`: the rows that come after `position` in the list's own order.
  const ascending = (sort.direction === SortDirection.ASC) === forwardInOrder;
  const cmp = ascending ? gt : lt;
  return or(cmp(sort.column, position.value), and(eq(sort.column, position.value), cmp(sort.id, position.id)))!;
}

/** The keyset condition for a page: rows after `after` and before `before`. */
export function keysetCondition<Row>(sort: SortSpec<Row>, page: PageRequest): SQL | undefined {
  const spec = sort as SortSpec<unknown>;
  return and(page.after ? beyond(spec, page.after, true) : undefined, page.before ? beyond(spec, page.before, false) : undefined);
}

/**
 * The keyset condition of a prepared page statement: `keysetCondition` with placeholders (`afterValue`, `afterId`,
 * `beforeValue`, `beforeId`) for the cursor's values, which `keysetParams` supplies.
 */
export function keysetPlaceholders<Row>(sort: SortSpec<Row>, page: PageRequest): SQL | undefined {
  const spec = sort as SortSpec<unknown>;
  return and(
    page.after ? beyond(spec, { value: sql.placeholder('afterValue'), id: sql.placeholder('afterId') }, true) : undefined,
    page.before ? beyond(spec, { value: sql.placeholder('beforeValue'), id: sql.placeholder('beforeId') }, false) : undefined,
  );
}

/** The values of a prepared page statement's keyset placeholders, and its `limit` (one row more than the page). */
export function keysetParams<Row>(sort: SortSpec<Row>, page: PageRequest): Record<string, unknown> {
  const params: Record<string, unknown> = { limit: page.limit + 1 };
  if (page.after) Object.assign(params, { afterValue: driverValue(sort.column, page.after.value), afterId: page.after.id });
  if (page.before) Object.assign(params, { beforeValue: driverValue(sort.column, page.before.value), beforeId: page.before.id });
  return params;
}

/** What a page statement's text depends on besides its values: the sort, the direction of paging, the cursors set. */
export function pageShape<Row>(sort: SortSpec<Row>, page: PageRequest): string {
  return `${sort.column.name} ${sort.direction} ${page.backward ? 'last' : 'first'}${page.after ? ' after' : ''}${page.before ? ' before' : ''}`;
}

/** ORDER BY for a page: the list's order, reversed when paging backward (the rows are reversed back afterwards). */
export function keysetOrder<Row>(sort: SortSpec<Row>, page: PageRequest): SQL[] {
  const ascending = (sort.direction === SortDirection.ASC) !== page.backward;
  const dir = ascending ? asc : desc;
  return [dir(sort.column), dir(sort.id)];
}

/** A filter compiled for a prepared statement: its shape (which filters are set), its condition and its values. */
export interface CompiledFilter {
  shape: string;
  where: () => SQL | undefined;
  params: Record<string, unknown>;
}

/**
 * The page and count statements of a filtered list of one table (`items`, `tasks`): prepared once per filter and
 * page shape, as `<name>_page` and `<name>_count`, and run on the database they are asked on.
 */
export class FilteredList<Row> {
  readonly #pages = new Statements<Prepared<Row>>();
  readonly #counts = new Statements<Prepared<{ value: number }>>();

  constructor(
    private readonly table: PgTable,
    private readonly name: string,
  ) {}

  page(db: Executor, filter: CompiledFilter, sort: SortSpec<Row>, page: PageRequest): Promise<Row[]> {
    const statement = this.#pages.get(
      db,
      `${filter.shape} ${pageShape(sort, page)}`,
      () =>
        db
          .select()
          .from(this.table)
          .where(and(filter.where(), keysetPlaceholders(sort, page)))
          .orderBy(...keysetOrder(sort, page))
          .limit(sql.placeholder('limit'))
          .prepare(`${this.name}_page`) as unknown as Prepared<Row>,
    );
    return statement.execute({ ...filter.params, ...keysetParams(sort, page) });
  }

  async count(db: Executor, filter: CompiledFilter): Promise<number> {
    const statement = this.#counts.get(db, filter.shape, () =>
      db.select({ value: count() }).from(this.table).where(filter.where()).prepare(`${this.name}_count`),
    );
    const [row] = await statement.execute(filter.params);
    return row?.value ?? 0;
  }
}

/**
 * Turns the rows of a keyset query (fetched with LIMIT page.limit + 1, in keysetOrder) into a connection.
 * `hasPreviousPage` with `after` (and `hasNextPage` with `before`) is true: the cursor's own row lies on that side,
 * which the Relay specification allows servers to report without another query.
 */
export function toConnection<Row, T>(
  rows: Row[],
  page: PageRequest,
  sort: SortSpec<Row>,
  toNode: (row: Row) => T,
  count: () => Promise<number>,
): Connection<T> {
  const more = rows.length > page.limit;
  const slice = more ? rows.slice(0, page.limit) : rows;
  if (page.backward) slice.reverse();
  return new PageConnection(slice, slice.map(toNode), page, more, sort, count);
}

/**
 * A page as a connection. Cursors are encoded only when selected (a page read through `nodes` needs none), each at
 * most once; `edges`, the page's cursors and `totalCount` are getters for that reason. They are the class's, not
 * closures made for every page: a nested list makes one connection per parent.
 */
class PageConnection<Row, T> implements Connection<T> {
  readonly pageInfo: PageInfo;
  private edgeList: Edge<T>[] | undefined;
  private counted: Promise<number> | undefined;
  private readonly cursors: Array<string | undefined> = [];

  constructor(
    private readonly rows: Row[],
    readonly nodes: T[],
    page: PageRequest,
    more: boolean,
    private readonly sort: SortSpec<Row>,
    private readonly count: () => Promise<number>,
  ) {
    this.pageInfo = new PageCursors(this, page.backward ? page.before !== null : more, page.backward ? more : page.after !== null);
  }

  cursorAt(index: number): string {
    return (this.cursors[index] ??= encodeCursor(this.sort.valueOf(this.rows[index]!), this.sort.idOf(this.rows[index]!)));
  }

  get edges(): Edge<T>[] {
    return (this.edgeList ??= this.nodes.map((node, index) => new PageEdge(this, node, index)));
  }

  get totalCount(): Promise<number> {
    return (this.counted ??= this.count());
  }
}

class PageEdge<T> implements Edge<T> {
  constructor(
    private readonly connection: PageConnection<unknown, T>,
    readonly node: T,
    private readonly index: number,
  ) {}

  get cursor(): string {
    return this.connection.cursorAt(this.index);
  }
}

class PageCursors implements PageInfo {
  constructor(
    private readonly connection: PageConnection<unknown, unknown>,
    readonly hasNextPage: boolean,
    readonly hasPreviousPage: boolean,
  ) {}

  get startCursor(): string | null {
    return this.connection.nodes.length > 0 ? this.connection.cursorAt(0) : null;
  }

  get endCursor(): string | null {
    const { length } = this.connection.nodes;
    return length > 0 ? this.connection.cursorAt(length - 1) : null;
  }
}
