/**
 * The Redis rate-limit store (REDIS_URL): check-and-spend is atomic across concurrent callers and processes, the
 * window is a key expiry, and the server's budgets live there, so every process behind a load balancer shares them.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { rateLimitDefaults } from '../../src/config.js';
import { RateLimitService } from '../../src/schema/rate-limit/rate-limit.service.js';
import { RedisRateLimitStore } from '../../src/schema/rate-limit/rate-limit.store.js';
import { createUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { wsFor, wsRun } from './helpers.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `opshub-test:${randomBytes(4).toString('hex')}:`;

let redis: Redis;
let store: RedisRateLimitStore;
let server: TestServer;
beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  store = new RedisRateLimitStore(REDIS_URL, prefix);
  server = await startServer({ REDIS_URL, RATE_LIMIT_USER: '10' });
});
afterAll(async () => {
  await server?.close();
  await store?.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe('RedisRateLimitStore', () => {
  it('lets exactly the budget through when 200 charges race for 50 points', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, () => store.consume('race', 1, 50, 60_000)));
    expect(results.filter((r) => r.allowed)).toHaveLength(50);
    expect(await redis.get(`${prefix}race`)).toBe('50');
    const ttl = await redis.pttl(`${prefix}race`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('refuses a charge larger than what remains without spending any of it', async () => {
    expect(await store.consume('partial', 8, 10, 60_000)).toMatchObject({ allowed: true, used: 8 });
    expect(await store.consume('partial', 3, 10, 60_000)).toMatchObject({ allowed: false, used: 8 });
    expect(await store.consume('partial', 2, 10, 60_000)).toMatchObject({ allowed: true, used: 10 });
    expect(await store.peek('partial', 60_000)).toMatchObject({ used: 10 });
  });

  it('opens a new window once the key has expired', async () => {
    const first = await store.consume('window', 5, 5, 200);
    expect(first.allowed).toBe(true);
    expect((await store.consume('window', 1, 5, 200)).allowed).toBe(false);
    // Redis expires the key on its own clock: wait for that, not for a fixed time.
    await vi.waitFor(async () => expect(await redis.exists(`${prefix}window`)).toBe(0), { timeout: 5_000, interval: 50 });
    const next = await store.consume('window', 1, 5, 200);
    expect(next).toMatchObject({ allowed: true, used: 1 });
    expect(next.resetAt.getTime()).toBeGreaterThan(first.resetAt.getTime());
  });
});

describe('a server with REDIS_URL', () => {
  it('keeps a viewer’s budget in Redis, shared by both transports and by any other process', async () => {
    const user = await createUser(server, { role: 'USER' });
    await server.gql('{ items(first: 1) { totalCount } }', undefined, { token: user.token });
    const ws = await wsRun(wsFor(server, user.token), { query: '{ items(first: 100) { nodes { id } } }' });
    expect(ws.extensions?.cost).toMatchObject({ charged: 1, remaining: 8 });
    expect(await redis.get(`opshub:rate:user:${user.rowId}`)).toBe('2');

    // Another process: its own service on the same Redis sees, and spends from, the same budget.
    const other = new RateLimitService({ store: new RedisRateLimitStore(REDIS_URL), config: { ...rateLimitDefaults, user: 10 } });
    try {
      const subject = other.subject({ id: user.rowId, role: 'USER' }, '10.0.0.1');
      expect((await other.charge(subject, 800)).remaining).toBe(0);
    } finally {
      await other.close();
    }
    const refused = await server.gql('{ items(first: 1) { totalCount } }', undefined, { token: user.token });
    expect(refused.status).toBe(429);
    expect(refused.body.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', remaining: 0 });
    await redis.del(`opshub:rate:user:${user.rowId}`);
  });
});
