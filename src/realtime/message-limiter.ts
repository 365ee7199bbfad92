/**
 * At most `limit` messages per user in any `windowMs` (a sliding log; the seed's WebSocket limiter, 001 Q14:
 * 10 messages per 60 s). Per process: with REDIS_URL each process counts the messages it accepted.
 */
export class MessageLimiter {
  private readonly sent = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Records a message and returns 0, or returns the ms until the next message would be allowed (nothing recorded). */
  take(userId: string, now = Date.now()): number {
    const since = now - this.windowMs;
    const times = (this.sent.get(userId) ?? []).filter((time) => time > since);
    if (times.length >= this.limit) {
      this.sent.set(userId, times);
      return times[0]! + this.windowMs - now;
    }
    times.push(now);
    this.sent.set(userId, times);
    if (this.sent.size > 10_000) this.sweep(since);
    return 0;
  }

  private sweep(since: number) {
    for (const [userId, times] of this.sent) if (times.at(-1)! <= since) this.sent.delete(userId);
  }
}
