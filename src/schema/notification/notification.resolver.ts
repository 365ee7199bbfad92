import { Arg, Args, Authorized, Ctx, Extensions, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { REPLAY_PAGE_SIZE } from '../../realtime/ordered.js';
import { REPLAY_PAGE_EXTENSION } from '../shared/stream-cursor.js';
import type { Context } from '../context.js';
import type { NotificationEvent } from '../../pubsub/topics.js';
import type { RealtimeContext } from '../../realtime/connections.js';
import { ConnectionArgs, connectionTypes } from '../shared/connection.js';
import { MAX_MARK_READ_IDS, SendNotificationInput } from './notification.input.js';
import { Notification, SendNotificationPayload } from './notification.type.js';

export const { ConnectionType: NotificationConnection } = connectionTypes(Notification, 'Notification', 'notifications');

@Resolver(() => Notification)
export class NotificationResolver {
  @Authorized('notifications:read')
  @Query(() => NotificationConnection, { description: "The viewer's notifications, newest first." })
  notifications(
    @Args(() => ConnectionArgs) args: ConnectionArgs,
    @Arg('unreadOnly', () => Boolean, { nullable: true, description: 'Only those not yet marked read.' }) unreadOnly: boolean | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.notifications.list(ctx, args, unreadOnly ?? false);
  }

  @Authorized('notifications:read')
  @Mutation(() => Int, { description: "Marks the viewer's notifications read; returns how many were unread before." })
  markNotificationsRead(
    @Arg('ids', () => [ID], { nullable: true, description: `The notifications to mark (at most ${MAX_MARK_READ_IDS}); all when null.` })
    ids: string[] | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.notifications.markRead(ctx, ids);
  }

  @Authorized('notifications:write')
  @Mutation(() => SendNotificationPayload, {
    description: 'Stores a notification for each recipient and pushes it to their `notificationReceived` subscriptions.',
  })
  sendNotification(
    @Arg('input', () => SendNotificationInput, { description: 'The recipients and the notification.' }) input: SendNotificationInput,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.notifications.send(input);
  }

  @Authorized('notifications:read')
  @Extensions({ [REPLAY_PAGE_EXTENSION]: REPLAY_PAGE_SIZE })
  @Subscription(() => Notification, {
    description:
      "The viewer's new notifications, as they are stored, on every connection they have open, in the order of their " +
      "list; with `after` (a notification's `streamCursor`), those stored after it are replayed first.",
    subscribe: ({ args, context }) => {
      const ctx = context as Context & RealtimeContext;
      return ctx.services.notifications.received(ctx, args.after as string | null | undefined, ctx.connection);
    },
  })
  notificationReceived(
    @Root() event: NotificationEvent,
    @Arg('after', () => String, {
      nullable: true,
      description:
        "Resume after this `streamCursor` of one of the viewer's notifications. CURSOR_EXPIRED when older than the " +
        'retention; BAD_USER_INPUT when it is not a cursor of this stream.',
    })
    _after: string | null,
  ): Notification {
    return Notification.fromEvent(event);
  }
}
