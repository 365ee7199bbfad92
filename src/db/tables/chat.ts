import { sql } from 'drizzle-orm';
import { bigint, check, index, pgTable, primaryKey, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core';
import { timestamptz } from './items.js';
import { users } from './users.js';

/** Chat rooms. Names are unique ignoring case (the database enforces it, so two concurrent creates cannot both win). */
export const rooms = pgTable(
  'rooms',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: varchar('name', { length: 100 }).notNull(),
    createdBy: uuid('created_by')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('rooms_name_lower_unique').on(sql`lower(${t.name})`), index('rooms_created_at_id_idx').on(t.createdAt, t.id)],
);

export type RoomRow = typeof rooms.$inferSelect;

/** Who belongs to which room; membership is what every room read and every delivered room event is checked against. */
export const roomMembers = pgTable(
  'room_members',
  {
    roomId: uuid('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    joinedAt: timestamptz('joined_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.roomId, t.userId] }),
    index('room_members_user_idx').on(t.userId, t.joinedAt),
    index('room_members_room_joined_idx').on(t.roomId, t.joinedAt, t.userId),
  ],
);

export type RoomMemberRow = typeof roomMembers.$inferSelect;

/**
 * Room messages and direct messages: a room message has `room_id`, a direct message has `recipient_id` instead.
 * Bodies are stored trimmed, 1–2000 characters.
 *
 * `seq` is the total order of a room's (or a recipient's direct) messages, shared by history, live events and
 * stream cursors: assigned by the insert while the stream's lock is held (src/db/streams.ts), so within a stream a
 * larger `seq` always commits later. Timestamps tie within a millisecond; `seq` never does.
 */
export const messages = pgTable(
  'messages',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    roomId: uuid('room_id').references(() => rooms.id, { onDelete: 'cascade' }),
    recipientId: uuid('recipient_id').references(() => users.id, { onDelete: 'cascade' }),
    authorId: uuid('author_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    body: varchar('body', { length: 2000 }).notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    seq: bigint('seq', { mode: 'number' }).notNull().generatedAlwaysAsIdentity(),
  },
  (t) => [
    uniqueIndex('messages_seq_unique').on(t.seq),
    index('messages_room_seq_idx').on(t.roomId, t.seq),
    index('messages_recipient_seq_idx').on(t.recipientId, t.seq),
    check('messages_room_xor_recipient', sql`(${t.roomId} IS NULL) <> (${t.recipientId} IS NULL)`),
  ],
);

export type MessageRow = typeof messages.$inferSelect;
