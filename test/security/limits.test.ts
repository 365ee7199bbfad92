/**
 * Operation limits, checked before anything executes and the same on both transports: depth, aliases, tokens,
 * directives, root fields, document size, bracket nesting and static cost. A refused operation says which limit, its value and the
 * maximum, and runs no resolver and no SQL (acceptance 1 and 2).
 */
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
    query: `{ ${repeat(51, () => '__typename @include(if: true)')} }`,
    limit: 'directives',
    maximum: 50,
    value: 51,
    message: /directives/i,
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
