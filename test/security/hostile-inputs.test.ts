/**
 * Hostile values in an operation's inputs, run as one table over HTTP, graphql-ws and GraphQL over SSE: NUL and
 * other control characters in text, numbers beyond a column, huge lists, a huge search, variables nested thousands
 * of levels deep, bad job parameters (those are a mutation's user errors, found when the job is started). Each is refused by the operation core before anything executes — BAD_USER_INPUT with the path of
 * the value where there is one, never INTERNAL_SERVER_ERROR — and the graphql-ws socket stays open for the next
 * operation. Bodies are sent as raw text: a value nested 5,000 deep cannot even be JSON.stringify'd in the test.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { OperationStep } from '../../src/server/operation.js';
import { MAX_LIST_ITEMS, MAX_TOTAL_LIST_ITEMS, MAX_VARIABLE_DEPTH } from '../../src/server/input-bounds.js';
import { FILTER_PRICE_MAX } from '../../src/schema/item/item.input.js';
import { FILTER_LIST_MAX, FILTER_TEXT_MAX } from '../../src/schema/shared/validation.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { sseRun } from '../helpers/sse.js';
import { ackedSocket, repeat, type OperationResult, type RawSocket } from './helpers.js';

const TRANSPORTS = ['http', 'ws', 'sse'] as const;
type Transport = (typeof TRANSPORTS)[number];

const steps: OperationStep[] = [];
let server: TestServer;
let admin: TestUser;
const sockets: RawSocket[] = [];
let socket: RawSocket;
let operationId = 0;

beforeAll(async () => {
  server = await startServer({}, { onOperationStep: (step) => void steps.push(step) });
  admin = await createUser(server, { role: 'ADMIN' });
  socket = await ackedSocket(server, { authorization: `Bearer ${admin.token}` });
  sockets.push(socket);
});
afterAll(async () => {
  for (const raw of sockets) raw.socket.close();
  await server?.close();
});
beforeEach(() => {
  steps.length = 0;
  vi.restoreAllMocks();
});

interface Outcome extends OperationResult {
  /** HTTP status (HTTP and SSE). */
  status?: number;
}

/** One operation over graphql-ws on the shared socket: its `error` payload, or its first `next` once `complete` came. */
async function overSocket(payload: string): Promise<Outcome> {
  const id = String(++operationId);
  socket.send(`{"type":"subscribe","id":"${id}","payload":${payload}}`);
  let result: Outcome = {};
  for (;;) {
    const message = await socket.next(10_000);
    if (message.id !== id) continue;
    if (message.type === 'error') return { errors: message.payload };
    if (message.type === 'next') result = message.payload;
    if (message.type === 'complete') return result;
  }
}

/** A body (JSON text) sent as is over one transport; over SSE only a refusal (a JSON answer) is expected. */
async function send(transport: Transport, body: string): Promise<Outcome> {
  if (transport === 'ws') return overSocket(body);
  const response = await fetch(server.httpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${admin.token}`,
      ...(transport === 'sse' ? { accept: 'text/event-stream' } : {}),
    },
    body,
  });
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith('application/json')) throw new Error(`expected a JSON refusal, got ${response.status} ${type}`);
  return { ...((await response.json()) as OperationResult), status: response.status };
}

/** An admitted operation over one transport (its values fit JSON.stringify). */
async function run(transport: Transport, query: string, variables: Record<string, unknown> = {}): Promise<Outcome> {
  if (transport === 'http') return { ...(await server.gql(query, variables, { token: admin.token })).body };
  if (transport === 'sse') return (await sseRun(server, { query, variables }, admin.token)).results[0]!;
  return overSocket(JSON.stringify({ query, variables }));
}

const body = (query: string, variables: Record<string, unknown> = {}) => JSON.stringify({ query, variables });

const CATALOG = 'query Catalog($filter: ItemFilter) { items(first: 1, filter: $filter) { totalCount } }';
const CREATE_POST = 'mutation Post($input: CreatePostInput!) { createPost(input: $input) { post { id } userErrors { message } } }';
const NESTING = 5_000;

interface Case {
  name: string;
  body: string;
  code?: string;
  message: RegExp;
  /** `extensions.field`, where the value has a path. */
  field?: Array<string | number>;
  /** Further `extensions` (limit, value, maximum, minimum). */
  extensions?: Record<string, unknown>;
}

const cases: Case[] = [
  {
    name: 'a NUL byte in a mutation input (createPost title)',
    body: body(CREATE_POST, { input: { title: 'Hello\u0000world', body: 'Text' } }),
    message: /^Text must not contain control characters\.$/,
    field: ['createPost', 'input', 'title'],
  },
  {
    name: 'a NUL byte in an inline literal (register fullName)',
    body: body(
      'mutation { register(input: { username: "nul_name", email: "nul@example.com", password: "Corr3ct-Horse", fullName: "Ada\\u0000Lovelace" }) { userErrors { message } } }',
    ),
    message: /^Text must not contain control characters\.$/,
    field: ['register', 'input', 'fullName'],
  },
  {
    name: "a NUL byte inside a job's JSON parameters",
    body: body('mutation Start($params: JSON) { startJob(input: { kind: EXPORT_ITEMS, params: $params }) { job { id } } }', {
      params: { search: 'ket\u0000tle' },
    }),
    message: /^Text must not contain control characters\.$/,
    field: ['startJob', 'input', 'params', 'search'],
  },
  {
    name: 'an escape character in a filter under an alias',
    body: body('query($search: String) { catalog: items(filter: { search: $search }) { totalCount } }', { search: 'kettle\u001b[2J' }),
    message: /^Text must not contain control characters\.$/,
    field: ['catalog', 'filter', 'search'],
  },
  {
    name: 'a price filter of 2^31',
    body: body(CATALOG, { filter: { minPrice: 2 ** 31 } }),
    message: new RegExp(`^"filter\\.minPrice" must be at most ${FILTER_PRICE_MAX}, got ${2 ** 31}\\.$`),
    field: ['items', 'filter', 'minPrice'],
    extensions: { limit: 'range', value: 2 ** 31, maximum: FILTER_PRICE_MAX },
  },
  {
    name: 'a negative price filter',
    body: body(CATALOG, { filter: { minPrice: -1 } }),
    message: /^"filter\.minPrice" must be at least 0, got -1\.$/,
    field: ['items', 'filter', 'minPrice'],
    extensions: { limit: 'range', value: -1, minimum: 0 },
  },
  {
    name: 'a price filter of 1e300',
    body: body(CATALOG, { filter: { maxPrice: 1e300 } }),
    message: /^"filter\.maxPrice" must be at most 21474836\.47, got 1e\+300\.$/,
    field: ['items', 'filter', 'maxPrice'],
    extensions: { limit: 'range', value: 1e300, maximum: FILTER_PRICE_MAX },
  },
  {
    name: 'a list filter of 70,000 enum values',
    body: body(CATALOG, { filter: { categories: Array.from({ length: 70_000 }, () => 'BOOKS') } }),
    // Past any list's cap, refused on the raw variables, before graphql-js coerces 70,000 enum values.
    message: new RegExp(`^"\\$filter\\.categories" must list at most ${MAX_LIST_ITEMS} values, got 70000\\.$`),
    field: ['$filter', 'categories'],
    extensions: { limit: 'listItems', value: 70_000, maximum: MAX_LIST_ITEMS },
  },
  {
    name: `a list filter one past its own cap (${FILTER_LIST_MAX + 1} categories)`,
    body: body(CATALOG, { filter: { categories: Array.from({ length: FILTER_LIST_MAX + 1 }, () => 'BOOKS') } }),
    message: new RegExp(`^"filter\\.categories" must list at most ${FILTER_LIST_MAX} values, got ${FILTER_LIST_MAX + 1}\\.$`),
    field: ['items', 'filter', 'categories'],
    extensions: { limit: 'listItems', value: FILTER_LIST_MAX + 1, maximum: FILTER_LIST_MAX },
  },
  {
    name: `an argument list of ${MAX_LIST_ITEMS + 1} ids`,
    body: body('query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: Array.from({ length: MAX_LIST_ITEMS + 1 }, () => 'x') }),
    message: new RegExp(`^"\\$ids" must list at most ${MAX_LIST_ITEMS} values, got ${MAX_LIST_ITEMS + 1}\\.$`),
    field: ['$ids'],
    extensions: { limit: 'listItems', value: MAX_LIST_ITEMS + 1, maximum: MAX_LIST_ITEMS },
  },
  {
    name: `lists of more than ${MAX_TOTAL_LIST_ITEMS} values in all`,
    body: body(`query($ids: [ID!]!) { ${repeat(11, (i) => `n${i}: nodes(ids: $ids) { id }`)} }`, {
      ids: Array.from({ length: MAX_LIST_ITEMS }, () => 'x'),
    }),
    message: new RegExp(`^The arguments of an operation may list at most ${MAX_TOTAL_LIST_ITEMS} values in all\\.$`),
    field: ['n10', 'ids'],
    extensions: { limit: 'totalListItems', value: 11 * MAX_LIST_ITEMS, maximum: MAX_TOTAL_LIST_ITEMS },
  },
  {
    name: 'a search of 100,000 characters',
    body: body(CATALOG, { filter: { search: 'k'.repeat(100_000) } }),
    message: new RegExp(`^"filter\\.search" must be at most ${FILTER_TEXT_MAX} characters, got 100000\\.$`),
    field: ['items', 'filter', 'search'],
    extensions: { limit: 'textLength', value: 100_000, maximum: FILTER_TEXT_MAX },
  },
  {
    name: `variables nested ${NESTING} levels deep`,
    body: `{"query":${JSON.stringify('mutation($params: JSON) { startJob(input: { kind: CLEANUP, params: $params }) { job { id } } }')},"variables":{"params":${'{"a":'.repeat(NESTING)}1${'}'.repeat(NESTING)}}}`,
    message: new RegExp(`^Variable "\\$params" is nested deeper than ${MAX_VARIABLE_DEPTH} levels\\.$`),
    extensions: { limit: 'variableDepth', maximum: MAX_VARIABLE_DEPTH },
  },
  {
    name: `a list variable nested ${NESTING} levels deep`,
    body: `{"query":${JSON.stringify(CATALOG)},"variables":{"filter":{"categories":${'['.repeat(NESTING)}"BOOKS"${']'.repeat(NESTING)}}}}`,
    message: new RegExp(`^Variable "\\$filter" is nested deeper than ${MAX_VARIABLE_DEPTH} levels\\.$`),
    extensions: { limit: 'variableDepth', maximum: MAX_VARIABLE_DEPTH },
  },
  {
    name: `an inline literal nested ${NESTING} levels deep (the bracket-nesting check)`,
    body: body(`{ items(filter: { categories: ${'['.repeat(NESTING)}BOOKS${']'.repeat(NESTING)} }) { totalCount } }`),
    code: 'GRAPHQL_VALIDATION_FAILED',
    message: /nesting/i,
    extensions: { limit: 'nesting' },
  },
];

describe.each(TRANSPORTS)('hostile inputs over %s', (transport) => {
  it.each(cases)('refuses $name before anything runs', async (hostile) => {
    const list = vi.spyOn(server.app.container.services.items, 'list');
    const result = await send(transport, hostile.body);
    const admitted = [...steps];

    expect(result.data ?? null).toBeNull();
    expect(result.errors).toHaveLength(1);
    const [error] = result.errors!;
    expect(error!.message).toMatch(hostile.message);
    expect(error!.extensions).toMatchObject({ code: hostile.code ?? 'BAD_USER_INPUT', requestId: expect.any(String), ...hostile.extensions });
    if (hostile.field) expect(error!.extensions!.field).toEqual(hostile.field);
    else expect(error!.extensions!.field).toBeUndefined();
    if (transport !== 'ws') expect(result.status).toBe(400);
    // Refused at admission: no cost, no authentication, no charge, no resolver; so no SQL.
    expect(admitted).not.toContain('cost');
    expect(list).not.toHaveBeenCalled();
    if (transport === 'http') expect(result.extensions?.sql).toEqual({ statements: 0, ms: 0 });

    if (transport === 'ws') {
      // The socket is still open and serves the next operation.
      expect(socket.socket.readyState).toBe(socket.socket.OPEN);
      expect(await overSocket(body('{ __typename }'))).toMatchObject({ data: { __typename: 'Query' } });
    }
  });

  it('answers bad job parameters with user errors naming each field, when the job is started, and queues nothing', async () => {
    const start =
      'mutation Start($params: JSON) { startJob(input: { kind: EXPORT_ITEMS, params: $params }) { job { id } userErrors { field } } }';
    const result = await run(transport, start, { params: { minPrice: 1e300, maxPrice: -1, search: 'x'.repeat(1_000), colour: 'red' } });
    expect(result.errors).toBeUndefined();
    expect(result.data?.startJob.job).toBeNull();
    const fields = (result.data?.startJob.userErrors as Array<{ field: string[] }>).map((error) => error.field.join('.'));
    expect(fields.sort()).toEqual(['input.params.colour', 'input.params.maxPrice', 'input.params.minPrice', 'input.params.search']);
  });

  it('admits text with tab, LF and CR, and filters exactly at their bounds', async () => {
    const post = await run(transport, CREATE_POST, { input: { title: `Tabs ${transport}`, body: 'one\ttwo\nthree\r\nfour' } });
    expect(post.errors).toBeUndefined();
    expect(post.data?.createPost).toMatchObject({ post: { id: expect.any(String) }, userErrors: [] });

    const filter = {
      search: 'é'.repeat(FILTER_TEXT_MAX),
      categories: Array.from({ length: FILTER_LIST_MAX }, () => 'BOOKS'),
      minPrice: 0,
      maxPrice: FILTER_PRICE_MAX,
    };
    const catalog = await run(transport, CATALOG, { filter });
    expect(catalog.errors).toBeUndefined();
    expect(catalog.data).toEqual({ items: { totalCount: 0 } });
  });
});
