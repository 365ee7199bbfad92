import { Field, ID, InputType } from 'type-graphql';

@InputType({ description: 'A new chat room; its creator becomes its first member.' })
export class CreateRoomInput {
  @Field(() => String, { description: 'Unique name (ignoring case), 1 to 100 characters after trimming.' })
  name!: string;
}

@InputType({ description: 'A message to post in a room the viewer is a member of.' })
export class SendMessageInput {
  @Field(() => ID, { description: 'The room.' })
  roomId!: string;

  @Field(() => String, { description: 'The text; trimmed, 1 to 2000 characters.' })
  body!: string;
}

@InputType({ description: 'A message to one other user.' })
export class SendDirectMessageInput {
  @Field(() => ID, { description: 'The recipient.' })
  toUserId!: string;

  @Field(() => String, { description: 'The text; trimmed, 1 to 2000 characters.' })
  body!: string;
}
