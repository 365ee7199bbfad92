/**
 * The end of a rate-limit window, as the store reports it: the same instant on every answer about one window, however
 * long the event loop stalls between our clock reading and the store's (a garbage collection, a busy process).
 */
import { describe, expect, it } from 'vitest';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { MemoryRateLimitStore } from '../../src/schema/rate-limit/rate-limit.store.js';

/** Blocks the thread, as a long garbage collection would. */
function stall(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until);
}

/** The in-memory store, its limiter's clock read `stalls.shift()` ms after the store was asked. */
class StallingStore extends MemoryRateLimitStore {
  readonly stalls: number[] = [];

  protected override createLimiter(seconds: number): RateLimiterAbstract {
    const limiter = super.createLimiter(seconds);
    const stalled =
      <A extends unknown[], R>(method: (...args: A) => R) =>
      (...args: A): R => {
        stall(this.stalls.shift() ?? 0);
        return method.apply(limiter, args);
      };
    limiter.consume = stalled(limiter.consume);
    limiter.get = stalled(limiter.get);
    return limiter;
  }
}

describe('the end of a rate-limit window', () => {
  it('is the same on every answer about one window when the store reads its clock late', async () => {
    const store = new StallingStore();
    const opened = await store.consume('user:1', 1, 100, 60_000);
    store.stalls.push(15, 0, 25);
    const late = await store.consume('user:1', 1, 100, 60_000);
    const onTime = await store.peek('user:1', 60_000);
    const later = await store.peek('user:1', 60_000);
    expect([late.resetAt, onTime.resetAt, later.resetAt].map((end) => end.toISOString())).toEqual(
      Array(3).fill(opened.resetAt.toISOString()),
    );
    expect(late.used).toBe(2);
  });

  it('moves to the next window once one ended', async () => {
    const store = new StallingStore();
    const first = await store.consume('user:2', 1, 100, 50);
    await new Promise((resolve) => setTimeout(resolve, 80));
    store.stalls.push(10);
    const next = await store.consume('user:2', 1, 100, 50);
    expect(next.used).toBe(1);
    expect(next.resetAt.getTime()).toBeGreaterThanOrEqual(first.resetAt.getTime() + 50);
  });
});
