/**
 * At most `limit` messages per user per window of `windowMs` (by default 10 messages per 60 s): a fixed window that
 * opens with the user's first message, counted by rate-limiter-flexible. In process without REDIS_URL; with it, in
 * Redis (`RateLimiterRedis`), so the 11th message is refused whichever process receives it. While Redis does not
 * answer, the insurance limiter counts in process. RateLimiterRedis keeps windows in whole seconds (`EX`): a window
 * under a second is rounded up to one.
 */
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface SharedLimiterStore {
  client: Redis;
  /** config.redisPrefix. */
  prefix: string;
}

export class MessageLimiter {
  private readonly limiter: RateLimiterAbstract;

  constructor(limit: number, windowMs: number, shared?: SharedLimiterStore | null) {
    const memory = new RateLimiterMemory({ points: limit, duration: windowMs / 1_000, keyPrefix: '' });
    this.limiter = shared
      ? new RateLimiterRedis({
          storeClient: shared.client,
          points: limit,
          duration: Math.max(1, Math.ceil(windowMs / 1_000)),
          keyPrefix: `${shared.prefix}chat-limit`,
          rejectIfRedisNotReady: true,
          insuranceLimiter: memory,
        })
      : memory;
  }

  /** Records a message and returns 0, or returns the ms until the next message would be allowed (nothing recorded). */
  async take(userId: string): Promise<number> {
    try {
      await this.limiter.consume(userId);
      return 0;
    } catch (refused) {
      if (!(refused instanceof RateLimiterRes)) throw refused;
      // The refused message is counted too (consume always adds), which records nothing that matters: the window's
      // end does not move and every message is refused until then anyway. So no refund, and no refund to race.
      return Math.max(1, refused.msBeforeNext);
    }
  }
}
