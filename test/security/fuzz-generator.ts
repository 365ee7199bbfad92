/**
 * Hostile inputs for the fuzz test, from a seeded PRNG so a failure reproduces: `FUZZ_SEED=<n>` replays a run.
 * Every generator returns a description short enough to print with a failure.
 */

/** mulberry32: small, fast, good enough to spread test inputs. */
export function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (max: number) => Math.floor(next() * max);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
    chance: (p: number) => next() < p,
  };
}
export type Rng = ReturnType<typeof prng>;

/** Operations that are valid against the schema, as seeds for mutation and for wrong variables. */
export const VALID = [
  '{ __typename }',
  'query Status { rateLimit { limit remaining cost resetAt } }',
  'query Items($first: Int, $after: String) { items(first: $first, after: $after) { totalCount nodes { id sku name } pageInfo { hasNextPage endCursor } } }',
  'query Node($id: ID!) { node(id: $id) { id ... on Item { name } } }',
  'query Nodes($ids: [ID!]!) { nodes(ids: $ids) { id } }',
  'query Filter($filter: ItemFilter, $order: ItemOrder) { items(first: 5, filter: $filter, orderBy: $order) { totalCount } }',
  'query Viewer { viewer { id username role } scopes { name } }',
  'mutation Login($input: LoginInput!) { login(input: $input) { accessToken userErrors { field message code } } }',
  'mutation Create($input: CreateItemInput!) { createItem(input: $input) { item { id } userErrors { message } } }',
  'query Fragments { ...A } fragment A on Query { __typename rateLimit { limit } }',
];

const NAMES = [
  'items',
  'node',
  'nodes',
  'viewer',
  'rateLimit',
  'id',
  'name',
  '__typename',
  '__schema',
  'first',
  'after',
  'query',
  'mutation',
  'subscription',
  'fragment',
  'on',
  'true',
  'null',
  'Query',
  'Item',
  'x',
];
const PUNCTUATORS = ['{', '}', '(', ')', '[', ']', ':', '$', '@', '!', '=', '|', '&', '...', ',', '#', '"', '"""', '\\', '\n'];

function randomString(rng: Rng, length: number): string {
  const alphabets = [
    'abcdefghijklmnopqrstuvwxyz0123456789',
    '{}()[]:$@!=|&.,#"\\\'`<>?/;',
    '\u0000\u0001\u0007\b\t\n\r\u001b\u007f',
    'éßøΩЖ中文🙂\u200b\u202e\ufeff',
    '\ud800\udfff\udc00', // lone surrogates
  ];
  let out = '';
  for (let i = 0; i < length; i++) {
    // By UTF-16 unit, so lone surrogates come out too.
    const alphabet = rng.pick(alphabets);
    out += alphabet[rng.int(alphabet.length)];
  }
  return out;
}

function randomTokens(rng: Rng): string {
  const parts: string[] = [];
  const count = 1 + rng.int(80);
  for (let i = 0; i < count; i++) {
    const kind = rng.int(5);
    if (kind === 0) parts.push(rng.pick(PUNCTUATORS));
    else if (kind === 1) parts.push(rng.pick(NAMES));
    // Extreme numbers as the generator has always emitted them: 1e309 overflows to Infinity, 99999999999999999999 rounds to 1e20.
    else if (kind === 2) parts.push(String(rng.pick([0, -1, Infinity, 2 ** 53, 0.5, -0, 1e-7, 1e20])));
    else if (kind === 3) parts.push(JSON.stringify(randomString(rng, rng.int(12))));
    else parts.push(randomString(rng, 1 + rng.int(6)));
  }
  return parts.join(rng.chance(0.5) ? ' ' : '');
}

function deepNesting(rng: Rng): string {
  const depth = rng.pick([20, 100, 1_000, 5_000, 20_000]);
  switch (rng.int(5)) {
    case 0:
      return `{${'items{'.repeat(depth)}id${'}'.repeat(depth)}}`;
    case 1:
      return `{ items(filter: ${'{ name: '.repeat(depth)}"x"${' }'.repeat(depth)}) { totalCount } }`;
    case 2:
      return `query { nodes(ids: ${'['.repeat(depth)}"x"${']'.repeat(depth)}) { id } }`;
    case 3:
      // Fragment cycles and a fragment spread many times over.
      return `{ ...A } fragment A on Query { ...B __typename } fragment B on Query { ...A rateLimit { ...C } } fragment C on RateLimit { ${'...D '.repeat(Math.min(depth, 2_000))} } fragment D on RateLimit { limit }`;
    default:
      return `{${'...on Query{'.repeat(depth)}__typename${'}'.repeat(depth)}}`;
  }
}

function hugeString(rng: Rng): string {
  const size = rng.pick([10_000, 100_000, 200_000, 900_000]);
  switch (rng.int(3)) {
    case 0:
      return `{ items(filter: { name: ${JSON.stringify('x'.repeat(size))} }) { totalCount } }`;
    case 1:
      return `{ __typename } ${'#'.repeat(size)}`;
    default:
      return `{ ${'a'.repeat(size)} }`;
  }
}

function mutate(rng: Rng, source: string): string {
  const chars = [...source];
  const edits = 1 + rng.int(6);
  for (let i = 0; i < edits; i++) {
    const at = rng.int(chars.length + 1);
    const op = rng.int(3);
    if (op === 0) chars.splice(at, 1);
    else if (op === 1) chars.splice(at, 0, rng.pick([...PUNCTUATORS, ...NAMES, randomString(rng, 2)]));
    else chars.splice(at, 1, rng.pick(PUNCTUATORS));
  }
  return chars.join('');
}

/** A JSON value of a random, usually wrong, type. */
export function randomJson(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 3 ? 7 : 9)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 2 ** 31, 2 ** 53 + 1, -1e308, 101, 1e21]);
    case 3:
      return randomString(rng, rng.int(40));
    case 4:
      return rng.pick(['', 'SXRlbTp4', 'Item:00000000-0000-0000-0000-000000000000', 'VXNlcjox', '__proto__', 'constructor', 'null']);
    case 5:
      return 'x'.repeat(rng.pick([1_000, 50_000]));
    case 6:
      return rng.pick(['ELECTRONICS', 'NAME', 'ASC', 'DESC', 'HOME ', 'admin']);
    case 7:
      return Array.from({ length: rng.int(5) }, () => randomJson(rng, depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      for (let i = rng.int(5); i > 0; i--)
        object[
          rng.pick([
            'first',
            'after',
            'id',
            'ids',
            'input',
            'filter',
            'order',
            'name',
            'field',
            'direction',
            'login',
            'password',
            'sku',
            'price',
            '__proto__',
            'constructor',
          ])
        ] = randomJson(rng, depth + 1);
      return object;
    }
  }
}

export interface OperationCase {
  category: string;
  query: unknown;
  variables?: unknown;
  operationName?: unknown;
  extensions?: unknown;
}

/** A GraphQL request with a hostile document, hostile variables, or fields of the wrong JSON type. */
export function operationCase(rng: Rng): OperationCase {
  switch (rng.int(7)) {
    case 0:
      return { category: 'random tokens', query: randomTokens(rng) };
    case 1:
      return { category: 'deep nesting', query: deepNesting(rng) };
    case 2:
      return { category: 'huge string', query: hugeString(rng) };
    case 3:
      return { category: 'mutated document', query: mutate(rng, rng.pick(VALID)), variables: randomJson(rng) };
    case 4: {
      const variables: Record<string, unknown> = {};
      for (const name of ['first', 'after', 'id', 'ids', 'filter', 'order', 'input']) if (rng.chance(0.6)) variables[name] = randomJson(rng);
      return { category: 'wrong variable types', query: rng.pick(VALID), variables };
    }
    case 5:
      return {
        category: 'wrong field types',
        query: rng.chance(0.5) ? randomJson(rng) : rng.pick(VALID),
        variables: rng.chance(0.5) ? randomJson(rng) : undefined,
        operationName: rng.chance(0.5) ? randomJson(rng) : rng.pick(['Status', 'Nope', undefined]),
        extensions: rng.chance(0.3)
          ? randomJson(rng)
          : rng.chance(0.3)
            ? { persistedQuery: { version: randomJson(rng), sha256Hash: randomJson(rng) } }
            : undefined,
      };
    default:
      return { category: 'random text', query: randomString(rng, 1 + rng.int(300)) };
  }
}

/** Raw bytes for an HTTP body: JSON requests with invalid UTF-8, truncated or non-object JSON, odd encodings. */
export function rawBody(rng: Rng): { category: string; body: Buffer; contentType: string } {
  const json = JSON.stringify({ query: rng.pick(VALID), variables: randomJson(rng) });
  const contentType = rng.pick([
    'application/json',
    'application/json; charset=utf-8',
    'application/graphql-response+json',
    'application/json; charset=latin1',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/graphql',
  ]);
  switch (rng.int(5)) {
    case 0: {
      const bytes = Buffer.from(json);
      for (let i = 1 + rng.int(6); i > 0; i--) bytes[rng.int(bytes.length)] = rng.pick([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xf4]);
      return { category: 'invalid UTF-8', body: bytes, contentType };
    }
    case 1:
      return { category: 'truncated JSON', body: Buffer.from(json.slice(0, rng.int(json.length))), contentType };
    case 2:
      return { category: 'non-object JSON', body: Buffer.from(JSON.stringify(randomJson(rng))), contentType };
    case 3:
      return {
        category: 'prototype keys',
        body: Buffer.from(`{"query":"{ __typename }","__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}`),
        contentType: 'application/json',
      };
    default:
      return { category: 'random bytes', body: Buffer.from(Array.from({ length: rng.int(200) }, () => rng.int(256))), contentType };
  }
}

/** A graphql-transport-ws frame a broken or hostile client could send. */
export function wsFrame(rng: Rng): { category: string; data: string | Buffer; binary?: boolean } {
  switch (rng.int(6)) {
    case 0:
      return { category: 'random JSON frame', data: JSON.stringify(randomJson(rng)) };
    case 1: {
      const message: Record<string, unknown> = {
        type: rng.pick([
          'connection_init',
          'subscribe',
          'next',
          'complete',
          'ping',
          'pong',
          'error',
          'connection_ack',
          'start',
          'stop',
          'ka',
          '',
          'SUBSCRIBE',
        ]),
      };
      if (rng.chance(0.7)) message.id = rng.chance(0.7) ? String(rng.int(5)) : randomJson(rng);
      if (rng.chance(0.8))
        message.payload = rng.chance(0.5)
          ? { query: rng.chance(0.7) ? rng.pick(VALID) : randomJson(rng), variables: randomJson(rng) }
          : randomJson(rng);
      return { category: 'protocol message with wrong fields', data: JSON.stringify(message) };
    }
    case 2:
      return {
        category: 'truncated frame',
        data: JSON.stringify({ type: 'subscribe', id: '1', payload: { query: '{ __typename }' } }).slice(0, rng.int(50)),
      };
    case 3: {
      const bytes = Buffer.from(JSON.stringify({ type: 'subscribe', id: '1', payload: { query: '{ __typename }' } }));
      bytes[rng.int(bytes.length)] = rng.pick([0xff, 0xc0, 0xed]);
      return { category: 'invalid UTF-8 text frame', data: bytes };
    }
    case 4:
      return { category: 'binary frame', data: Buffer.from(Array.from({ length: rng.int(64) }, () => rng.int(256))), binary: true };
    default:
      return { category: 'random text frame', data: randomString(rng, rng.int(200)) };
  }
}
