import { sql } from 'drizzle-orm';
import { boolean, index, pgEnum, pgTable, text, uuid, varchar } from 'drizzle-orm/pg-core';
import { timestamptz } from './items.js';
import { users } from './users.js';

/** Declared in ascending order, so comparisons and ORDER BY on the column follow LOW < MEDIUM < HIGH. */
export const taskPriorityEnum = pgEnum('task_priority', ['LOW', 'MEDIUM', 'HIGH']);

/** To-dos: owned by their creator, optionally assigned to someone. */
export const tasks = pgTable(
  'tasks',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    assigneeId: uuid('assignee_id').references(() => users.id, { onDelete: 'set null' }),
    title: varchar('title', { length: 100 }).notNull(),
    description: varchar('description', { length: 500 }),
    priority: taskPriorityEnum('priority').notNull().default('MEDIUM'),
    completed: boolean('completed').notNull().default(false),
    dueAt: timestamptz('due_at'),
    tags: text('tags')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('tasks_created_at_id_idx').on(t.createdAt, t.id),
    index('tasks_owner_idx').on(t.ownerId),
    index('tasks_assignee_idx').on(t.assigneeId),
  ],
);

export type TaskRow = typeof tasks.$inferSelect;
