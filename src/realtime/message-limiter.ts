/**
 * At most `limit` messages per user per window of `windowMs` (by default 10 messages per 60 s). A fixed window that opens with the user's first message, counted by rate-limiter-flexible in process: with
 * REDIS_URL each process counts the messages it accepted.
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export class MessageLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(limit: number, windowMs: number) {
    this.limiter = new RateLimiterMemory({ points: limit, duration: windowMs / 1_000, keyPrefix: '' });
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
