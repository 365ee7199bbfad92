import type { DomainModule } from '../shared/domain.js';
import { AuthResolver } from './auth.resolver.js';
import { UserResolver } from './user.resolver.js';
import { User } from './user.type.js';

export const userModule: DomainModule = {
  resolvers: [UserResolver, AuthResolver],
  nodes: {
    // Any signed-in user may look up an account (e-mail stays hidden by User.email's own rule).
    User: {
      scopes: [],
      fetch: async (ctx, id) => {
        const row = await ctx.loaders.user.load(id);
        return row && User.fromRow(row);
      },
    },
  },
};
