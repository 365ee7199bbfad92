import { and, eq, lt, or, sql } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { tasks, users, type TaskRow } from '../../db/tables.js';
import { FilteredList, type CompiledFilter, type PageRequest, type SortSpec, SortDirection } from '../shared/connection.js';
import { anyId, driverValue, once } from '../shared/prepared.js';

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

/**
 * SQL for tasks: filters compile to Drizzle expressions. The lookups by id and the list's page and count are prepared
 * statements (shared/prepared.ts), one per filter and page shape.
 */
export class TaskRepo {
  constructor(private readonly db: Executor) {}

  private readonly byIds = once(() => this.db.select().from(tasks).where(anyId(tasks.id)).prepare('tasks_by_ids'));
  private readonly list = new FilteredList<TaskRow>(tasks, 'tasks');

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
    return this.byIds(this.db).execute({ ids });
  }

  async userExists(id: string): Promise<boolean> {
    const rows = await this.db.select({ id: users.id }).from(users).where(eq(users.id, id));
    return rows.length > 0;
  }

  async page(query: TaskQuery, sort: SortSpec<TaskRow>, page: PageRequest): Promise<TaskRow[]> {
    return this.list.page(this.db, this.filter(query), sort, page);
  }

  async count(query: TaskQuery): Promise<number> {
    return this.list.count(this.db, this.filter(query));
  }

  /** The filter with placeholders for its values: equal shapes share one prepared statement. */
  private filter(query: TaskQuery): CompiledFilter {
    const visibleTo = query.visibleTo || null;
    const completed = query.completed ?? null;
    const priority = query.priority || null;
    const assigneeId = query.assigneeId || null;
    const dueBefore = query.dueBefore || null;
    const params: Record<string, unknown> = {};
    if (visibleTo !== null) params.visibleTo = visibleTo;
    if (completed !== null) params.completed = completed;
    if (priority !== null) params.priority = priority;
    if (assigneeId !== null) params.assigneeId = assigneeId;
    if (dueBefore !== null) params.dueBefore = driverValue(tasks.dueAt, dueBefore);
    const set = (value: unknown, flag: string) => (value === null ? '-' : flag);
    return {
      shape: `${set(visibleTo, 'v')}${set(completed, 'c')}${set(priority, 'p')}${set(assigneeId, 'a')}${set(dueBefore, 'd')}`,
      where: () =>
        and(
          visibleTo !== null
            ? or(eq(tasks.ownerId, sql.placeholder('visibleTo')), eq(tasks.assigneeId, sql.placeholder('visibleTo')))
            : undefined,
          completed !== null ? eq(tasks.completed, sql.placeholder('completed')) : undefined,
          priority !== null ? eq(tasks.priority, sql.placeholder('priority')) : undefined,
          assigneeId !== null ? eq(tasks.assigneeId, sql.placeholder('assigneeId')) : undefined,
          dueBefore !== null ? lt(tasks.dueAt, sql.placeholder('dueBefore')) : undefined,
        ),
      params,
    };
  }
}
