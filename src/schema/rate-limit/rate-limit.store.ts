/**
 * Where rate-limit budgets are counted: a fixed window per subject (a user or a client IP) that opens with the first
 * charge and ends `windowMs` later, as GitHub's hourly GraphQL budget does. In-process for one server; Redis when
 * REDIS_URL is set, so every process behind a load balancer draws from the same budget.
 */
import { Redis } from 'ioredis';

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
  /** Spends `points` unless `used + points` would exceed `limit`; check and spend are one atomic step. */
  consume(key: string, points: number, limit: number, windowMs: number): Promise<ConsumeResult>;
  /** The window as it stands, spending nothing. */
  peek(key: string, windowMs: number): Promise<WindowState>;
  close(): Promise<void>;
}

export class MemoryRateLimitStore implements RateLimitStore {
  private readonly windows = new Map<string, { used: number; resetAt: number }>();
  private sweepAt = 1_024;

  private current(key: string, now: number) {
    const window = this.windows.get(key);
    if (window && window.resetAt > now) return window;
    if (window) this.windows.delete(key);
    return undefined;
  }

  async consume(key: string, points: number, limit: number, windowMs: number): Promise<ConsumeResult> {
    const now = Date.now();
    let window = this.current(key, now);
    if (!window) {
      window = { used: 0, resetAt: now + windowMs };
      if (points > limit) return { allowed: false, used: 0, resetAt: new Date(window.resetAt) };
      this.windows.set(key, window);
      this.sweep(now);
    }
    if (window.used + points > limit) return { allowed: false, used: window.used, resetAt: new Date(window.resetAt) };
    window.used += points;
    return { allowed: true, used: window.used, resetAt: new Date(window.resetAt) };
  }

  async peek(key: string, windowMs: number): Promise<WindowState> {
    const now = Date.now();
    const window = this.current(key, now);
    return window ? { used: window.used, resetAt: new Date(window.resetAt) } : { used: 0, resetAt: new Date(now + windowMs) };
  }

  /** Drops ended windows once the map has doubled, so memory follows the number of active subjects. */
  private sweep(now: number) {
    if (this.windows.size < this.sweepAt) return;
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
    this.sweepAt = Math.max(1_024, this.windows.size * 2);
  }

  async close() {
    this.windows.clear();
  }
}

/**
 * Check-and-spend in one Lua script, so concurrent operations of one subject on several processes can never spend
 * past the limit together. The window opens with a PEXPIRE on the key's first charge.
 */
const CONSUME = `
local ttl = redis.call('PTTL', KEYS[1])
local points = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local used = 0
if ttl > 0 then used = tonumber(redis.call('GET', KEYS[1]) or '0') else ttl = window end
if used + points > limit then return {0, used, ttl} end
used = redis.call('INCRBY', KEYS[1], points)
if used == points then redis.call('PEXPIRE', KEYS[1], window) end
return {1, used, ttl}
`;

type ConsumeCommand = (key: string, points: number, limit: number, windowMs: number) => Promise<[number, number, number]>;

export class RedisRateLimitStore implements RateLimitStore {
  private readonly redis: Redis & { opshubRateConsume: ConsumeCommand };

  constructor(
    url: string,
    private readonly prefix = 'opshub:rate:',
  ) {
    const redis = new Redis(url, { maxRetriesPerRequest: 3 });
    redis.defineCommand('opshubRateConsume', { numberOfKeys: 1, lua: CONSUME });
    this.redis = redis as Redis & { opshubRateConsume: ConsumeCommand };
  }

  async consume(key: string, points: number, limit: number, windowMs: number): Promise<ConsumeResult> {
    const [allowed, used, ttl] = await this.redis.opshubRateConsume(this.prefix + key, points, limit, windowMs);
    return { allowed: allowed === 1, used, resetAt: new Date(Date.now() + ttl) };
  }

  async peek(key: string, windowMs: number): Promise<WindowState> {
    const result = await this.redis.multi().get(this.prefix + key).pttl(this.prefix + key).exec();
    const used = Number(result?.[0]?.[1] ?? 0);
    const ttl = Number(result?.[1]?.[1] ?? -2);
    return ttl > 0 ? { used, resetAt: new Date(Date.now() + ttl) } : { used: 0, resetAt: new Date(Date.now() + windowMs) };
  }

  async close() {
    await this.redis.quit();
  }
}

export function createRateLimitStore(redisUrl: string | null): RateLimitStore {
  return redisUrl ? new RedisRateLimitStore(redisUrl) : new MemoryRateLimitStore();
}
