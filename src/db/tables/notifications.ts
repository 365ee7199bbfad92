import { bigint, index, pgEnum, pgTable, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core';
import { timestamptz } from './items.js';
import { users } from './users.js';

export const notificationKindEnum = pgEnum('notification_kind', ['INFO', 'SUCCESS', 'WARNING', 'ERROR']);

/**
 * One row per recipient, so offline users find their notifications later and each marks its own read. `seq` orders a
 * user's notifications (their stream): assigned while the user's stream lock is held, like messages.seq.
 */
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
    seq: bigint('seq', { mode: 'number' }).notNull().generatedAlwaysAsIdentity(),
  },
  (t) => [uniqueIndex('notifications_seq_unique').on(t.seq), index('notifications_user_seq_idx').on(t.userId, t.seq)],
);

export type NotificationRow = typeof notifications.$inferSelect;
