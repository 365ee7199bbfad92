import { index, pgEnum, pgTable, uuid, varchar } from 'drizzle-orm/pg-core';
import { timestamptz } from './items.js';
import { users } from './users.js';

export const notificationKindEnum = pgEnum('notification_kind', ['INFO', 'SUCCESS', 'WARNING', 'ERROR']);

/** One row per recipient, so offline users find their notifications later and each marks its own read. */
export const notifications = pgTable(
  'notifications',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    kind: notificationKindEnum('kind').notNull().default('INFO'),
    title: varchar('title', { length: 200 }).notNull(),
    body: varchar('body', { length: 2000 }).notNull(),
    readAt: timestamptz('read_at'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [index('notifications_user_created_at_id_idx').on(t.userId, t.createdAt, t.id)],
);

export type NotificationRow = typeof notifications.$inferSelect;
