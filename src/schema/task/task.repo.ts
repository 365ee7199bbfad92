import { and, count, eq, inArray, lt, or, type SQL } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { tasks, users, type TaskRow } from '../../db/tables.js';
import { keysetCondition, keysetOrder, type PageRequest, type SortSpec, SortDirection } from '../shared/connection.js';

export type NewTaskRow = typeof tasks.$inferInsert;
export type TaskChanges = Partial<Omit<NewTaskRow, 'id' | 'ownerId' | 'createdAt' | 'updatedAt'>>;

export interface TaskQuery {
  /** Only tasks this user owns or is assigned; null for everyone's (staff). */
  visibleTo: string | null;
  completed?: boolean | null;
  priority?: TaskRow['priority'] | null;
  assigneeId?: string | null;
  dueBefore?: Date | null;
}

export type TaskSortField = 'createdAt' | 'updatedAt' | 'title' | 'priority';

export function taskSort(field: TaskSortField, direction: SortDirection): SortSpec<TaskRow> {
  return {
    column: tasks[field],
    id: tasks.id,
    kind: field === 'createdAt' || field === 'updatedAt' ? 'date' : 'string',
    direction,
    valueOf: (row) => row[field],
    idOf: (row) => row.id,
  };
}

/** SQL for tasks: filters compile to Drizzle expressions. */
export class TaskRepo {
  constructor(private readonly db: Executor) {}

  /** The same queries inside a transaction. */
  in(tx: Executor): TaskRepo {
    return new TaskRepo(tx);
  }

  async insert(values: NewTaskRow): Promise<TaskRow> {
    const [row] = await this.db.insert(tasks).values(values).returning();
    return row!;
  }

  async update(id: string, changes: TaskChanges): Promise<TaskRow | null> {
    const [row] = await this.db
      .update(tasks)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(tasks.id, id))
      .returning();
    return row ?? null;
  }

  async delete(id: string): Promise<TaskRow | null> {
    const [row] = await this.db.delete(tasks).where(eq(tasks.id, id)).returning();
    return row ?? null;
  }

  async findByIds(ids: readonly string[]): Promise<TaskRow[]> {
    if (ids.length === 0) return [];
    return this.db
      .select()
      .from(tasks)
      .where(inArray(tasks.id, [...ids]));
  }

  async userExists(id: string): Promise<boolean> {
    const rows = await this.db.select({ id: users.id }).from(users).where(eq(users.id, id));
    return rows.length > 0;
  }

  async page(query: TaskQuery, sort: SortSpec<TaskRow>, page: PageRequest): Promise<TaskRow[]> {
    return this.db
      .select()
      .from(tasks)
      .where(and(this.where(query), keysetCondition(sort, page)))
      .orderBy(...keysetOrder(sort, page))
      .limit(page.limit + 1);
  }

  async count(query: TaskQuery): Promise<number> {
    const [row] = await this.db.select({ value: count() }).from(tasks).where(this.where(query));
    return row?.value ?? 0;
  }

  private where(query: TaskQuery): SQL | undefined {
    return and(
      query.visibleTo ? or(eq(tasks.ownerId, query.visibleTo), eq(tasks.assigneeId, query.visibleTo)) : undefined,
      query.completed != null ? eq(tasks.completed, query.completed) : undefined,
      query.priority ? eq(tasks.priority, query.priority) : undefined,
      query.assigneeId ? eq(tasks.assigneeId, query.assigneeId) : undefined,
      query.dueBefore ? lt(tasks.dueAt, query.dueBefore) : undefined,
    );
  }
}
