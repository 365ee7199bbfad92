import { and, asc, count, eq, gt, inArray, isNotNull, isNull, lt, sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { lockStreams } from '../../db/streams.js';
import { notifications, type NotificationRow } from '../../db/tables.js';
import { keysetCondition, keysetOrder, SortDirection, type PageRequest, type SortSpec } from '../shared/connection.js';
import { streamLockKey, type StreamStore } from '../shared/stream-cursor.js';
import { anyId, once } from '../shared/prepared.js';

export type NewNotificationRow = Omit<typeof notifications.$inferInsert, 'seq'>;

/** Newest first, in `seq` order (the order `notificationReceived` delivers them in). */
export const notificationSort: SortSpec<NotificationRow> = {
  column: notifications.seq,
  id: notifications.id,
  kind: 'number',
  direction: SortDirection.DESC,
  valueOf: (row) => row.seq,
  idOf: (row) => row.id,
};

/** A stored notification with the `seq` of its recipient's notification before it. */
export type SequencedNotification = NotificationRow & { prev: number };

export class NotificationRepo {
  constructor(private readonly db: Executor) {}

  /** The loader's lookup by id, prepared once (shared/prepared.ts). */
  private readonly rowsByIds = once(() =>
    this.db.select().from(notifications).where(anyId(notifications.id)).prepare('notifications_by_ids'),
  );

  /** The same queries inside a transaction. */
  in(tx: Executor): NotificationRepo {
    return new NotificationRepo(tx);
  }

  /** Stores the rows in their recipients' streams (see src/db/streams.ts), in a transaction of its own or the caller's. */
  async insertMany(rows: NewNotificationRow[]): Promise<SequencedNotification[]> {
    if (rows.length === 0) return [];
    const userIds = [...new Set(rows.map((row) => row.userId))];
    return this.db.transaction(async (tx) => {
      await lockStreams(
        tx,
        userIds.map((id) => streamLockKey({ kind: 'notifications', id })),
      );
      const heads = await tx
        .select({ userId: notifications.userId, head: sql<string>`max(${notifications.seq})` })
        .from(notifications)
        .where(inArray(notifications.userId, userIds))
        .groupBy(notifications.userId);
      const last = new Map(heads.map((row) => [row.userId, Number(row.head)]));
      const inserted = await tx.insert(notifications).values(rows).returning();
      return inserted
        .sort((a, b) => a.seq - b.seq)
        .map((row) => {
          const prev = last.get(row.userId) ?? 0;
          last.set(row.userId, row.seq);
          return { ...row, prev };
        });
    });
  }

  /** The user's last notification `seq`; 0 when they have none. */
  async streamHead(userId: string): Promise<number> {
    const [row] = await this.db
      .select({ value: sql<string>`coalesce(max(${notifications.seq}), 0)` })
      .from(notifications)
      .where(eq(notifications.userId, userId));
    return Number(row?.value ?? 0);
  }

  /** The user's notifications with `after < seq < before` (no upper bound when null), in `seq` order, at most `limit`. */
  async streamPage(userId: string, after: number, before: number | null, limit: number): Promise<NotificationRow[]> {
    return this.db
      .select()
      .from(notifications)
      .where(and(eq(notifications.userId, userId), gt(notifications.seq, after), before === null ? undefined : lt(notifications.seq, before)))
      .orderBy(asc(notifications.seq))
      .limit(limit);
  }

  /** The user's stream as a resume check reads it. */
  streamStore(userId: string): StreamStore {
    return {
      storedAt: async (seq) => {
        const [row] = await this.db
          .select({ createdAt: notifications.createdAt })
          .from(notifications)
          .where(and(eq(notifications.userId, userId), eq(notifications.seq, seq)));
        return row?.createdAt ?? null;
      },
      firstAfter: async (seq) => (await this.streamPage(userId, seq, null, 1))[0]?.createdAt ?? null,
      countAfter: async (seq, limit) => {
        const rows = await this.db
          .select({ id: notifications.id })
          .from(notifications)
          .where(and(eq(notifications.userId, userId), gt(notifications.seq, seq)))
          .limit(limit);
        return rows.length;
      },
    };
  }

  async findByIds(ids: readonly string[]): Promise<NotificationRow[]> {
    if (ids.length === 0) return [];
    return this.rowsByIds(this.db).execute({ ids });
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
