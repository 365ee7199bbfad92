import type { DomainModule } from '../shared/domain.js';
import { FileResolver } from './file.resolver.js';
import { StoredFile } from './file.type.js';

export const fileModule: DomainModule = {
  resolvers: [FileResolver],
  nodes: {
    File: {
      scopes: ['files:read'],
      fetch: async (ctx, id) => {
        const row = await ctx.loaders.file.load(id);
        return row && ctx.services.files.visible(ctx, row) ? StoredFile.fromRow(row) : null;
      },
    },
  },
};
