import { Field, ID, InputType } from 'type-graphql';
import { NotificationKind } from './notification.type.js';

@InputType({ description: 'A notification to store for each of the given users.' })
export class SendNotificationInput {
  @Field(() => [ID], { description: 'The recipients, 1 to 100 users.' })
  userIds!: string[];

  @Field(() => NotificationKind, { nullable: true, description: 'How it should be presented; INFO when absent.' })
  kind?: NotificationKind | null;

  @Field(() => String, { description: 'Short title, 1 to 200 characters after trimming.' })
  title!: string;

  @Field(() => String, { description: 'The text, 1 to 2000 characters after trimming.' })
  body!: string;
}
