import { Arg, Args, Authorized, Ctx, Extensions, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../context.js';
import type { MessageEventData, RoomEvent as RoomEventData } from '../../pubsub/topics.js';
import type { RealtimeContext } from '../../realtime/connections.js';
import { REPLAY_PAGE_SIZE, type Positioned } from '../../realtime/ordered.js';
import { encodeStreamCursor, REPLAY_PAGE_EXTENSION } from '../shared/stream-cursor.js';
import { ConnectionArgs, connectionTypes, DEFAULT_PAGE_EXTENSION } from '../shared/connection.js';
import { forbidden, notFound } from '../shared/errors.js';
import { User } from '../user/user.type.js';
import { UserConnection } from '../user/user.resolver.js';
import { CreateRoomInput, SendDirectMessageInput, SendMessageInput } from './chat.input.js';
import { ROOM_HISTORY_PAGE } from './chat.service.js';
import {
  MemberJoined,
  MemberLeft,
  Message,
  MessagePayload,
  MessagePosted,
  Room,
  RoomEvent,
  RoomPayload,
  TypingChanged,
} from './chat.type.js';

export const { ConnectionType: RoomConnection } = connectionTypes(Room, 'Room', 'chat rooms');
export const { ConnectionType: MessageConnection } = connectionTypes(Message, 'Message', 'messages');

type ChatContext = Context & RealtimeContext;

async function loadUser(ctx: Context, userId: string): Promise<User> {
  const row = await ctx.loaders.user.load(userId);
  if (!row) throw notFound('User not found');
  return User.fromRow(row);
}

@Resolver(() => Room)
export class RoomResolver {
  @Authorized('chat:read')
  @Query(() => RoomConnection, { description: 'Every chat room, newest first; join one to read and post in it.' })
  rooms(@Args(() => ConnectionArgs) args: ConnectionArgs, @Ctx() ctx: Context) {
    return ctx.services.chat.listRooms(args);
  }

  @FieldResolver(() => UserConnection, { description: 'The members, in the order they joined.' })
  members(@Root() room: Room, @Args(() => ConnectionArgs) args: ConnectionArgs, @Ctx() ctx: Context) {
    return ctx.services.chat.members(room.rowId, args);
  }

  @FieldResolver(() => MessageConnection, {
    description:
      'Messages in reading order (oldest first); members only. Without paging arguments the newest 50 (`last: 50`); ' +
      'older ones with `last` and `before`.',
  })
  @Extensions({ [DEFAULT_PAGE_EXTENSION]: ROOM_HISTORY_PAGE })
  async messages(@Root() room: Room, @Args(() => ConnectionArgs) args: ConnectionArgs, @Ctx() ctx: Context) {
    if (!(await ctx.loaders.membership.load({ roomId: room.rowId, userId: ctx.viewer!.id }))) {
      throw forbidden([], 'You are not a member of this room');
    }
    return ctx.services.chat.messages(room.rowId, args);
  }

  @Authorized('chat:write')
  @Mutation(() => RoomPayload, { description: 'Creates a room; the viewer becomes its first member.' })
  createRoom(@Arg('input', () => CreateRoomInput, { description: 'The room to create.' }) input: CreateRoomInput, @Ctx() ctx: Context) {
    return ctx.services.chat.createRoom(ctx, input);
  }

  @Authorized('chat:write')
  @Mutation(() => RoomPayload, { description: 'Makes the viewer a member of the room (no change when already one).' })
  joinRoom(@Arg('roomId', () => ID, { description: 'The room to join.' }) roomId: string, @Ctx() ctx: Context) {
    return ctx.services.chat.joinRoom(ctx, roomId);
  }

  @Authorized('chat:write')
  @Mutation(() => RoomPayload, {
    description: "Ends the viewer's membership; their subscriptions to the room complete at once, on every connection.",
  })
  leaveRoom(@Arg('roomId', () => ID, { description: 'The room to leave.' }) roomId: string, @Ctx() ctx: Context) {
    return ctx.services.chat.leaveRoom(ctx, roomId);
  }

  @Authorized('chat:write')
  @Mutation(() => MessagePayload, {
    description: 'Posts a message in a room the viewer is a member of. At most 10 messages per user per 60 s (RATE_LIMITED).',
  })
  sendMessage(@Arg('input', () => SendMessageInput, { description: 'The room and the text.' }) input: SendMessageInput, @Ctx() ctx: Context) {
    return ctx.services.chat.sendMessage(ctx, input);
  }

  @Authorized('chat:write')
  @Mutation(() => MessagePayload, {
    description: 'Sends a message to one user, who also gets a notification. Counts toward the same rate limit as sendMessage.',
  })
  sendDirectMessage(
    @Arg('input', () => SendDirectMessageInput, { description: 'The recipient and the text.' }) input: SendDirectMessageInput,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.chat.sendDirectMessage(ctx, input);
  }

  @Authorized('chat:write')
  @Mutation(() => Boolean, {
    description:
      "Tells the room's other members that the viewer is (or stopped) typing. At most one TypingChanged per user and " +
      'room per 2 s; `typing: true` expires after 5 s without another. Members only.',
  })
  setTyping(
    @Arg('roomId', () => ID, { description: 'The room.' }) roomId: string,
    @Arg('typing', () => Boolean, { description: 'True while typing.' }) typing: boolean,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.chat.setTyping(ctx, roomId, typing);
  }

  @Authorized('chat:read')
  @Extensions({ [REPLAY_PAGE_EXTENSION]: REPLAY_PAGE_SIZE })
  @Subscription(() => RoomEvent, {
    description:
      "The room's messages, joins, leaves, presence and typing. Members only, checked for every event: a member who " +
      'leaves stops receiving at once, and their subscription completes. Messages arrive in the order of the room ' +
      "history; with `after` (an event's `streamCursor`), the messages stored after it are replayed first, then live " +
      'events follow with none missed or repeated. Joins, leaves, presence and typing are not replayed.',
    subscribe: ({ args, context }) => {
      const ctx = context as ChatContext;
      return ctx.services.chat.roomEvents(ctx, args.roomId as string, args.after as string | null | undefined, ctx.connection);
    },
  })
  async roomEvents(
    @Root() event: Positioned<RoomEventData>,
    @Arg('roomId', () => ID, { description: 'The room.' }) _roomId: string,
    @Arg('after', () => String, {
      nullable: true,
      description:
        'Resume after this `streamCursor` of the same room: stored messages after it are replayed first. ' +
        'CURSOR_EXPIRED when older than the retention; BAD_USER_INPUT when it is not a cursor of this room.',
    })
    _after: string | null,
    @Ctx() ctx: Context,
  ): Promise<MessagePosted | MemberJoined | MemberLeft | TypingChanged> {
    const streamCursor = encodeStreamCursor({ kind: 'room', id: event.roomId }, event.position);
    switch (event.type) {
      case 'MESSAGE':
        return Object.assign(new MessagePosted(), { message: Message.fromEvent(event.message), streamCursor });
      case 'JOINED':
        return Object.assign(new MemberJoined(), { user: await loadUser(ctx, event.userId), streamCursor });
      case 'LEFT':
        return Object.assign(new MemberLeft(), { user: await loadUser(ctx, event.userId), streamCursor });
      case 'TYPING':
        return Object.assign(new TypingChanged(), { user: await loadUser(ctx, event.userId), typing: event.typing, streamCursor });
    }
  }

  @Authorized('chat:read')
  @Extensions({ [REPLAY_PAGE_EXTENSION]: REPLAY_PAGE_SIZE })
  @Subscription(() => Message, {
    description:
      'Direct messages sent to the viewer, on every connection they have open, in the order they were stored; with ' +
      "`after` (a received message's `streamCursor`), those stored after it are replayed first.",
    subscribe: ({ args, context }) => {
      const ctx = context as ChatContext;
      return ctx.services.chat.directMessages(ctx, args.after as string | null | undefined, ctx.connection);
    },
  })
  directMessages(
    @Root() message: MessageEventData,
    @Arg('after', () => String, {
      nullable: true,
      description:
        "Resume after this `streamCursor` of one of the viewer's received direct messages. CURSOR_EXPIRED when " +
        'older than the retention; BAD_USER_INPUT when it is not a cursor of this stream.',
    })
    _after: string | null,
  ): Message {
    return Message.fromEvent(message);
  }
}

@Resolver(() => Message)
export class MessageResolver {
  @FieldResolver(() => User, { description: 'Who sent it.' })
  author(@Root() message: Message, @Ctx() ctx: Context) {
    return loadUser(ctx, message.authorId);
  }

  @FieldResolver(() => Room, { nullable: true, description: 'The room it was posted in; null for a direct message.' })
  async room(@Root() message: Message, @Ctx() ctx: Context): Promise<Room | null> {
    if (!message.roomId) return null;
    const row = await ctx.loaders.room.load(message.roomId);
    return row && Room.fromRow(row);
  }

  @FieldResolver(() => User, { nullable: true, description: 'The recipient of a direct message; null for a room message.' })
  async recipient(@Root() message: Message, @Ctx() ctx: Context): Promise<User | null> {
    return message.recipientId ? loadUser(ctx, message.recipientId) : null;
  }
}
