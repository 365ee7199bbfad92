/**
 * A document runs on graphql-js the first time and on graphql-jit's compiled form after (src/server/executor.ts). On
 * the real server, every caller gets the same answer from both: data, partial data beside an error, FORBIDDEN and
 * UNAUTHENTICATED errors with their paths, missing scopes and status, user errors of a mutation, introspection,
 * variables and their defaults — over HTTP and graphql-ws. Each document is compiled once, on its second run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperationStep } from '../../src/server/operation.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { wsFor, wsRun } from '../security/helpers.js';

const steps: OperationStep[] = [];
let server: TestServer;
let admin: TestUser;
let user: TestUser;
let itemId: string;
let postId: string;

beforeAll(async () => {
  server = await startServer({}, { onOperationStep: (step) => void steps.push(step) });
  admin = await createUser(server, { role: 'ADMIN' });
  user = await createUser(server, { role: 'USER' });
  const created = await server.gql(
    `mutation($input: CreateItemInput!) { createItem(input: $input) { item { id } } }`,
    { input: { sku: 'JT0001', name: 'Compiled lamp', price: 12.5, category: 'HOME', tags: ['a', 'b'], stock: 4 } },
    { token: admin.token },
  );
  itemId = created.body.data!.createItem.item.id;
  const post = await server.gql(
    `mutation($input: CreatePostInput!) { createPost(input: $input) { post { id } } }`,
    { input: { title: 'On compiling', body: 'Twice is enough.' } },
    { token: user.token },
  );
  postId = post.body.data!.createPost.post.id;
  await server.gql(
    `mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } } }`,
    { input: { postId, body: 'Agreed.' } },
    {
      token: admin.token,
    },
  );
});
afterAll(() => server?.close());

type Caller = 'admin' | 'user' | 'anonymous';
const tokenOf = (caller: Caller) => (caller === 'admin' ? admin.token : caller === 'user' ? user.token : undefined);

/** The answer without what differs by request: the request id, and the budget left in `extensions.cost`. */
function comparable(response: { status?: number; body: { data?: unknown; errors?: Array<{ extensions?: Record<string, unknown> }> } }) {
  const errors = response.body.errors?.map(({ extensions, ...error }) => {
    const { requestId: _requestId, ...rest } = extensions ?? {};
    return { ...error, extensions: rest };
  });
  return { status: response.status, data: response.body.data, ...(errors ? { errors } : {}) };
}

const CASES: Array<[what: string, caller: Caller, query: () => string, variables: () => Record<string, unknown>]> = [
  [
    'a node with fragments, aliases and __typename',
    'user',
    () => `query N($id: ID!) { node(id: $id) { __typename id ...Bits ... on Item { label: name price tags stock createdAt } } }
      fragment Bits on Item { sku category description }`,
    () => ({ id: itemId }),
  ],
  [
    'data beside an invalid id',
    'user',
    () => `query($id: ID!) { a: node(id: $id) { id } b: node(id: "not-an-id") { id } }`,
    () => ({ id: itemId }),
  ],
  ['a list refused for an invalid id', 'user', () => `{ nodes(ids: ["SXRlbTo5OTk="]) { id } }`, () => ({})],
  [
    'a page with cursors, conditions and required variables with defaults',
    'admin',
    () => `query P($n: Int = 2, $cats: [Category!]! = [HOME], $cursors: Boolean! = true) {
      items(first: $n, filter: { categories: $cats }) { totalCount edges { cursor @include(if: $cursors) node { sku } } pageInfo { hasNextPage } }
    }`,
    () => ({}),
  ],
  [
    'a nested list of posts, authors and comments',
    'user',
    () =>
      `{ posts(first: 5) { nodes { title author { username } comments(first: 3) { totalCount nodes { body author { username role } } } } } }`,
    () => ({}),
  ],
  ['a FORBIDDEN field, with its path and missing scopes', 'user', () => `{ viewer { username } users(first: 1) { totalCount } }`, () => ({})],
  [
    'an UNAUTHENTICATED field, with status 401',
    'anonymous',
    () => `{ viewer { id } items(first: 1) { nodes { sku } } orders(first: 1) { totalCount } }`,
    () => ({}),
  ],
  ['a mutation refused for missing scopes', 'user', () => `mutation { deleteItem(id: "x") { deletedId } }`, () => ({})],
  [
    'a mutation answering with user errors',
    'admin',
    () => `mutation($input: CreateItemInput!) { createItem(input: $input) { item { id } userErrors { field message code } } }`,
    () => ({ input: { sku: 'bad', name: ' ', price: -1, category: 'HOME' } }),
  ],
  ['introspection', 'anonymous', () => `{ __schema { queryType { name } } __type(name: "Item") { kind fields { name } } }`, () => ({})],
];

describe.each(['http', 'ws'] as const)('a document run again over %s', (transport) => {
  const run = async (caller: Caller, query: string, variables: Record<string, unknown>) => {
    if (transport === 'http') return comparable(await server.gql(query, variables, { token: tokenOf(caller) }));
    return comparable({ body: await wsRun(wsFor(server, tokenOf(caller)), { query, variables }) });
  };

  it.each(CASES)('answers %s as it did the first time, compiled once', async (_what, caller, query, variables) => {
    // Each transport runs its own copy of the document (a comment makes the text differ), so each compiles once.
    const text = `${query()}\n# ${transport}`;
    steps.length = 0;
    const first = await run(caller, text, variables());
    expect(steps.filter((step) => step === 'compile')).toEqual([]);
    const second = await run(caller, text, variables());
    const third = await run(caller, text, variables());
    expect(steps.filter((step) => step === 'compile')).toEqual(['compile']);
    expect(second).toEqual(first);
    expect(third).toEqual(first);
  });
});
