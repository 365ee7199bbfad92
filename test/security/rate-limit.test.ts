/**
 * Cost-based rate limits on both transports (acceptance 5): an operation is charged max(1, ceil(cost / 100)) points
 * before it runs, the charge is reported in `extensions.cost`, over budget is RATE_LIMITED with nothing executed,
 * the budget is per viewer (per client IP when anonymous) and comes back when the window ends.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';
import { wsFor, wsRun, type OperationResult } from './helpers.js';

const WINDOW_MS = 60_000;
const USER_LIMIT = 6;

let server: TestServer;
beforeAll(async () => {
  server = await startServer({
    RATE_LIMIT_WINDOW_MS: String(WINDOW_MS),
    RATE_LIMIT_USER: String(USER_LIMIT),
    RATE_LIMIT_MODERATOR: '40',
    RATE_LIMIT_ADMIN: '50',
    RATE_LIMIT_ANONYMOUS: '30',
  });
});
afterAll(() => server?.close());
afterEach(() => vi.restoreAllMocks());

const PLAIN = 'query Plain { items(first: 1) { totalCount } }';
const PAGE_100 = 'query Page { items(first: 100) { nodes { id } } }';
const PAGE_200 = 'query Pages { items(first: 100) { nodes { id } } more: items(first: 100) { nodes { id } } }';
const STATUS = 'query Status { rateLimit { limit remaining cost resetAt } }';

type Transport = 'http' | 'ws';

async function run(
  transport: Transport,
  query: string,
  user?: TestUser,
  variables?: Record<string, unknown>,
): Promise<OperationResult & { status?: number; headers?: Headers }> {
  if (transport === 'http') {
    const response = await server.gql(query, variables, { token: user?.token });
    return { ...response.body, status: response.status, headers: response.headers };
  }
  return wsRun(wsFor(server, user?.token), { query, variables });
}

describe.each(['http', 'ws'] as const)('rate limits over %s', (transport) => {
  it('charges a plain query the minimum of one point and reports requested, charged, remaining and resetAt', async () => {
    const user = await createUser(server, { role: 'USER' });
    const before = Date.now();
    const result = await run(transport, PLAIN, user);
    expect(result.errors).toBeUndefined();
    // A connection costs its page size times its children's cost; scalars cost nothing, so this costs 0.
    expect(result.extensions?.cost).toMatchObject({ requested: 0, charged: 1, remaining: USER_LIMIT - 1 });
    const resetAt = Date.parse(result.extensions!.cost.resetAt);
    expect(resetAt).toBeGreaterThanOrEqual(before + WINDOW_MS - 1_000);
    expect(resetAt).toBeLessThanOrEqual(Date.now() + WINDOW_MS);
  });

  it('charges a page of 100 nodes one point and 200 nodes two points', async () => {
    const user = await createUser(server, { role: 'USER' });
    const page = await run(transport, PAGE_100, user);
    expect(page.extensions?.cost).toMatchObject({ requested: 100, charged: 1, remaining: USER_LIMIT - 1 });
    const pages = await run(transport, PAGE_200, user);
    expect(pages.extensions?.cost).toMatchObject({ requested: 200, charged: 2, remaining: USER_LIMIT - 3 });
  });

  it('reports the budget through rateLimit without spending it', async () => {
    const user = await createUser(server, { role: 'USER' });
    await run(transport, PLAIN, user);
    const first = await run(transport, STATUS, user);
    const second = await run(transport, `${STATUS.replace('Status', 'Again')}`, user);
    for (const result of [first, second]) {
      expect(result.errors).toBeUndefined();
      expect(result.data!.rateLimit).toMatchObject({ limit: USER_LIMIT, remaining: USER_LIMIT - 1, cost: 0 });
      expect(result.extensions?.cost).toMatchObject({ charged: 0, remaining: USER_LIMIT - 1 });
    }
    expect(first.data!.rateLimit.resetAt).toBe(second.data!.rateLimit.resetAt);
  });

  it('reports the charge of the operation rateLimit is part of', async () => {
    const user = await createUser(server, { role: 'USER' });
    // rateLimit (an object: 1) + 100 items (100) = 101, so two points.
    const result = await run(transport, 'query Both { rateLimit { remaining cost } items(first: 100) { nodes { id } } }', user);
    expect(result.data!.rateLimit).toEqual({ remaining: USER_LIMIT - 2, cost: 2 });
    expect(result.extensions?.cost).toMatchObject({ requested: 101, charged: 2 });
  });

  it('gives moderators and admins the larger budget and anonymous callers the IP budget', async () => {
    const moderator = await createUser(server, { role: 'MODERATOR' });
    const admin = await createUser(server, { role: 'ADMIN' });
    expect((await run(transport, STATUS, moderator)).data!.rateLimit.limit).toBe(40);
    expect((await run(transport, STATUS, admin)).data!.rateLimit.limit).toBe(50);
    const anonymous = await run(transport, STATUS);
    expect(anonymous.errors).toBeUndefined();
    expect(anonymous.data!.rateLimit.limit).toBe(30);
  });

  it('refuses the next operation over budget with RATE_LIMITED and runs nothing', async () => {
    const user = await createUser(server, { role: 'USER' });
    for (let spent = 0; spent < USER_LIMIT; spent += 2) expect((await run(transport, PAGE_200, user)).errors).toBeUndefined();
    const list = vi.spyOn(server.app.container.services.items, 'list');
    const refused = await run(transport, PLAIN, user);
    expect(list).not.toHaveBeenCalled();
    expect(refused.data ?? null).toBeNull();
    expect(refused.errors).toHaveLength(1);
    const error = refused.errors![0]!;
    expect(error.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: USER_LIMIT, remaining: 0, cost: 1 });
    expect(error.extensions!.retryAfter).toBeGreaterThan(0);
    expect(error.extensions!.retryAfter).toBeLessThanOrEqual(WINDOW_MS / 1_000);
    expect(Date.parse(error.extensions!.resetAt)).toBeGreaterThan(Date.now());
    expect(error.message).toMatch(/^Rate limit exceeded/);
    if (transport === 'http') {
      expect(refused.status).toBe(429);
      expect(Number(refused.headers!.get('retry-after'))).toBe(error.extensions!.retryAfter);
      expect(refused.extensions).toMatchObject({ sql: { statements: 0 }, cost: { charged: 0, remaining: 0 } });
    }
    // rateLimit alone still answers when the budget is spent.
    const status = await run(transport, STATUS, user);
    expect(status.data!.rateLimit).toMatchObject({ remaining: 0, cost: 0 });
  });

  it('refuses an operation that costs more than what remains, leaving the remainder to spend', async () => {
    const user = await createUser(server, { role: 'USER' });
    for (let i = 0; i < 5; i++) await run(transport, PLAIN, user);
    const refused = await run(transport, PAGE_200, user);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', remaining: 1, cost: 2 });
    const allowed = await run(transport, PLAIN, user);
    expect(allowed.errors).toBeUndefined();
    expect(allowed.extensions?.cost).toMatchObject({ charged: 1, remaining: 0 });
  });

  it('keeps budgets per viewer: one user spending theirs leaves another’s whole', async () => {
    const spender = await createUser(server, { role: 'USER' });
    const other = await createUser(server, { role: 'USER' });
    for (let spent = 0; spent < USER_LIMIT; spent += 2) await run(transport, PAGE_200, spender);
    expect((await run(transport, PLAIN, spender)).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    const result = await run(transport, PLAIN, other);
    expect(result.errors).toBeUndefined();
    expect(result.extensions?.cost).toMatchObject({ charged: 1, remaining: USER_LIMIT - 1 });
  });

  it('gives the budget back once the window has ended', async () => {
    const user = await createUser(server, { role: 'USER' });
    for (let spent = 0; spent < USER_LIMIT; spent += 2) await run(transport, PAGE_200, user);
    const refused = await run(transport, PLAIN, user);
    expect(refused.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    // The window is measured with Date.now(): move the clock past its end instead of waiting an hour.
    const resetAt = Date.parse(refused.errors![0]!.extensions!.resetAt);
    const realNow = Date.now.bind(Date);
    const offset = resetAt - realNow() + 1;
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + offset);
    const result = await run(transport, PLAIN, user);
    expect(result.errors).toBeUndefined();
    expect(result.extensions?.cost).toMatchObject({ charged: 1, remaining: USER_LIMIT - 1 });
    expect(Date.parse(result.extensions!.cost.resetAt)).toBeGreaterThan(resetAt);
  });
});

describe('rate limits on subscriptions and between callers', () => {
  it('charges a subscription when it starts and refuses one over budget', async () => {
    const user = await createUser(server, { role: 'USER' });
    const client = wsFor(server, user.token);
    const subscription = collect(client, { query: 'subscription Changes { itemChanged { id } }' });
    // The charge happens before the subscription is set up, so once rateLimit shows it, it was charged.
    await vi.waitFor(async () => {
      expect((await run('http', STATUS, user)).data!.rateLimit.remaining).toBe(USER_LIMIT - 1);
    });
    subscription.dispose();
    for (let i = 0; i < USER_LIMIT - 1; i++) await run('http', PLAIN, user);
    const refused = collect(client, { query: 'subscription Again { itemChanged { id } }' });
    await refused.done();
    expect(refused.events).toEqual([]);
    expect((refused.errors[0] as Array<{ extensions: Record<string, unknown> }>)[0]!.extensions.code).toBe('RATE_LIMITED');
  });

  it('counts anonymous callers per client IP, apart from signed-in users', async () => {
    const user = await createUser(server, { role: 'USER' });
    const before = (await run('http', STATUS)).data!.rateLimit.remaining as number;
    await run('http', 'query Scopes { scopes { name } }');
    await run('ws', 'query Scopes { scopes { name } }');
    expect((await run('http', STATUS)).data!.rateLimit.remaining).toBe(before - 2);
    expect((await run('http', STATUS, user)).data!.rateLimit.remaining).toBe(USER_LIMIT);
  });

  it('shows the charge in GitHub-style x-ratelimit headers over HTTP', async () => {
    const user = await createUser(server, { role: 'USER' });
    const { headers } = await run('http', PLAIN, user);
    expect(headers!.get('x-ratelimit-limit')).toBe(String(USER_LIMIT));
    expect(headers!.get('x-ratelimit-remaining')).toBe(String(USER_LIMIT - 1));
    expect(headers!.get('x-ratelimit-used')).toBe('1');
    expect(Number(headers!.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1_000);
  });
});
