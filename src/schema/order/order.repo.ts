import { and, asc, count, eq, gt, gte, lt, ne, sql } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { lockStreams } from '../../db/streams.js';
import { items, orders, type ItemRow, type OrderRow } from '../../db/tables.js';
import { createdAtSort, keysetOrder, keysetParams, keysetPlaceholders, pageShape, type PageRequest } from '../shared/connection.js';
import { anyId, once, Statements, type Prepared } from '../shared/prepared.js';
import { streamLockKey, type StreamRef, type StreamStore } from '../shared/stream-cursor.js';

export type NewOrderRow = Omit<typeof orders.$inferInsert, 'seq'>;

/** The `orderPlaced` stream: every order, in `seq` order. */
export const ORDER_STREAM: StreamRef = { kind: 'orders', id: '' };

/** Orders are listed newest first; ties break on the id. */
export const orderSort = createdAtSort<OrderRow>(orders);

/**
 * SQL for orders and the stock they reserve. Accepts the database or a transaction. The lookups by id and the list's
 * page and count are prepared statements (shared/prepared.ts).
 */
export class OrderRepo {
  constructor(private readonly db: Executor) {}

  private readonly byIds = once(() => this.db.select().from(orders).where(anyId(orders.id)).prepare('orders_by_ids'));
  private readonly pages = new Statements<Prepared<OrderRow>>();
  private readonly counts = new Statements<Prepared<{ value: number }>>();

  /** The same queries inside a transaction. */
  in(tx: Executor): OrderRepo {
    return new OrderRepo(tx);
  }

  /**
   * Takes `quantity` units off the item's stock if it has that many, in one conditional UPDATE. Two concurrent orders
   * for the last unit both reach this statement; PostgreSQL locks the row for the first, and re-checks
   * `stock >= quantity` for the second once the first commits, so the second updates nothing. Null: not enough stock
   * (or no such item).
   */
  async takeStock(itemId: string, quantity: number): Promise<ItemRow | null> {
    const [row] = await this.db
      .update(items)
      .set({ stock: sql`${items.stock} - ${quantity}`, updatedAt: new Date() })
      .where(and(eq(items.id, itemId), gte(items.stock, quantity)))
      .returning();
    return row ?? null;
  }

  async returnStock(itemId: string, quantity: number): Promise<ItemRow | null> {
    const [row] = await this.db
      .update(items)
      .set({ stock: sql`${items.stock} + ${quantity}`, updatedAt: new Date() })
      .where(eq(items.id, itemId))
      .returning();
    return row ?? null;
  }

  async itemExists(itemId: string): Promise<boolean> {
    const rows = await this.db.select({ id: items.id }).from(items).where(eq(items.id, itemId));
    return rows.length > 0;
  }

  /**
   * Stores the order in the `orderPlaced` stream (src/db/streams.ts), inside the caller's transaction; its lock is held
   * to the commit, so call this last. Returns the row and the `seq` of the order placed before it.
   */
  async insert(values: NewOrderRow): Promise<{ row: OrderRow; prev: number }> {
    await lockStreams(this.db, [streamLockKey(ORDER_STREAM)]);
    const prev = await this.streamHead();
    const [row] = await this.db.insert(orders).values(values).returning();
    return { row: row!, prev };
  }

  /** The last order's `seq`; 0 without orders. */
  async streamHead(): Promise<number> {
    const [row] = await this.db.select({ value: sql<string>`coalesce(max(${orders.seq}), 0)` }).from(orders);
    return Number(row?.value ?? 0);
  }

  /** Orders with `after < seq < before` (no upper bound when null), in `seq` order, at most `limit`. */
  async streamPage(after: number, before: number | null, limit: number): Promise<OrderRow[]> {
    return this.db
      .select()
      .from(orders)
      .where(and(gt(orders.seq, after), before === null ? undefined : lt(orders.seq, before)))
      .orderBy(asc(orders.seq))
      .limit(limit);
  }

  /** The `orderPlaced` stream as a resume check reads it. */
  streamStore(): StreamStore {
    return {
      storedAt: async (seq) => {
        const [row] = await this.db.select({ createdAt: orders.createdAt }).from(orders).where(eq(orders.seq, seq));
        return row?.createdAt ?? null;
      },
      firstAfter: async (seq) => (await this.streamPage(seq, null, 1))[0]?.createdAt ?? null,
      countAfter: async (seq, limit) => (await this.db.select({ id: orders.id }).from(orders).where(gt(orders.seq, seq)).limit(limit)).length,
    };
  }

  async findByIds(ids: readonly string[]): Promise<OrderRow[]> {
    if (ids.length === 0) return [];
    return this.byIds(this.db).execute({ ids });
  }

  /** The order, locked until the transaction ends: status changes of one order run one after the other. */
  async findForUpdate(id: string): Promise<OrderRow | null> {
    const [row] = await this.db.select().from(orders).where(eq(orders.id, id)).for('update');
    return row ?? null;
  }

  async setStatus(id: string, status: OrderRow['status']): Promise<OrderRow> {
    const [row] = await this.db.update(orders).set({ status, updatedAt: new Date() }).where(eq(orders.id, id)).returning();
    return row!;
  }

  /** A page of orders: everyone's, or one user's when `placedBy` is given. */
  async page(placedBy: string | null, page: PageRequest): Promise<OrderRow[]> {
    const statement = this.pages.get(this.db, `${placedBy ? 'by' : 'all'} ${pageShape(orderSort, page)}`, () =>
      this.db
        .select()
        .from(orders)
        .where(and(placedBy ? eq(orders.placedBy, sql.placeholder('placedBy')) : undefined, keysetPlaceholders(orderSort, page)))
        .orderBy(...keysetOrder(orderSort, page))
        .limit(sql.placeholder('limit'))
        .prepare('orders_page'),
    );
    return statement.execute({ ...(placedBy ? { placedBy } : {}), ...keysetParams(orderSort, page) });
  }

  async count(placedBy: string | null): Promise<number> {
    const statement = this.counts.get(this.db, placedBy ? 'by' : 'all', () =>
      this.db
        .select({ value: count() })
        .from(orders)
        .where(placedBy ? eq(orders.placedBy, sql.placeholder('placedBy')) : undefined)
        .prepare('orders_count'),
    );
    const [row] = await statement.execute(placedBy ? { placedBy } : {});
    return row?.value ?? 0;
  }

  /**
   * Orders placed since `since` (for dashboards): how many, and the revenue of those not cancelled, in cents.
   * One statement.
   */
  async statsSince(since: Date): Promise<{ count: number; revenueCents: number }> {
    const [row] = await this.db
      .select({
        count: count(),
        revenueCents: sql<string>`coalesce(sum(${orders.totalCents}) filter (where ${ne(orders.status, 'CANCELLED')}), 0)`,
      })
      .from(orders)
      .where(gte(orders.createdAt, since));
    return { count: Number(row?.count ?? 0), revenueCents: Number(row?.revenueCents ?? 0) };
  }
  /** Orders (not cancelled) per UTC day and item category in [from, to) (the SALES_REPORT job). */
  async salesByDayAndCategory(from: Date, to: Date) {
    const day = sql<string>`to_char(${orders.createdAt} at time zone 'UTC', 'YYYY-MM-DD')`;
    const rows = await this.db
      .select({
        day,
        category: items.category,
        orders: count(),
        units: sql<string>`sum(${orders.quantity})`,
        revenueCents: sql<string>`sum(${orders.totalCents})`,
      })
      .from(orders)
      .innerJoin(items, eq(items.id, orders.itemId))
      .where(and(gte(orders.createdAt, from), lt(orders.createdAt, to), ne(orders.status, 'CANCELLED')))
      .groupBy(day, items.category)
      .orderBy(day, items.category);
    return rows.map((row) => ({
      day: row.day,
      category: row.category,
      orders: Number(row.orders),
      units: Number(row.units),
      revenueCents: Number(row.revenueCents),
    }));
  }
}
