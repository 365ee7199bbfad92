import type { PubSub } from '../../pubsub/pubsub.js';
import type { Authentication } from '../../auth/identity.js';
import { signedIn } from '../shared/authorize.js';
import { isUniqueViolation } from '../../db/errors.js';
import type { MessageRow, RoomRow } from '../../db/tables.js';
import { Topic, type MessageEventData, type RoomEvent, type Topics } from '../../pubsub/topics.js';
import { bounded, type StreamCount } from '../../realtime/queue.js';
import { orderedStream, REPLAY_PAGE_SIZE, type Positioned } from '../../realtime/ordered.js';
import { encodeStreamCursor, resumePosition, type ReplayLimits } from '../shared/stream-cursor.js';
import type { ConnectionHandle } from '../../realtime/connections.js';
import type { MessageLimiter } from '../../realtime/message-limiter.js';
import type { RoomChannels } from '../../realtime/room-channels.js';
import type { TypingTracker } from '../../realtime/typing.js';
import { pageRequest, toConnection, type ConnectionArgs } from '../shared/connection.js';
import { forbidden, rateLimited } from '../shared/errors.js';
import { fromGlobalId, parseGlobalId } from '../shared/global-id.js';
import { UserErrorCode, UserErrors, type UserError } from '../shared/user-error.js';
import { checkLength } from '../shared/validation.js';
import { User } from '../user/user.type.js';
import type { NotificationService } from '../notification/notification.service.js';
import type { Database } from '../../db/client.js';
import { enqueueNotification, type JobQueue } from '../../jobs/side-effects.js';
import type { CreateRoomInput, SendDirectMessageInput, SendMessageInput } from './chat.input.js';
import { memberSort, messageSort, messageStreamRef, roomSort, type ChatRepo, type MessageStream } from './chat.repo.js';
import { Message, MESSAGE_MAX, Room, ROOM_NAME_MAX, type MessagePayload, type RoomPayload } from './chat.type.js';

/** Messages of a room's history page without paging arguments: the newest ones, as `last: 50`. */
export const ROOM_HISTORY_PAGE = 50;

export interface ChatDeps {
  repo: ChatRepo;
  pubsub: PubSub<Topics>;
  channels: RoomChannels;
  typing: TypingTracker;
  limiter: MessageLimiter;
  notifications: NotificationService;
  db: Database;
  /** Side effects (the recipient's notification) are queued in the message's transaction. */
  jobs: JobQueue;
  /** Undelivered events one subscription may hold before its connection is dropped. */
  queueLimit: number;
  streams: StreamCount;
  /** How far back a resuming subscription may start. */
  replay: ReplayLimits;
}

const NOT_A_MEMBER = 'You are not a member of this room';

/**
 * Rooms, memberships, room and direct messages, typing. Every event is published after the
 * change it reports has committed, and carries ids and small data; subscribers' own checks decide who sees it.
 */
export class ChatService {
  constructor(private readonly deps: ChatDeps) {}

  async listRooms(args: ConnectionArgs) {
    const page = pageRequest(args, roomSort.kind);
    const rows = await this.deps.repo.roomPage(page);
    return toConnection(rows, page, roomSort, Room.fromRow, () => this.deps.repo.roomCount());
  }

  async members(roomId: string, args: ConnectionArgs) {
    const page = pageRequest(args, memberSort.kind);
    const rows = await this.deps.repo.memberPage(roomId, page);
    return toConnection(rows, page, memberSort, User.fromRow, () => this.deps.repo.memberCount(roomId));
  }

  /** A room's messages in reading order; without paging arguments the newest ROOM_HISTORY_PAGE (as `last: 50`). */
  async messages(roomId: string, args: ConnectionArgs) {
    const paged = args.first != null || args.last != null ? args : { ...args, last: ROOM_HISTORY_PAGE };
    const page = pageRequest(paged, messageSort.kind);
    const rows = await this.deps.repo.messagePage(roomId, page);
    return toConnection(rows, page, messageSort, Message.fromRow, () => this.deps.repo.messageCount(roomId));
  }

  async createRoom(auth: Authentication, input: CreateRoomInput): Promise<RoomPayload> {
    const viewer = signedIn(auth);
    const errors = new UserErrors();
    const name = checkLength(input.name, errors, ['input', 'name'], 'Name', 1, ROOM_NAME_MAX);
    if (errors.any) return { room: null, userErrors: errors.list };
    try {
      return { room: Room.fromRow(await this.deps.repo.createRoom(name, viewer.id)), userErrors: [] };
    } catch (error) {
      if (isUniqueViolation(error, 'rooms_name_lower_unique')) {
        return { room: null, userErrors: errors.add(['input', 'name'], 'A room with this name already exists', UserErrorCode.TAKEN).list };
      }
      throw error;
    }
  }

  async joinRoom(auth: Authentication, roomGlobalId: string): Promise<RoomPayload> {
    const viewer = signedIn(auth);
    const room = await this.findRoom(roomGlobalId);
    if (!room) return { room: null, userErrors: [roomNotFound()] };
    if (await this.deps.repo.addMember(room.id, viewer.id)) {
      this.deps.channels.memberAdded(room.id, viewer.id);
      this.publish(room.id, { type: 'JOINED', roomId: room.id, userId: viewer.id, membership: true });
    }
    return { room: Room.fromRow(room), userErrors: [] };
  }

  async leaveRoom(auth: Authentication, roomGlobalId: string): Promise<RoomPayload> {
    const viewer = signedIn(auth);
    const room = await this.findRoom(roomGlobalId);
    if (!room) return { room: null, userErrors: [roomNotFound()] };
    if (!(await this.deps.repo.removeMember(room.id, viewer.id))) {
      return { room: null, userErrors: new UserErrors().add(['roomId'], NOT_A_MEMBER, UserErrorCode.FORBIDDEN).list };
    }
    // The leaver's subscriptions to the room end before anyone hears of the leave.
    this.deps.typing.forget(room.id, viewer.id);
    this.deps.channels.memberRemoved(room.id, viewer.id);
    this.publish(room.id, { type: 'LEFT', roomId: room.id, userId: viewer.id, membership: true });
    return { room: Room.fromRow(room), userErrors: [] };
  }

  async sendMessage(auth: Authentication, input: SendMessageInput): Promise<MessagePayload> {
    const viewer = signedIn(auth);
    const errors = new UserErrors();
    const body = checkLength(input.body, errors, ['input', 'body'], 'Message', 1, MESSAGE_MAX);
    const roomId = parseGlobalId(input.roomId, 'Room');
    if (!roomId) errors.add(['input', 'roomId'], 'Room not found', UserErrorCode.NOT_FOUND);
    if (errors.any) return { message: null, userErrors: errors.list };
    if (!(await this.isMember(roomId!, viewer.id))) {
      return { message: null, userErrors: errors.add(['input', 'roomId'], NOT_A_MEMBER, UserErrorCode.FORBIDDEN).list };
    }
    await this.takeMessageBudget(viewer.id);
    const { row, prev } = await this.deps.repo.insertMessage({ roomId, authorId: viewer.id, body });
    // Published only now that the insert has committed: subscribers never see a message that could roll back.
    const message = Message.fromRow(row);
    this.publish(row.roomId!, { type: 'MESSAGE', roomId: row.roomId!, message: message.toEvent(prev) });
    return { message, userErrors: [] };
  }

  async sendDirectMessage(auth: Authentication, input: SendDirectMessageInput): Promise<MessagePayload> {
    const viewer = signedIn(auth);
    const errors = new UserErrors();
    const body = checkLength(input.body, errors, ['input', 'body'], 'Message', 1, MESSAGE_MAX);
    const recipientId = parseGlobalId(input.toUserId, 'User');
    if (recipientId === viewer.id) errors.add(['input', 'toUserId'], 'You cannot send a message to yourself');
    if (errors.any) return { message: null, userErrors: errors.list };
    const active = recipientId ? await this.deps.repo.activeUserIds([recipientId]) : new Set<string>();
    if (!recipientId || !active.has(recipientId)) {
      return { message: null, userErrors: errors.add(['input', 'toUserId'], 'User not found', UserErrorCode.NOT_FOUND).list };
    }
    await this.takeMessageBudget(viewer.id);
    // The recipient's notification is queued in the message's transaction and sent by the job runner.
    const { row, prev } = await this.deps.db.transaction(async (tx) => {
      const inserted = await this.deps.repo.in(tx).insertMessage({ recipientId, authorId: viewer.id, body });
      await enqueueNotification(this.deps.jobs, tx, [recipientId], {
        title: `New message from ${viewer.username}`,
        body: body.length > 200 ? `${body.slice(0, 199)}…` : body,
      });
      return inserted;
    });
    const message = Message.fromRow(row);
    this.deps.pubsub.publish(Topic.DirectMessage, recipientId, message.toEvent(prev));
    return { message, userErrors: [] };
  }

  /** `setTyping`: members only; throttled and expired by the typing tracker. */
  async setTyping(auth: Authentication, roomGlobalId: string, typing: boolean): Promise<boolean> {
    const viewer = signedIn(auth);
    const roomId = fromGlobalId(roomGlobalId, 'Room');
    if (!(await this.isMember(roomId, viewer.id))) throw forbidden([], NOT_A_MEMBER);
    this.deps.typing.set(roomId, viewer.id, typing);
    return true;
  }

  /**
   * `roomEvents`: members only (checked here against the database, then for every event by the room channel, replayed
   * ones included). Messages arrive in `seq` order; with `after`, first those stored after that cursor.
   */
  async roomEvents(
    auth: Authentication,
    roomGlobalId: string,
    after?: string | null,
    connection?: ConnectionHandle,
  ): Promise<AsyncIterable<Positioned<RoomEvent>>> {
    const viewer = signedIn(auth);
    const roomId = fromGlobalId(roomGlobalId, 'Room');
    if (!(await this.isMember(roomId, viewer.id))) throw forbidden([], NOT_A_MEMBER);
    const stream: MessageStream = { roomId };
    const from = await resumePosition(
      after ?? connection?.lastEventId,
      messageStreamRef(stream),
      this.deps.repo.streamStore(stream),
      this.deps.replay,
    );
    return this.deps.channels.subscribe(roomId, viewer.id, connection, (queued) =>
      this.ordered<RoomEvent>(stream, from, queued, connection, {
        positionOf: (event) => (event.type === 'MESSAGE' ? { seq: event.message.seq, prev: event.message.prev } : null),
        toEvent: (message) => ({ type: 'MESSAGE', roomId, message }),
      }),
    );
  }

  /** `directMessages`: messages sent to the viewer, on every connection they have open, in `seq` order; resumable. */
  async directMessages(
    auth: Authentication,
    after?: string | null,
    connection?: ConnectionHandle,
  ): Promise<AsyncIterableIterator<Positioned<MessageEventData>>> {
    const viewer = signedIn(auth);
    const stream: MessageStream = { recipientId: viewer.id };
    const from = await resumePosition(
      after ?? connection?.lastEventId,
      messageStreamRef(stream),
      this.deps.repo.streamStore(stream),
      this.deps.replay,
    );
    const live = bounded(this.deps.pubsub.subscribe(Topic.DirectMessage, viewer.id), this.deps.queueLimit, connection, this.deps.streams);
    return this.ordered<MessageEventData>(stream, from, live, connection, {
      positionOf: (message) => ({ seq: message.seq, prev: message.prev }),
      toEvent: (message) => message,
    });
  }

  /** A message stream's events from `from` (or its head now), live ones in order, gaps filled from the database. */
  private ordered<T extends object>(
    stream: MessageStream,
    from: number | null,
    live: AsyncIterable<T>,
    connection: ConnectionHandle | undefined,
    events: { positionOf(event: T): { seq: number; prev: number } | null; toEvent(message: MessageEventData): T },
  ): AsyncIterableIterator<Positioned<T>> {
    const ref = messageStreamRef(stream);
    return orderedStream(live, {
      positionOf: events.positionOf,
      start: async () => from ?? (await this.deps.repo.streamHead(stream)),
      replay: from !== null,
      load: async (after, before, limit) =>
        (await this.deps.repo.streamPage(stream, after, before, limit)).map((row) => events.toEvent(Message.fromRow(row).toEvent(0))),
      pageSize: REPLAY_PAGE_SIZE,
      onDeliver: (position) => connection?.delivered?.(encodeStreamCursor(ref, position)),
    });
  }

  /** A room message is its room's members'; a direct message its author's and recipient's. */
  async messageVisible(viewerId: string, row: MessageRow, isMember: (roomId: string) => Promise<boolean>): Promise<boolean> {
    return row.roomId ? isMember(row.roomId) : row.authorId === viewerId || row.recipientId === viewerId;
  }

  async isMember(roomId: string, userId: string): Promise<boolean> {
    return (await this.deps.repo.memberships([{ roomId, userId }])).has(`${roomId}:${userId}`);
  }

  private async findRoom(globalId: string): Promise<RoomRow | null> {
    const id = parseGlobalId(globalId, 'Room');
    return id ? ((await this.deps.repo.findRoomsByIds([id]))[0] ?? null) : null;
  }

  private async takeMessageBudget(userId: string): Promise<void> {
    const waitMs = await this.deps.limiter.take(userId);
    if (waitMs > 0) {
      const retryAfter = Math.ceil(waitMs / 1_000);
      throw rateLimited(`Rate limit exceeded: try again in ${retryAfter} s`, retryAfter, { retryAfterMs: waitMs });
    }
  }

  private publish(roomId: string, event: RoomEvent): void {
    this.deps.pubsub.publish(Topic.RoomEvent, roomId, event);
  }
}

function roomNotFound(): UserError {
  return new UserErrors().add(['roomId'], 'Room not found', UserErrorCode.NOT_FOUND).list[0]!;
}
