import { and, asc, count, eq, gt, inArray, lt, sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { lockStreams } from '../../db/streams.js';
import { messages, roomMembers, rooms, users, type MessageRow, type RoomRow, type UserRow } from '../../db/tables.js';
import { createdAtSort, keysetCondition, keysetOrder, SortDirection, type PageRequest, type SortSpec } from '../shared/connection.js';
import { streamLockKey, type StreamRef, type StreamStore } from '../shared/stream-cursor.js';
import { anyId, once } from '../shared/prepared.js';

export const roomSort = createdAtSort<RoomRow>(rooms);

/**
 * Oldest first, so `last: 50` is the newest fifty in reading order and `before` walks back in time. In `seq` order,
 * the order live subscribers receive them in (timestamps tie within a millisecond).
 */
export const messageSort: SortSpec<MessageRow> = {
  column: messages.seq,
  id: messages.id,
  kind: 'number',
  direction: SortDirection.ASC,
  valueOf: (row) => row.seq,
  idOf: (row) => row.id,
};

/** A message stream: a room's messages, or the direct messages one user received. */
export type MessageStream = { roomId: string } | { recipientId: string };

export function messageStreamRef(stream: MessageStream): StreamRef {
  return 'roomId' in stream ? { kind: 'room', id: stream.roomId } : { kind: 'direct', id: stream.recipientId };
}

function inStream(stream: MessageStream): SQL {
  return 'roomId' in stream ? eq(messages.roomId, stream.roomId) : eq(messages.recipientId, stream.recipientId);
}

/** A stored message with the `seq` of the message before it in its stream. */
export type SequencedMessage = { row: MessageRow; prev: number };

export type MemberRow = UserRow & { joinedAt: Date };

/** Members in the order they joined. */
export const memberSort: SortSpec<MemberRow> = {
  column: roomMembers.joinedAt,
  id: roomMembers.userId,
  kind: 'date',
  direction: SortDirection.ASC,
  valueOf: (row) => row.joinedAt,
  idOf: (row) => row.id,
};

/** SQL for rooms, memberships and messages. */
export class ChatRepo {
  constructor(private readonly db: Executor) {}

  /** The loader's lookup by id, prepared once (shared/prepared.ts). */
  private readonly messagesByIds = once(() => this.db.select().from(messages).where(anyId(messages.id)).prepare('messages_by_ids'));

  /** The loader's lookup by id, prepared once (shared/prepared.ts). */
  private readonly roomsByIds = once(() => this.db.select().from(rooms).where(anyId(rooms.id)).prepare('rooms_by_ids'));

  /** The same queries inside a transaction. */
  in(tx: Executor): ChatRepo {
    return new ChatRepo(tx);
  }

  /** Creates the room with its creator as first member, atomically. */
  async createRoom(name: string, createdBy: string): Promise<RoomRow> {
    return this.db.transaction(async (tx) => {
      const [room] = await tx.insert(rooms).values({ name, createdBy }).returning();
      await tx.insert(roomMembers).values({ roomId: room!.id, userId: createdBy });
      return room!;
    });
  }

  async findRoomsByIds(ids: readonly string[]): Promise<RoomRow[]> {
    if (ids.length === 0) return [];
    return this.roomsByIds(this.db).execute({ ids });
  }

  async roomPage(page: PageRequest): Promise<RoomRow[]> {
    return this.db
      .select()
      .from(rooms)
      .where(keysetCondition(roomSort, page))
      .orderBy(...keysetOrder(roomSort, page))
      .limit(page.limit + 1);
  }

  async roomCount(): Promise<number> {
    const [row] = await this.db.select({ value: count() }).from(rooms);
    return row?.value ?? 0;
  }

  /** True when the membership was created, false when the user already was a member. */
  async addMember(roomId: string, userId: string): Promise<boolean> {
    const inserted = await this.db.insert(roomMembers).values({ roomId, userId }).onConflictDoNothing().returning();
    return inserted.length > 0;
  }

  /** True when a membership was removed. */
  async removeMember(roomId: string, userId: string): Promise<boolean> {
    const removed = await this.db
      .delete(roomMembers)
      .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)))
      .returning();
    return removed.length > 0;
  }

  /** The memberships among `keys` that exist, as `roomId:userId` strings. */
  async memberships(keys: readonly { roomId: string; userId: string }[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const rows = await this.db
      .select({ roomId: roomMembers.roomId, userId: roomMembers.userId })
      .from(roomMembers)
      .where(
        and(
          inArray(roomMembers.roomId, [...new Set(keys.map((key) => key.roomId))]),
          inArray(roomMembers.userId, [...new Set(keys.map((key) => key.userId))]),
        ),
      );
    return new Set(rows.map((row) => `${row.roomId}:${row.userId}`));
  }

  async memberIds(roomId: string): Promise<string[]> {
    const rows = await this.db.select({ userId: roomMembers.userId }).from(roomMembers).where(eq(roomMembers.roomId, roomId));
    return rows.map((row) => row.userId);
  }

  async memberPage(roomId: string, page: PageRequest): Promise<MemberRow[]> {
    const rows = await this.db
      .select({ user: users, joinedAt: roomMembers.joinedAt })
      .from(roomMembers)
      .innerJoin(users, eq(users.id, roomMembers.userId))
      .where(and(eq(roomMembers.roomId, roomId), keysetCondition(memberSort, page)))
      .orderBy(...keysetOrder(memberSort, page))
      .limit(page.limit + 1);
    return rows.map((row) => ({ ...row.user, joinedAt: row.joinedAt }));
  }

  async memberCount(roomId: string): Promise<number> {
    const [row] = await this.db.select({ value: count() }).from(roomMembers).where(eq(roomMembers.roomId, roomId));
    return row?.value ?? 0;
  }

  /** Stores a message in its stream (see src/db/streams.ts): in a transaction of its own, or in the caller's. */
  async insertMessage(values: Omit<typeof messages.$inferInsert, 'seq'>): Promise<SequencedMessage> {
    const stream: MessageStream = values.roomId ? { roomId: values.roomId } : { recipientId: values.recipientId! };
    return this.db.transaction(async (tx) => {
      await lockStreams(tx, [streamLockKey(messageStreamRef(stream))]);
      const prev = await new ChatRepo(tx).streamHead(stream);
      const [row] = await tx.insert(messages).values(values).returning();
      return { row: row!, prev };
    });
  }

  /** The stream's last `seq`; 0 when it has no message. */
  async streamHead(stream: MessageStream): Promise<number> {
    const [row] = await this.db
      .select({ value: sql<string>`coalesce(max(${messages.seq}), 0)` })
      .from(messages)
      .where(inStream(stream));
    return Number(row?.value ?? 0);
  }

  /** The stream's messages with `after < seq < before` (no upper bound when null), in `seq` order, at most `limit`. */
  async streamPage(stream: MessageStream, after: number, before: number | null, limit: number): Promise<MessageRow[]> {
    return this.db
      .select()
      .from(messages)
      .where(and(inStream(stream), gt(messages.seq, after), before === null ? undefined : lt(messages.seq, before)))
      .orderBy(asc(messages.seq))
      .limit(limit);
  }

  /** The stream as a resume check reads it. */
  streamStore(stream: MessageStream): StreamStore {
    return {
      storedAt: async (seq) => {
        const [row] = await this.db
          .select({ createdAt: messages.createdAt })
          .from(messages)
          .where(and(inStream(stream), eq(messages.seq, seq)));
        return row?.createdAt ?? null;
      },
      firstAfter: async (seq) => (await this.streamPage(stream, seq, null, 1))[0]?.createdAt ?? null,
      countAfter: async (seq, limit) => {
        const rows = await this.db
          .select({ id: messages.id })
          .from(messages)
          .where(and(inStream(stream), gt(messages.seq, seq)))
          .limit(limit);
        return rows.length;
      },
    };
  }

  async findMessagesByIds(ids: readonly string[]): Promise<MessageRow[]> {
    if (ids.length === 0) return [];
    return this.messagesByIds(this.db).execute({ ids });
  }

  async messagePage(roomId: string, page: PageRequest): Promise<MessageRow[]> {
    return this.db
      .select()
      .from(messages)
      .where(and(eq(messages.roomId, roomId), keysetCondition(messageSort, page)))
      .orderBy(...keysetOrder(messageSort, page))
      .limit(page.limit + 1);
  }

  async messageCount(roomId: string): Promise<number> {
    const [row] = await this.db.select({ value: count() }).from(messages).where(eq(messages.roomId, roomId));
    return row?.value ?? 0;
  }

  /** Active users among `ids` (for direct messages and notifications). */
  async activeUserIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db
      .select({ id: users.id })
      .from(users)
      .where(and(inArray(users.id, [...ids]), eq(users.isActive, true)));
    return new Set(rows.map((row) => row.id));
  }
}
