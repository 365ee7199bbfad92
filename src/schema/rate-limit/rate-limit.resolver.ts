import { Ctx, Query, Resolver } from 'type-graphql';
import type { Context } from '../context.js';
import type { RateLimitContext } from './rate-limit.service.js';
import { RateLimit } from './rate-limit.type.js';

@Resolver(() => RateLimit)
export class RateLimitResolver {
  // Public on purpose: anonymous callers see their IP's budget. Asking only for this costs nothing.
  @Query(() => RateLimit, { description: 'The caller’s rate-limit budget; asking only for it spends nothing.' })
  rateLimit(@Ctx() ctx: Context & RateLimitContext): RateLimit {
    return ctx.services.rateLimit.status(ctx.rateLimit);
  }
}
