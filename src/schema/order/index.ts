import type { DomainModule } from '../shared/domain.js';
import { OrderResolver } from './order.resolver.js';
import { Order } from './order.type.js';

export const orderModule: DomainModule = {
  resolvers: [OrderResolver],
  nodes: {
    Order: {
      scopes: [],
      fetch: async (ctx, id) => {
        const row = await ctx.loaders.order.load(id);
        return row && ctx.services.orders.visible(ctx, row) ? Order.fromRow(row) : null;
      },
    },
  },
};
