import { createUnionType, Field, ID, ObjectType } from 'type-graphql';
import type { MessageRow, RoomRow } from '../../db/tables.js';
import type { MessageEventData } from '../../pubsub/topics.js';
import { toGlobalId } from '../shared/global-id.js';
import { Node } from '../shared/node.js';
import { encodeStreamCursor } from '../shared/stream-cursor.js';
import { DateTimeScalar } from '../shared/scalars.js';
import { UserError } from '../shared/user-error.js';
import { User } from '../user/user.type.js';

/** Field limits: the service checks them and the descriptions state them, so both read these. */
export const ROOM_NAME_MAX = 100;
export const MESSAGE_MAX = 2_000;

@ObjectType({ implements: Node, description: 'A chat room. Its members read its messages and receive its events.' })
export class Room implements Node {
  readonly __typename = 'Room';

  @Field(() => ID, { description: 'Globally unique, opaque id.' })
  id!: string;

  /** The row's uuid. */
  rowId!: string;

  @Field(() => String, { description: `Unique name (ignoring case), 1 to ${ROOM_NAME_MAX} characters.` })
  name!: string;

  @Field(() => DateTimeScalar, { description: 'When the room was created.' })
  createdAt!: Date;

  static fromRow(row: RoomRow): Room {
    return Object.assign(new Room(), { id: toGlobalId('Room', row.id), rowId: row.id, name: row.name, createdAt: row.createdAt });
  }
}

@ObjectType({ implements: Node, description: 'A chat message: posted in a room, or sent directly to one user.' })
export class Message implements Node {
  readonly __typename = 'Message';

  @Field(() => ID, { description: 'Globally unique, opaque id.' })
  id!: string;

  rowId!: string;
  roomId!: string | null;
  recipientId!: string | null;
  authorId!: string;

  @Field(() => String, { description: `The text, trimmed, 1 to ${MESSAGE_MAX} characters.` })
  body!: string;

  @Field(() => DateTimeScalar, { description: 'When the message was sent.' })
  createdAt!: Date;

  /** Its place in its stream (the room, or the recipient's direct messages). */
  seq!: number;

  @Field(() => String, {
    description:
      "Opaque resume point in the message's stream: `roomEvents(roomId, after:)` for a room message, the recipient's " +
      '`directMessages(after:)` for a direct one, delivers the messages after this one.',
  })
  streamCursor!: string;

  static fromRow(row: MessageRow): Message {
    return Object.assign(new Message(), {
      id: toGlobalId('Message', row.id),
      rowId: row.id,
      roomId: row.roomId,
      recipientId: row.recipientId,
      authorId: row.authorId,
      body: row.body,
      createdAt: row.createdAt,
      seq: row.seq,
      streamCursor: encodeStreamCursor(row.roomId ? { kind: 'room', id: row.roomId } : { kind: 'direct', id: row.recipientId! }, row.seq),
    });
  }

  static fromEvent(event: MessageEventData): Message {
    return Message.fromRow({ ...event, createdAt: new Date(event.createdAt) });
  }

  /** The message as pub/sub carries it; `prev` is the `seq` of its stream's message before it. */
  toEvent(prev: number): MessageEventData {
    return {
      id: this.rowId,
      roomId: this.roomId,
      recipientId: this.recipientId,
      authorId: this.authorId,
      body: this.body,
      createdAt: this.createdAt.toISOString(),
      seq: this.seq,
      prev,
    };
  }
}

/** Every room event's resume point: stored events (messages) are replayed after it, ephemeral ones are not. */
const STREAM_CURSOR_DESCRIPTION =
  'Opaque resume point: `roomEvents(roomId, after:)` with it delivers the messages posted after this event. Only ' +
  'messages are stored and replayed; joins, leaves, presence and typing are delivered live only.';

@ObjectType({ description: 'A message was posted in the room (sent after it was stored).' })
export class MessagePosted {
  @Field(() => Message, { description: 'The new message.' })
  message!: Message;

  @Field(() => String, { description: STREAM_CURSOR_DESCRIPTION })
  streamCursor!: string;
}

@ObjectType({
  description: 'A member joined the room, or opened their first subscription to it (came online). Not replayed on resume.',
})
export class MemberJoined {
  @Field(() => User, { description: 'The member.' })
  user!: User;

  @Field(() => String, { description: STREAM_CURSOR_DESCRIPTION })
  streamCursor!: string;
}

@ObjectType({
  description: 'A member left the room, or closed their last subscription to it (went offline). Not replayed on resume.',
})
export class MemberLeft {
  @Field(() => User, { description: 'The member.' })
  user!: User;

  @Field(() => String, { description: STREAM_CURSOR_DESCRIPTION })
  streamCursor!: string;
}

@ObjectType({ description: 'A member started or stopped typing in the room. Never sent to the typist; ephemeral, not replayed on resume.' })
export class TypingChanged {
  @Field(() => User, { description: 'The member.' })
  user!: User;

  @Field(() => Boolean, { description: 'True while typing; false when stopped or after 5 s without an update.' })
  typing!: boolean;

  @Field(() => String, { description: STREAM_CURSOR_DESCRIPTION })
  streamCursor!: string;
}

export const RoomEvent = createUnionType({
  name: 'RoomEvent',
  description: 'Something that happened in a room.',
  types: () => [MessagePosted, MemberJoined, MemberLeft, TypingChanged] as const,
});

@ObjectType({ description: 'Result of creating, joining or leaving a room.' })
export class RoomPayload {
  @Field(() => Room, { nullable: true, description: 'The room; null when the mutation failed.' })
  room!: Room | null;

  @Field(() => [UserError], { description: 'Why the mutation failed; empty on success.' })
  userErrors!: UserError[];
}

@ObjectType({ description: 'Result of sending a message.' })
export class MessagePayload {
  @Field(() => Message, { nullable: true, description: 'The stored message; null when the mutation failed.' })
  message!: Message | null;

  @Field(() => [UserError], { description: 'Why the mutation failed; empty on success.' })
  userErrors!: UserError[];
}
