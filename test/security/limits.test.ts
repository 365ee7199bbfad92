/**
 * Operation limits, checked before anything executes and the same on both transports: depth, aliases, tokens,
 * directives, root fields, repeated fields, document size, bracket nesting and static cost. A refused operation says which limit, its value and the
 * maximum, and runs no resolver and no SQL (acceptance 1 and 2).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { costly, deepQuery, repeat, wsFor, wsRun, type OperationResult } from './helpers.js';

let server: TestServer;
let admin: TestUser;
beforeAll(async () => {
  server = await startServer();
  admin = await createUser(server, { role: 'ADMIN' });
});
afterAll(() => server?.close());
afterEach(() => vi.restoreAllMocks());

interface Case {
  name: string;
  query: string;
  limit: string;
  maximum: number;
  value?: number;
  message: RegExp;
  /** HTTP status when the whole request is refused. */
  status: number;
}

const cases: Case[] = [
  { name: 'a query 13 levels deep', query: deepQuery(13), limit: 'depth', maximum: 12, value: 13, message: /depth/i, status: 400 },
  {
    name: 'a query with 31 aliases',
    query: `{ ${repeat(31, (i) => `a${i}: __typename`)} }`,
    limit: 'aliases',
    maximum: 30,
    value: 31,
    message: /aliases/i,
    status: 400,
  },
  {
    name: 'a document of more than 5,000 tokens',
    query: `{ ${repeat(5_000, () => '__typename')} }`,
    limit: 'tokens',
    maximum: 5_000,
    message: /^Token limit of 5000 exceeded/,
    status: 400,
  },
  {
    name: 'a query with 51 directives',
    // Over two selection sets: one response name repeated 51 times is refused by its own limit first.
    query: `{ ${repeat(26, () => '__typename @include(if: true)')} viewer { ${repeat(25, () => 'id @include(if: true)')} } }`,
    limit: 'directives',
    maximum: 50,
    value: 51,
    message: /directives/i,
    status: 400,
  },
  {
    name: 'a selection set that repeats a response name 51 times',
    query: `{ viewer { ${repeat(51, () => 'id')} } }`,
    limit: 'repeatedFields',
    maximum: 50,
    value: 51,
    message: /^Repeated field limit of 50 exceeded: "id" is selected more than 50 times/,
    status: 400,
  },
  {
    name: 'same-named fields whose merged sub-selections repeat a name 100 times',
    query: `{ ${repeat(10, () => `viewer { ${repeat(10, () => 'id')} }`)} }`,
    limit: 'repeatedFields',
    maximum: 50,
    value: 51,
    message: /^Repeated field limit of 50 exceeded: "id"/,
    status: 400,
  },
  {
    name: '51 distinct fragments spread into one selection set',
    query: `{ ${repeat(51, (i) => `...F${i}`)} } ${repeat(51, (i) => `fragment F${i} on Query { __typename }`)}`,
    limit: 'fragmentSpreads',
    maximum: 50,
    value: 51,
    message: /^Fragment spread limit of 50 exceeded/,
    status: 400,
  },
  {
    name: 'a query with 21 root fields',
    query: `{ ${repeat(21, () => 'items(first: 1) { totalCount }')} }`,
    limit: 'rootFields',
    maximum: 20,
    value: 21,
    message: /^Root field limit of 20 exceeded, found 21/,
    status: 400,
  },
  {
    name: 'a document over 100 KB',
    query: `{ __typename } #${'x'.repeat(100 * 1_024)}`,
    limit: 'documentBytes',
    maximum: 102_400,
    value: 102_416,
    message: /^Document size limit of 102400 bytes exceeded/,
    status: 413,
  },
  {
    name: 'input values nested 300 deep',
    query: `query { nodes(ids: ${'['.repeat(300)}"x"${']'.repeat(300)}) { id } }`,
    limit: 'nesting',
    maximum: 256,
    value: 257,
    message: /^Nesting limit of 256 exceeded/,
    status: 400,
  },
  {
    name: 'a query costing more than 50,000',
    query: costly(3),
    limit: 'cost',
    maximum: 50_000,
    value: 50_100,
    message: /^Query cost limit of 50000 exceeded, found 50100/,
    status: 400,
  },
];

async function run(transport: 'http' | 'ws', query: string): Promise<OperationResult & { status?: number }> {
  if (transport === 'http') {
    const { status, body } = await server.gql(query, undefined, { token: admin.token });
    return { ...body, status };
  }
  return wsRun(wsFor(server, admin.token), { query });
}

/** Every root resolver of these documents calls one of these; none may run. */
function spyOnServices() {
  const { services } = server.app.container;
  return [vi.spyOn(services.posts, 'list'), vi.spyOn(services.items, 'list')];
}

describe.each(['http', 'ws'] as const)('operation limits over %s', (transport) => {
  it.each(cases)('refuses $name, naming the limit, its value and the maximum', async ({ query, limit, maximum, value, message, status }) => {
    const spies = spyOnServices();
    const result = await run(transport, query);
    expect(result.data ?? null).toBeNull();
    const error = result.errors?.find((e) => e.extensions?.limit === limit);
    expect(error, JSON.stringify(result.errors?.slice(0, 3))).toBeDefined();
    expect(error!.message).toMatch(message);
    expect(error!.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit, maximum });
    expect(error!.extensions!.value).toBe(value ?? maximum + 1);
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    if (transport === 'http') {
      expect(result.status).toBe(status);
      if (result.extensions) expect(result.extensions.sql.statements).toBe(0);
    }
  });

  it('runs an operation right at every limit', async () => {
    const atLimits = `query AtLimits { ${repeat(12, (i) => `a${i}: items(first: 1) { totalCount }`)} deep: ${deepQuery(12).slice('query Deep { '.length, -2)} }`;
    const result = await run(transport, atLimits);
    expect(result.errors).toBeUndefined();
    expect(result.data!.a0).toEqual({ totalCount: 0 });
  });
});

describe.each(['http', 'ws'] as const)('hostile operations over %s (acceptance 2)', (transport) => {
  const hostile = [
    { name: 'a query 100 levels deep', query: deepQuery(100), limits: ['depth'] },
    // 10,000 aliases do not fit in 100 KB: the size (or, for short ones, the token) limit refuses them first.
    {
      name: 'a query with 10,000 aliases',
      query: `{ ${repeat(10_000, (i) => `a${i}: items(first: 1) { totalCount }`)} }`,
      limits: ['documentBytes'],
    },
    { name: 'a query with 10,000 short aliases', query: `{ ${repeat(10_000, () => 'a:__typename')} }`, limits: ['documentBytes', 'tokens'] },
    { name: 'a 1 MB document', query: `{ __typename } #${'x'.repeat(1_000_000)}`, limits: ['documentBytes'] },
    { name: 'a query costing 1,000,000', query: costly(100), limits: ['cost'] },
  ];

  it.each(hostile)('refuses $name without running a resolver or SQL', async ({ query, limits }) => {
    const spies = spyOnServices();
    const result = await run(transport, query);
    expect(result.data ?? null).toBeNull();
    expect(result.errors!.length).toBeGreaterThan(0);
    expect(limits).toContain(result.errors![0]!.extensions!.limit);
    if (limits.includes('cost')) expect(result.errors![0]!.extensions!.value).toBe(1_020_100);
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    if (transport === 'http' && result.extensions) expect(result.extensions.sql.statements).toBe(0);
  });
});

describe.each(['http', 'ws'] as const)('documents whose validation would be quadratic, over %s (acceptance 2)', (transport) => {
  const quadratic = [
    { name: '{ viewer { id ×4,900 } }', query: `{ viewer { ${repeat(4_900, () => 'id')} } }` },
    { name: '{ __typename ×4,990 }', query: `{ ${repeat(4_990, () => '__typename')} }` },
  ];

  it.each(quadratic)('refuses $name in under 50 ms of server time, charges it, and a control query answers meanwhile', async ({ query }) => {
    const remaining = async () => (await server.gql('{ rateLimit { remaining } }')).body.data!.rateLimit.remaining as number;
    await run(transport, query); // the first large document of a process also pays for compiling the code on its path
    const budget = await remaining();
    const before = server.logs.length;
    // The server runs in this process: the longest the event loop was held while both are answered is the longest a
    // control query can have waited (a round-trip timer would also count other test files running on the same cores).
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const refused = run(transport, query);
    const control = await run(transport, '{ __typename }');
    const result = await refused;
    loop.disable();

    expect(control.data).toEqual({ __typename: 'Query' });
    expect(loop.max / 1e6).toBeLessThan(100);
    expect(result.errors![0]!.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 'repeatedFields', maximum: 50 });
    // Charged the minimum price to the client's address (nobody is authenticated before the document is valid).
    if (transport === 'http') expect(result.extensions?.cost).toMatchObject({ requested: 0, charged: 1 });
    expect(await remaining()).toBe(budget - 1);
    const requestId = result.errors![0]!.extensions!.requestId;
    const line = server.logs.slice(before).find((entry) => entry.msg === 'graphql operation' && entry.requestId === requestId);
    expect(line?.errorCode).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(line!.durationMs).toBeLessThan(50);
  });
});

describe('refused documents spend the address budget', () => {
  it('answers RATE_LIMITED once a flood of invalid documents has spent it', async () => {
    const limited = await startServer({ RATE_LIMIT_ANONYMOUS: '5' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await limited.gql('{ nope }')).status);
      expect(statuses).toEqual([400, 400, 400, 400, 400, 429, 429]);
      const refused = await limited.gql('{ viewer { id } }');
      expect(refused.status).toBe(429);
      expect(refused.body.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED' });
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      await limited.close();
    }
  });
});

describe('static cost of connections', () => {
  it("prices a connection by the page it returns without paging arguments: Room.messages' newest 50", async () => {
    const query = (args: string) => `query($id: ID!) { node(id: $id) { ... on Room { messages${args} { nodes { id } } } } }`;
    const cost = async (args: string) =>
      (await server.gql(query(args), { id: 'Um9vbTowMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDA=' }, { token: admin.token })).body
        .extensions?.cost.requested;
    expect(await cost('')).toBe(1 + 50);
    expect(await cost('(last: 10)')).toBe(1 + 10);
  });
});
