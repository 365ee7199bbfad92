import type { DomainModule } from '../shared/domain.js';
import { JobResolver } from './job.resolver.js';

export const jobModule: DomainModule = {
  resolvers: [JobResolver],
  nodes: {
    // Own jobs; everyone's with jobs:read (as the `jobs` list).
    Job: { scopes: [], fetch: async (ctx, id) => ctx.services.jobs.fromRow(ctx, await ctx.loaders.job.load(id)) },
  },
};
