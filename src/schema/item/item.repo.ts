import { and, eq, gt, gte, ilike, inArray, lte, sql } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { items, type ItemRow } from '../../db/tables.js';
import { FilteredList, type CompiledFilter, type PageRequest, type SortSpec, SortDirection } from '../shared/connection.js';
import { anyId, once, PreparedInserts } from '../shared/prepared.js';
import { likePattern } from '../shared/validation.js';

export type NewItemRow = typeof items.$inferInsert;
export type ItemChanges = Partial<Omit<NewItemRow, 'id' | 'sku' | 'createdAt'>>;

export interface ItemQuery {
  search?: string | null;
  categories?: readonly string[] | null;
  minPriceCents?: number | null;
  maxPriceCents?: number | null;
  inStock?: boolean | null;
}

export type ItemSortField = 'createdAt' | 'name' | 'priceCents';

export function itemSort(field: ItemSortField, direction: SortDirection): SortSpec<ItemRow> {
  const column = items[field];
  return {
    column,
    id: items.id,
    kind: field === 'createdAt' ? 'date' : field === 'name' ? 'string' : 'number',
    direction,
    valueOf: (row) => row[field],
    idOf: (row) => row.id,
  };
}

/**
 * SQL for the catalog: filters compile to Drizzle expressions, never to strings. The lookups by id and the list's
 * page and count are prepared statements (shared/prepared.ts), one per filter and page shape.
 */
export class ItemRepo {
  constructor(private readonly db: Executor) {}

  private readonly byIds = once(() => this.db.select().from(items).where(anyId(items.id)).prepare('items_by_ids'));
  private readonly list = new FilteredList<ItemRow>(items, 'items');

  /** The same queries inside a transaction. */
  in(tx: Executor): ItemRepo {
    return new ItemRepo(tx);
  }

  private readonly inserts = new PreparedInserts<ItemRow>('insert_item', (placeholders) =>
    this.db
      .insert(items)
      .values(placeholders as unknown as NewItemRow)
      .returning(),
  );

  async insert(values: NewItemRow): Promise<ItemRow> {
    return this.inserts.insert(this.db, values);
  }

  async update(id: string, changes: ItemChanges): Promise<ItemRow | null> {
    const [row] = await this.db
      .update(items)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(items.id, id))
      .returning();
    return row ?? null;
  }

  async delete(id: string): Promise<ItemRow | null> {
    const [row] = await this.db.delete(items).where(eq(items.id, id)).returning();
    return row ?? null;
  }

  async findByIds(ids: readonly string[]): Promise<ItemRow[]> {
    if (ids.length === 0) return [];
    return this.byIds(this.db).execute({ ids });
  }

  async page(query: ItemQuery, sort: SortSpec<ItemRow>, page: PageRequest): Promise<ItemRow[]> {
    return this.list.page(this.db, this.filter(query), sort, page);
  }

  async count(query: ItemQuery): Promise<number> {
    return this.list.count(this.db, this.filter(query));
  }

  async isEmpty(): Promise<boolean> {
    const rows = await this.db.select({ id: items.id }).from(items).limit(1);
    return rows.length === 0;
  }

  /** The filter with placeholders for its values: equal shapes share one prepared statement. */
  private filter(query: ItemQuery): CompiledFilter {
    const search = query.search ? likePattern(query.search) : null;
    // At most one placeholder per category: there are four, however long the list a client sends.
    const categories = query.categories?.length ? [...new Set(query.categories)] : null;
    const min = query.minPriceCents ?? null;
    const max = query.maxPriceCents ?? null;
    const stock = query.inStock ?? null;
    const params: Record<string, unknown> = {};
    if (search !== null) params.search = search;
    categories?.forEach((category, index) => (params[`category${index}`] = category));
    if (min !== null) params.minPriceCents = min;
    if (max !== null) params.maxPriceCents = max;
    return {
      shape: `${search !== null ? 's' : '-'}${categories?.length ?? '-'}${min !== null ? '>' : '-'}${max !== null ? '<' : '-'}${stock === null ? '-' : stock ? '+' : '0'}`,
      where: () =>
        and(
          search !== null ? ilike(items.name, sql.placeholder('search')) : undefined,
          // `in ($1, $2)` rather than `= any($1::category[])`: as a named statement PostgreSQL then keeps one
          // generic plan instead of planning each execution anew (measured: about 90 against 150 µs a statement).
          categories !== null
            ? inArray(
                items.category,
                categories.map((_, index) => sql.placeholder(`category${index}`)),
              )
            : undefined,
          min !== null ? gte(items.priceCents, sql.placeholder('minPriceCents')) : undefined,
          max !== null ? lte(items.priceCents, sql.placeholder('maxPriceCents')) : undefined,
          stock === true ? gt(items.stock, 0) : stock === false ? eq(items.stock, 0) : undefined,
        ),
      params,
    };
  }
}
