import type { DomainModule } from '../shared/domain.js';
import { TaskResolver } from './task.resolver.js';
import { Task } from './task.type.js';

export const taskModule: DomainModule = {
  resolvers: [TaskResolver],
  nodes: {
    Task: {
      scopes: ['tasks:read'],
      fetch: async (ctx, id) => {
        const row = await ctx.loaders.task.load(id);
        return row && ctx.services.tasks.visible(ctx, row) ? Task.fromRow(row) : null;
      },
    },
  },
};
