import type { DomainModule } from '../shared/domain.js';
import { NotificationResolver } from './notification.resolver.js';
import { Notification } from './notification.type.js';

export const notificationModule: DomainModule = {
  resolvers: [NotificationResolver],
  nodes: {
    Notification: {
      scopes: ['notifications:read'],
      fetch: async (ctx, id) => {
        const row = await ctx.loaders.notification.load(id);
        return row && ctx.services.notifications.visible(ctx.viewer!.id, row) ? Notification.fromRow(row) : null;
      },
    },
  },
};
