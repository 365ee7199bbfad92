import { Field, ID, InputType } from 'type-graphql';
import type { InputOf } from '../shared/validation.js';
import { MESSAGE_MAX, ROOM_NAME_MAX, type Message, type Room } from './chat.type.js';

@InputType({ description: 'A new chat room; its creator becomes its first member.' })
export class CreateRoomInput implements InputOf<Room> {
  @Field(() => String, { description: `Unique name (ignoring case), 1 to ${ROOM_NAME_MAX} characters after trimming.` })
  name!: string;
}

@InputType({ description: 'A message to post in a room the viewer is a member of.' })
export class SendMessageInput implements InputOf<Message> {
  @Field(() => ID, { description: 'The room.' })
  roomId!: string;

  @Field(() => String, { description: `The text; trimmed, 1 to ${MESSAGE_MAX} characters.` })
  body!: string;
}

@InputType({ description: 'A message to one other user.' })
export class SendDirectMessageInput implements InputOf<Message> {
  @Field(() => ID, { description: 'The recipient.' })
  toUserId!: string;

  @Field(() => String, { description: `The text; trimmed, 1 to ${MESSAGE_MAX} characters.` })
  body!: string;
}
