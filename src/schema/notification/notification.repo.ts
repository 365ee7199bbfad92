import { and, count, eq, inArray, isNotNull, isNull, lt, type SQL } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { notifications, type NotificationRow } from '../../db/tables.js';
import { createdAtSort, keysetCondition, keysetOrder, type PageRequest } from '../shared/connection.js';

export type NewNotificationRow = typeof notifications.$inferInsert;

export const notificationSort = createdAtSort<NotificationRow>(notifications);

export class NotificationRepo {
  constructor(private readonly db: Executor) {}

  /** The same queries inside a transaction. */
  in(tx: Executor): NotificationRepo {
    return new NotificationRepo(tx);
  }

  async insertMany(rows: NewNotificationRow[]): Promise<NotificationRow[]> {
    if (rows.length === 0) return [];
    return this.db.insert(notifications).values(rows).returning();
  }

  async findByIds(ids: readonly string[]): Promise<NotificationRow[]> {
    if (ids.length === 0) return [];
    return this.db
      .select()
      .from(notifications)
      .where(inArray(notifications.id, [...ids]));
  }

  async page(userId: string, unreadOnly: boolean, page: PageRequest): Promise<NotificationRow[]> {
    return this.db
      .select()
      .from(notifications)
      .where(and(this.where(userId, unreadOnly), keysetCondition(notificationSort, page)))
      .orderBy(...keysetOrder(notificationSort, page))
      .limit(page.limit + 1);
  }

  async count(userId: string, unreadOnly: boolean): Promise<number> {
    const [row] = await this.db.select({ value: count() }).from(notifications).where(this.where(userId, unreadOnly));
    return row?.value ?? 0;
  }

  /** Marks the user's unread notifications (all, or those among `ids`) read; returns how many changed. */
  async markRead(userId: string, ids: readonly string[] | null): Promise<number> {
    const changed = await this.db
      .update(notifications)
      .set({ readAt: new Date() })
      .where(and(this.where(userId, true), ids ? inArray(notifications.id, [...ids]) : undefined))
      .returning({ id: notifications.id });
    return changed.length;
  }

  private where(userId: string, unreadOnly: boolean): SQL | undefined {
    return and(eq(notifications.userId, userId), unreadOnly ? isNull(notifications.readAt) : undefined);
  }

  /** Read notifications older than `before` (the CLEANUP job). */
  async deleteReadBefore(before: Date): Promise<number> {
    const rows = await this.db
      .delete(notifications)
      .where(and(isNotNull(notifications.readAt), lt(notifications.readAt, before)))
      .returning({ id: notifications.id });
    return rows.length;
  }
}
