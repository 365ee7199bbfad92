import type { DomainModule } from '../shared/domain.js';
import { ItemResolver } from './item.resolver.js';
import { Item } from './item.type.js';

export const itemModule: DomainModule = {
  resolvers: [ItemResolver],
  nodes: {
    Item: {
      scopes: ['items:read'],
      fetch: async (ctx, id) => {
        const row = await ctx.loaders.item.load(id);
        return row && Item.fromRow(row);
      },
    },
  },
};
