import { Field, ID, InputType } from 'type-graphql';
import type { InputOf } from '../shared/validation.js';
import { BODY_MAX, NotificationKind, TITLE_MAX, type Notification } from './notification.type.js';

/** Recipients of one sendNotification; the service checks it and the description states it. */
export const MAX_RECIPIENTS = 100;
/** Ids one markNotificationsRead may list; the service checks it and the argument's description states it. */
export const MAX_MARK_READ_IDS = 100;

@InputType({ description: 'A notification to store for each of the given users.' })
export class SendNotificationInput implements InputOf<Notification> {
  @Field(() => [ID], { description: `The recipients, 1 to ${MAX_RECIPIENTS} users.` })
  userIds!: string[];

  @Field(() => NotificationKind, { nullable: true, description: 'How it should be presented; INFO when absent.' })
  kind?: NotificationKind | null;

  @Field(() => String, { description: `Short title, 1 to ${TITLE_MAX} characters after trimming.` })
  title!: string;

  @Field(() => String, { description: `The text, 1 to ${BODY_MAX} characters after trimming.` })
  body!: string;
}
