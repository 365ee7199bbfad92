import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, pgEnum, pgTable, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core';
import { items, timestamptz } from './items.js';
import { users } from './users.js';

export const orderStatusEnum = pgEnum('order_status', ['PENDING', 'PAID', 'SHIPPED', 'CANCELLED']);

/**
 * Orders of catalog items. Money is stored in cents: the unit price at the time of the order, the discount applied
 * and the total the server computed from them (a client never sends a total). `seq` is the order of the
 * `orderPlaced` stream, assigned while the stream's lock is held (see messages.seq).
 */
export const orders = pgTable(
  'orders',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    // RESTRICT: an item with orders cannot disappear from under them (Order.item is non-null).
    itemId: uuid('item_id')
      .notNull()
      .references(() => items.id, { onDelete: 'restrict' }),
    placedBy: uuid('placed_by')
      .notNull()
      .references(() => users.id, { onDelete: 'restrict' }),
    quantity: integer('quantity').notNull(),
    unitPriceCents: integer('unit_price_cents').notNull(),
    discountCode: varchar('discount_code', { length: 20 }),
    discountPercent: integer('discount_percent').notNull().default(0),
    totalCents: bigint('total_cents', { mode: 'number' }).notNull(),
    status: orderStatusEnum('status').notNull().default('PENDING'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
    seq: bigint('seq', { mode: 'number' }).notNull().generatedAlwaysAsIdentity(),
  },
  (t) => [
    uniqueIndex('orders_seq_unique').on(t.seq),
    index('orders_created_at_id_idx').on(t.createdAt, t.id),
    index('orders_placed_by_created_at_id_idx').on(t.placedBy, t.createdAt, t.id),
    index('orders_item_idx').on(t.itemId),
    check('orders_quantity_positive', sql`${t.quantity} > 0`),
    check('orders_total_non_negative', sql`${t.totalCents} >= 0`),
    check('orders_discount_percent_range', sql`${t.discountPercent} >= 0 AND ${t.discountPercent} <= 100`),
  ],
);

export type OrderRow = typeof orders.$inferSelect;
