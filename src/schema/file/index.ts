import type { DomainModule } from '../shared/domain.js';
import {
  ItemImagesResolver,
  JobResultUrlResolver,
  PostAttachmentsResolver,
  TaskAttachmentsResolver,
  UserAvatarResolver,
} from './attachments.resolver.js';
import { FileResolver } from './file.resolver.js';
import { StoredFile } from './file.type.js';

export const fileModule: DomainModule = {
  resolvers: [FileResolver, ItemImagesResolver, TaskAttachmentsResolver, PostAttachmentsResolver, UserAvatarResolver, JobResultUrlResolver],
  nodes: {
    File: {
      scopes: ['files:read'],
      fetch: async (ctx, id) => {
        const row = await ctx.loaders.file.load(id);
        return row && (await ctx.services.files.visible(ctx, row)) ? StoredFile.fromRow(row) : null;
      },
    },
  },
};
