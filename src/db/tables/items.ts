import { sql } from 'drizzle-orm';
import { check, index, integer, pgEnum, pgTable, text, timestamp, uuid, varchar } from 'drizzle-orm/pg-core';

/** Millisecond precision: a JavaScript Date round-trips exactly, so keyset cursors on timestamps are exact. */
export const timestamptz = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });

export const categoryEnum = pgEnum('category', ['ELECTRONICS', 'BOOKS', 'CLOTHING', 'HOME']);

export const items = pgTable(
  'items',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    sku: varchar('sku', { length: 6 }).notNull().unique('items_sku_unique'),
    name: varchar('name', { length: 200 }).notNull(),
    description: varchar('description', { length: 500 }),
    /** Price in cents: exact to the cent, no floating point in storage. */
    priceCents: integer('price_cents').notNull(),
    category: categoryEnum('category').notNull(),
    tags: text('tags')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    stock: integer('stock').notNull().default(0),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('items_created_at_id_idx').on(t.createdAt, t.id),
    index('items_name_id_idx').on(t.name, t.id),
    index('items_price_id_idx').on(t.priceCents, t.id),
    check('items_price_positive', sql`${t.priceCents} > 0 AND ${t.priceCents} <= 1000000`),
    check('items_stock_non_negative', sql`${t.stock} >= 0`),
  ],
);

export type ItemRow = typeof items.$inferSelect;
