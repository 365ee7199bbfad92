/**
 * The operation core runs each admission step once per operation on every transport: parse, validate, operation
 * lookup, variable coercion and cost are computed once (parse and validate not at all for a document already
 * admitted), Apollo parses nothing itself over HTTP, and a subscription's events do not pass admission again.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse, type OperationDefinitionNode } from 'graphql';
import type { OperationStep } from '../../src/server/operation.js';
import { costVariables } from '../../src/server/operation-policy.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { sseClient, sseRun } from '../helpers/sse.js';
import { collect, triggerUntilEvent } from '../helpers/subscriptions.js';
import { wsFor, wsRun } from '../security/helpers.js';

const steps: Array<{ step: OperationStep; transport: string }> = [];
let server: TestServer;
let admin: TestUser;

beforeAll(async () => {
  server = await startServer({}, { onOperationStep: (step, transport) => void steps.push({ step, transport }) });
  admin = await createUser(server, { role: 'ADMIN' });
});
afterAll(() => server?.close());
beforeEach(() => {
  steps.length = 0;
});

function counts(): Record<string, number> {
  const result: Record<string, number> = {};
  for (const { step } of steps) result[step] = (result[step] ?? 0) + 1;
  return result;
}

const EVERY_STEP = { authenticate: 1, parse: 1, validate: 1, operation: 1, variables: 1, coerce: 1, cost: 1, charge: 1 };
/** Its second run also compiles it (src/server/executor.ts). */
const CACHED = { authenticate: 1, operation: 1, variables: 1, coerce: 1, cost: 1, charge: 1, compile: 1 };
/** The same document with the same variables again: nothing to parse, validate, coerce or check again. */
const SEEN = { authenticate: 1, operation: 1, variables: 1, cost: 1, charge: 1 };

async function runOn(transport: 'http' | 'ws' | 'sse', query: string, variables: Record<string, unknown>) {
  if (transport === 'http') return (await server.gql(query, variables, { token: admin.token })).body;
  if (transport === 'sse') return (await sseRun(server, { query, variables }, admin.token)).results[0]!;
  return wsRun(wsFor(server, admin.token), { query, variables });
}

describe.each(['http', 'ws', 'sse'] as const)('one operation over %s', (transport) => {
  const query = `query Count_${transport}($first: Int!, $sku: String) { items(first: $first, filter: { search: $sku }) { totalCount } }`;

  it('parses, validates, looks up the operation, coerces its variables and costs it once', async () => {
    const result = await runOn(transport, query, { first: 5, sku: 'X' });
    expect(result.errors).toBeUndefined();
    expect(counts()).toEqual(EVERY_STEP);
    expect(new Set(steps.map((entry) => entry.transport))).toEqual(new Set([transport]));
  });

  it('neither parses nor validates a document it admitted before', async () => {
    const result = await runOn(transport, query, { first: 6 });
    expect(result.errors).toBeUndefined();
    expect(counts()).toEqual(CACHED);
  });

  it('coerces and checks variables it admitted before with this operation only once, and new ones each time', async () => {
    const again = await runOn(transport, query, { first: 6 });
    expect(again.errors).toBeUndefined();
    expect(counts()).toEqual(SEEN);
    // Other values for the same document are coerced and checked: a control character, a value of the wrong type.
    for (const [variables, message] of [
      [{ first: 6, sku: 'X\u0007' }, /control characters/],
      [{ first: 'six' }, /Int cannot represent/],
      [{ first: 6, sku: 'X\u0007' }, /control characters/],
    ] as const) {
      steps.length = 0;
      const refused = await runOn(transport, query, variables);
      expect(refused.errors?.[0]?.message).toMatch(message);
      expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(counts()).toMatchObject({ coerce: 1 });
    }
  });
});

describe('a subscription', () => {
  const ITEM_CHANGED = 'subscription Watch { itemChanged { id sku } }';
  let created = 0;
  const trigger = async () => {
    const sku = `SC${String(++created).padStart(4, '0')}`;
    const { body } = await server.gql(
      'mutation($input: CreateItemInput!) { createItem(input: $input) { item { id } userErrors { message } } }',
      { input: { name: `Step ${sku}`, sku, price: 1, category: 'HOME' } },
      { token: admin.token },
    );
    expect(body.data?.createItem.userErrors).toEqual([]);
  };

  it.each([
    ['graphql-ws', 'ws', () => wsFor(server, admin.token)],
    ['SSE', 'sse', () => sseClient(server, admin.token)],
  ] as const)('passes admission once over %s; its events run without it', async (_name, transport, client) => {
    const subscriber = client();
    const watching = collect(subscriber, { query: ITEM_CHANGED });
    await triggerUntilEvent(watching, trigger);
    const subscribeSteps = steps.filter((entry) => entry.transport === transport);
    for (const step of ['operation', 'variables', 'cost', 'authenticate', 'charge'] as const) {
      expect(subscribeSteps.filter((entry) => entry.step === step)).toHaveLength(1);
    }
    await trigger();
    await watching.waitFor(2);
    expect(steps.filter((entry) => entry.transport === transport)).toEqual(subscribeSteps);
    watching.dispose();
    // graphql-ws clients belong to the server fixture, which closes them; the SSE client is this test's.
    if (transport === 'sse') void subscriber.dispose();
  });
});

describe('the cost of an operation', () => {
  const PAGED = `query Paged($n: Int = 7, $search: String, $ids: [ID!]! = [], $counted: Boolean! = true) {
    items(first: $n, filter: { search: $search }) { nodes { id } totalCount @include(if: $counted) }
    nodes(ids: $ids) { id ... on Post { author { id } } }
  }`;
  const costOf = async (variables: Record<string, unknown>) => {
    const { body } = await server.gql(PAGED, variables, { token: admin.token });
    expect(body.errors).toBeUndefined();
    return body.extensions?.cost?.requested as number;
  };

  it('follows the variables it depends on (page sizes, id lists, conditions), each time they change', async () => {
    const five = await costOf({ n: 5 });
    expect(await costOf({ n: 50 })).toBeGreaterThan(five);
    // An absent variable takes its default (7); a null one leaves the field's default page (20).
    const absent = await costOf({});
    expect(absent).toBeGreaterThan(five);
    expect(await costOf({ n: null })).toBeGreaterThan(absent);
    expect(await costOf({ n: 5, ids: [admin.id, admin.id, admin.id] })).toBeGreaterThan(five);
    // A value it does not depend on leaves it as it was: the search text.
    expect(await costOf({ n: 5, search: 'anything' })).toBe(five);
    expect(await costOf({ n: 5 })).toBe(five);
  });

  it('names the variables it depends on, in the operation and in its fragments', async () => {
    const document = parse(`query Q($n: Int, $input: String, $a: Boolean!, $ids: [ID!]!, $cursor: String, $m: Int) {
      items(first: $n, filter: { search: $input }) @include(if: $a) { nodes { id } }
      nodes(ids: $ids) { id }
      ...F
    }
    fragment F on Query { posts(after: $cursor, last: $m) { nodes { id } } }`);
    const operation = document.definitions[0] as OperationDefinitionNode;
    expect(costVariables(document, operation)).toEqual(['a', 'cursor', 'ids', 'm', 'n']);
    const mutation = parse('mutation M($input: CreateItemInput!) { createItem(input: $input) { item { id } } }');
    expect(costVariables(mutation, mutation.definitions[0] as OperationDefinitionNode)).toEqual([]);
  });
});
