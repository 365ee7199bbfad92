import { and, count, eq, gt, gte, ilike, inArray, lte, type SQL } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { items, type ItemRow } from '../../db/tables.js';
import { keysetCondition, keysetOrder, type PageRequest, type SortSpec, SortDirection } from '../shared/connection.js';
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

/** SQL for the catalog: filters compile to Drizzle expressions, never to strings. */
export class ItemRepo {
  constructor(private readonly db: Executor) {}

  /** The same queries inside a transaction. */
  in(tx: Executor): ItemRepo {
    return new ItemRepo(tx);
  }

  async insert(values: NewItemRow): Promise<ItemRow> {
    const [row] = await this.db.insert(items).values(values).returning();
    return row!;
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
    return this.db
      .select()
      .from(items)
      .where(inArray(items.id, [...ids]));
  }

  async page(query: ItemQuery, sort: SortSpec<ItemRow>, page: PageRequest): Promise<ItemRow[]> {
    return this.db
      .select()
      .from(items)
      .where(and(this.where(query), keysetCondition(sort, page)))
      .orderBy(...keysetOrder(sort, page))
      .limit(page.limit + 1);
  }

  async count(query: ItemQuery): Promise<number> {
    const [row] = await this.db.select({ value: count() }).from(items).where(this.where(query));
    return row?.value ?? 0;
  }

  async isEmpty(): Promise<boolean> {
    const rows = await this.db.select({ id: items.id }).from(items).limit(1);
    return rows.length === 0;
  }

  private where(query: ItemQuery): SQL | undefined {
    return and(
      query.search ? ilike(items.name, likePattern(query.search)) : undefined,
      query.categories?.length ? inArray(items.category, query.categories as ItemRow['category'][]) : undefined,
      query.minPriceCents != null ? gte(items.priceCents, query.minPriceCents) : undefined,
      query.maxPriceCents != null ? lte(items.priceCents, query.maxPriceCents) : undefined,
      query.inStock === true ? gt(items.stock, 0) : query.inStock === false ? eq(items.stock, 0) : undefined,
    );
  }
}
