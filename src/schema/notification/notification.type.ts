import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { NotificationRow } from '../../db/tables.js';
import type { NotificationEvent } from '../../pubsub/topics.js';
import { toGlobalId } from '../shared/global-id.js';
import { Node } from '../shared/node.js';
import { encodeStreamCursor } from '../shared/stream-cursor.js';
import { DateTimeScalar } from '../shared/scalars.js';
import { UserError } from '../shared/user-error.js';

/** Field limits: the service checks (or truncates to) them and the descriptions state them, so both read these. */
export const TITLE_MAX = 200;
export const BODY_MAX = 2_000;

export enum NotificationKind {
  INFO = 'INFO',
  SUCCESS = 'SUCCESS',
  WARNING = 'WARNING',
  ERROR = 'ERROR',
}

registerEnumType(NotificationKind, {
  name: 'NotificationKind',
  description: 'How a notification should be presented.',
  valuesConfig: {
    INFO: { description: 'Neutral information (the default).' },
    SUCCESS: { description: 'Something finished well.' },
    WARNING: { description: 'Something needs attention.' },
    ERROR: { description: 'Something failed.' },
  },
});

@ObjectType({ implements: Node, description: 'A notification for one user, kept until read (and after).' })
export class Notification implements Node {
  readonly __typename = 'Notification';

  @Field(() => ID, { description: 'Globally unique, opaque id.' })
  id!: string;

  rowId!: string;
  userId!: string;

  @Field(() => NotificationKind, { description: 'How it should be presented.' })
  kind!: NotificationKind;

  @Field(() => String, { description: `Short title, 1 to ${TITLE_MAX} characters.` })
  title!: string;

  @Field(() => String, { description: `The text, 1 to ${BODY_MAX} characters.` })
  body!: string;

  @Field(() => DateTimeScalar, { nullable: true, description: 'When the recipient marked it read; null while unread.' })
  readAt!: Date | null;

  @Field(() => DateTimeScalar, { description: 'When it was sent.' })
  createdAt!: Date;

  @Field(() => String, {
    description:
      "Opaque resume point in the recipient's stream: `notificationReceived(after:)` delivers the notifications stored after this one.",
  })
  streamCursor!: string;

  static fromRow(row: NotificationRow): Notification {
    return Object.assign(new Notification(), {
      id: toGlobalId('Notification', row.id),
      rowId: row.id,
      userId: row.userId,
      kind: row.kind as NotificationKind,
      title: row.title,
      body: row.body,
      readAt: row.readAt,
      createdAt: row.createdAt,
      streamCursor: encodeStreamCursor({ kind: 'notifications', id: row.userId }, row.seq),
    });
  }

  static fromEvent(event: NotificationEvent): Notification {
    return Notification.fromRow({
      ...event,
      kind: event.kind as NotificationRow['kind'],
      readAt: null,
      createdAt: new Date(event.createdAt),
    });
  }
}

@ObjectType({ description: 'Result of sending a notification.' })
export class SendNotificationPayload {
  @Field(() => Int, { description: 'How many notifications were stored (one per recipient).' })
  sentCount!: number;

  @Field(() => [UserError], { description: 'Recipients that do not exist, or invalid fields; empty on success.' })
  userErrors!: UserError[];
}
