/**
 * Production defaults (NODE_ENV=production), on both transports: introspection and GraphiQL off, no stack traces,
 * no "Did you mean …?" hints naming fields or types, and the stricter limits.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { productionLimits } from '../../src/config.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, TEST_JWT_SECRET, type TestServer } from '../helpers/server.js';
import { wsFor, wsRun, type OperationResult } from './helpers.js';

let server: TestServer;
let admin: TestUser;
beforeAll(async () => {
  server = await startServer({ NODE_ENV: 'production', DEBUG_SQL: 'false' });
  admin = await createUser(server, { role: 'ADMIN' });
});
afterAll(() => server?.close());
afterEach(() => vi.restoreAllMocks());

async function run(transport: 'http' | 'ws', query: string, variables?: Record<string, unknown>): Promise<OperationResult> {
  if (transport === 'http') return (await server.gql(query, variables, { token: admin.token })).body;
  return wsRun(wsFor(server, admin.token), { query, variables });
}

describe('production configuration', () => {
  it('turns introspection and GraphiQL off and the stricter limits on unless told otherwise', () => {
    expect(server.config).toMatchObject({ nodeEnv: 'production', introspection: false, graphiql: false, limits: productionLimits });
    const enabled = loadConfig({
      NODE_ENV: 'production',
      JWT_SECRET: TEST_JWT_SECRET,
      INTROSPECTION: 'true',
      GRAPHIQL: 'true',
      LIMIT_DEPTH: '15',
    });
    expect(enabled).toMatchObject({ introspection: true, graphiql: true, limits: { ...productionLimits, depth: 15 } });
  });

  it('serves no GraphiQL page', async () => {
    const response = await fetch(server.httpUrl, { headers: { accept: 'text/html' } });
    expect(response.headers.get('content-type')).not.toMatch(/text\/html/);
    expect(await response.text()).not.toContain('GraphiQL');
  });
});

describe.each(['http', 'ws'] as const)('production errors over %s', (transport) => {
  it('refuses introspection but still answers __typename', async () => {
    const result = await run(transport, '{ __schema { types { name } } }');
    expect(result.data ?? null).toBeNull();
    expect(result.errors![0]!.message).toMatch(/introspection (is not allowed|has been disabled)/);
    expect(result.errors![0]!.extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect((await run(transport, '{ __typename }')).data).toEqual({ __typename: 'Query' });
  });

  it.each([
    ['a misspelt field', '{ itemz { totalCount } }', 'Cannot query field "itemz" on type "Query".'],
    ['a misspelt argument', '{ items(frist: 1) { totalCount } }', 'Unknown argument "frist" on field "Query.items".'],
    ['a misspelt type', 'query($f: ItemFiltr) { items(filter: $f) { totalCount } }', 'Unknown type "ItemFiltr".'],
  ])('names no other field or type when it refuses %s', async (_what, query, message) => {
    const result = await run(transport, query);
    const messages = result.errors!.map((error) => error.message);
    expect(messages).toContain(message);
    expect(messages.join(' ')).not.toMatch(/Did you mean/);
  });

  it('names no enum value when a variable has a wrong one', async () => {
    const result = await run(transport, 'query($order: ItemOrder) { items(orderBy: $order) { totalCount } }', {
      order: { field: 'NAMES', direction: 'ASC' },
    });
    expect(result.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(result.errors![0]!.message).not.toMatch(/Did you mean|NAME\b/);
  });

  it('masks an unexpected error without a stack trace', async () => {
    vi.spyOn(server.app.container.services.items, 'list').mockRejectedValue(new Error('connection string postgres://secret'));
    const result = await run(transport, '{ items(first: 1) { totalCount } }');
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.message).toBe('Internal server error');
    expect(result.errors![0]!.extensions!.code).toBe('INTERNAL_SERVER_ERROR');
    expect(JSON.stringify(result)).not.toMatch(/stack|secret|at .*\.ts/);
  });

  it('applies the stricter depth limit', async () => {
    const deep =
      '{ posts(first: 1) { nodes { author { posts(first: 1) { nodes { author { posts(first: 1) { nodes { author { posts(first: 1) { totalCount } } } } } } } } } } }';
    const result = await run(transport, deep);
    expect(result.errors![0]!.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 'depth', maximum: 10, value: 11 });
  });
});
