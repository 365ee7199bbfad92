/**
 * Where rate-limit budgets are counted: a fixed window per subject (a user or a client IP) that opens with the first
 * charge and ends `windowMs` later, as GitHub's hourly GraphQL budget does. rate-limiter-flexible keeps the counts and
 * the windows: in process for one server (`RateLimiterMemory`), in Redis when REDIS_URL is set (`RateLimiterRedis`),
 * so every process behind a load balancer draws from the same budget.
 */
import { Redis } from 'ioredis';
import { closeRedis } from '../../pubsub/redis.js';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';

export interface WindowState {
  /** Points spent in the current window. */
  used: number;
  /** When the current window ends (for a subject with no open window: now + window). */
  resetAt: Date;
}

export interface ConsumeResult extends WindowState {
  /** False when the charge would exceed the limit; nothing was spent then. */
  allowed: boolean;
}

export interface RateLimitStore {
  /** Spends `points` unless `used + points` would exceed `limit`; a refused charge spends nothing. */
  consume(key: string, points: number, limit: number, windowMs: number): Promise<ConsumeResult>;
  /** The window as it stands, spending nothing. */
  peek(key: string, windowMs: number): Promise<WindowState>;
  close(): Promise<void>;
}

/**
 * The limit is checked here, against the count the store returns, not by rate-limiter-flexible: limits differ per
 * subject (anonymous, USER, MODERATOR, ADMIN) while a limiter has one, and a subject's count must stay one count
 * whatever its limit (a role change keeps the window's spend; `peek` knows no limit). So one limiter per window
 * length, whose own limit is never reached.
 */
const UNLIMITED = Number.MAX_SAFE_INTEGER;

abstract class FlexibleRateLimitStore implements RateLimitStore {
  private readonly limiters = new Map<number, RateLimiterAbstract>();

  /** A limiter for windows of `seconds`, in the store's backend. */
  protected abstract createLimiter(seconds: number): RateLimiterAbstract;
  /** The window length the backend can keep, in seconds. */
  protected abstract seconds(windowMs: number): number;
  protected abstract storeKey(key: string): string;

  /**
   * The end last reported per key, with the span it is known to lie in. The store answers with the time left as of
   * its own clock reading, taken somewhere between the two readings of ours around the call; so a window's end is
   * known to within that span, which a busy event loop widens to several milliseconds. An answer whose span overlaps
   * the last one's is about the same window (the next one ends a whole window later) and repeats the end reported
   * then, so every answer about a window names the same end. Bounded: a cleared key anchors again at its next answer.
   */
  private readonly ends = new Map<string, WindowEnd>();

  private stableEnd(key: string, answer: WindowEnd): Date {
    const previous = this.ends.get(key);
    // msBeforeNext and Date.now are whole milliseconds: a millisecond either way.
    if (previous !== undefined && previous.earliest <= answer.latest + 1 && answer.earliest <= previous.latest + 1) {
      // The end lies in both spans: keep the narrower knowledge, report the same end.
      previous.earliest = Math.max(previous.earliest, answer.earliest);
      previous.latest = Math.min(previous.latest, answer.latest);
      return new Date(previous.reported);
    }
    if (this.ends.size >= 10_000) this.ends.clear();
    this.ends.set(key, answer);
    return new Date(answer.reported);
  }

  private windowLength(windowMs: number): number {
    return this.seconds(windowMs) * 1_000;
  }

  private limiter(windowMs: number): RateLimiterAbstract {
    const seconds = this.seconds(windowMs);
    let limiter = this.limiters.get(seconds);
    if (!limiter) this.limiters.set(seconds, (limiter = this.createLimiter(seconds)));
    return limiter;
  }

  async consume(key: string, points: number, limit: number, windowMs: number): Promise<ConsumeResult> {
    const limiter = this.limiter(windowMs);
    const storeKey = this.storeKey(key);
    const charged = await answered(() => limiter.consume(storeKey, points));
    if (charged.window.consumedPoints <= limit)
      return { allowed: true, used: charged.window.consumedPoints, resetAt: this.stableEnd(key, charged.end) };
    // The store adds first and answers with the new count, so a refused charge was spent for a moment: give it back.
    // Add-then-refund can never let a window spend past its limit, since every charge is judged on a count that
    // already holds every earlier one. Its cost is at the edge of a budget: a charge racing this one sees the points
    // we are about to give back and may be refused although, once refunded, they would have fitted.
    let refunded = await answered(() => limiter.reward(storeKey, points));
    // If the window ended between the charge and the refund, the refund landed in the next window as a credit (a
    // refund on an expired key opens it in the negative): take it back there. Until then, one round trip at the very
    // start of that window, it counts `points` too few.
    if (refunded.end.reported - charged.end.reported > this.windowLength(windowMs) / 2) {
      refunded = await answered(() => limiter.penalty(storeKey, points));
    }
    return { allowed: false, used: Math.max(0, refunded.window.consumedPoints), resetAt: this.stableEnd(key, refunded.end) };
  }

  async peek(key: string, windowMs: number): Promise<WindowState> {
    const read = await answered(() => this.limiter(windowMs).get(this.storeKey(key)));
    // The in-memory store drops an ended window on a timer, so `get` may still see one.
    if (read.window === null || read.window.msBeforeNext <= 0)
      return { used: 0, resetAt: new Date(read.asked + this.windowLength(windowMs)) };
    return { used: Math.max(0, read.window.consumedPoints), resetAt: this.stableEnd(key, read.end) };
  }

  async close(): Promise<void> {
    this.limiters.clear();
  }
}

/** When a window ends, as one answer of the store tells it: between `earliest` and `latest`; `reported` is `latest`. */
interface WindowEnd {
  earliest: number;
  latest: number;
  reported: number;
}

/**
 * Asks the store about a window. Its answer is the time left (`msBeforeNext`) as of a moment between `asked` and our
 * reading after the answer, so the window ends within `msBeforeNext` of that span.
 */
async function answered<T extends RateLimiterRes | null>(ask: () => Promise<T>): Promise<{ window: T; asked: number; end: WindowEnd }> {
  const asked = Date.now();
  const window = await ask();
  const left = window?.msBeforeNext ?? 0;
  const latest = Date.now() + left;
  return { window, asked, end: { earliest: asked + left, latest, reported: latest } };
}

export class MemoryRateLimitStore extends FlexibleRateLimitStore {
  protected createLimiter(seconds: number): RateLimiterAbstract {
    return new RateLimiterMemory({ points: UNLIMITED, duration: seconds, keyPrefix: '' });
  }

  /** Timers in ms: the window is kept exactly. */
  protected seconds(windowMs: number): number {
    return windowMs / 1_000;
  }

  protected storeKey(key: string): string {
    return key;
  }
}

export class RedisRateLimitStore extends FlexibleRateLimitStore {
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly prefix = 'opshub:rate:',
  ) {
    super();
    // While Redis is unreachable a command fails at once (no offline queue), or after a second without an answer, and
    // the insurance limiter answers: queries keep their speed through an outage instead of each waiting on Redis.
    // Only the first commands wait, for the first connection (a second at most), so a process that just started
    // does not count in memory what it could count in Redis.
    this.redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1_000 });
    this.redis.on('error', () => {});
    this.firstConnection = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1_000).unref();
      this.redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private readonly firstConnection: Promise<void>;

  override async consume(key: string, points: number, limit: number, windowMs: number): Promise<ConsumeResult> {
    await this.firstConnection;
    return super.consume(key, points, limit, windowMs);
  }

  override async peek(key: string, windowMs: number): Promise<WindowState> {
    await this.firstConnection;
    return super.peek(key, windowMs);
  }

  /**
   * While Redis does not answer, each process counts in memory (rate-limiter-flexible's insurance limiter): budgets
   * are per process for that time, and operations keep running instead of failing with the store.
   */
  protected createLimiter(seconds: number): RateLimiterAbstract {
    return new RateLimiterRedis({
      storeClient: this.redis,
      points: UNLIMITED,
      duration: seconds,
      keyPrefix: '',
      insuranceLimiter: new RateLimiterMemory({ points: UNLIMITED, duration: seconds, keyPrefix: '' }),
    });
  }

  /**
   * RateLimiterRedis sets the key's expiry in whole seconds (`EX`) and keeps a key of a window under one second
   * forever, so a window is rounded up to the next whole second.
   */
  protected seconds(windowMs: number): number {
    return Math.max(1, Math.ceil(windowMs / 1_000));
  }

  protected storeKey(key: string): string {
    return this.prefix + key;
  }

  override async close(): Promise<void> {
    await super.close();
    await closeRedis(this.redis);
  }
}

export function createRateLimitStore(redisUrl: string | null, redisPrefix = 'opshub:'): RateLimitStore {
  return redisUrl ? new RedisRateLimitStore(redisUrl, `${redisPrefix}rate:`) : new MemoryRateLimitStore();
}
