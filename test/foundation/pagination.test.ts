/**
 * Relay connections with keyset cursors (acceptance 4): 250 items with ties on every sort key, walked forward with
 * `first`/`after` and backward with `last`/`before`, for every `orderBy` field and both directions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ItemRow } from '../../src/db/tables.js';
import { toGlobalId } from '../../src/schema/shared/global-id.js';
import { createUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let token: string;

const ITEM_COUNT = 250;
// Lower-case ASCII letters only, so PostgreSQL's collation and JavaScript's code-unit order agree.
const WORDS = ['anvil', 'bolt', 'cable', 'drill', 'epoxy', 'file', 'gauge', 'hammer', 'jig', 'knife', 'lathe', 'mallet', 'nail'];
const BASE_TIME = Date.parse('2024-03-01T12:00:00.000Z');

type Field = 'CREATED_AT' | 'NAME' | 'PRICE';
type Direction = 'ASC' | 'DESC';
const FIELDS: Field[] = ['CREATED_AT', 'NAME', 'PRICE'];
const DIRECTIONS: Direction[] = ['ASC', 'DESC'];

const rows = new Map<string, ItemRow>();
let skuCounter = 0;

async function insertItem(values: { name: string; priceCents: number; createdAt: Date }): Promise<ItemRow> {
  skuCounter += 1;
  const sku = `PG${String(skuCounter).padStart(4, '0')}`;
  const row = await server.app.container.repos.items.insert({ sku, category: 'HOME', ...values });
  rows.set(toGlobalId('Item', row.id), row);
  return row;
}

function sortKey(row: ItemRow, field: Field): number | string {
  if (field === 'CREATED_AT') return row.createdAt.getTime();
  if (field === 'NAME') return row.name;
  return row.priceCents;
}

/** The order the server must produce: by the key, ties broken by the uuid (compared as a string, as PostgreSQL does). */
function expectedOrder(ids: Iterable<string>, field: Field, direction: Direction): string[] {
  const compare = (a: string, b: string) => {
    const [ka, kb] = [sortKey(rows.get(a)!, field), sortKey(rows.get(b)!, field)];
    if (ka !== kb) return ka < kb ? -1 : 1;
    const [ia, ib] = [rows.get(a)!.id, rows.get(b)!.id];
    return ia < ib ? -1 : ia > ib ? 1 : 0;
  };
  const sorted = [...ids].sort(compare);
  return direction === 'ASC' ? sorted : sorted.reverse();
}

const PAGE = /* GraphQL */ `
  query Page($first: Int, $after: String, $last: Int, $before: String, $orderBy: ItemOrder) {
    items(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) {
      edges { cursor node { id } }
      nodes { id }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      totalCount
    }
  }
`;

interface Page {
  edges: Array<{ cursor: string; node: { id: string } }>;
  nodes: Array<{ id: string }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount: number;
}

async function page(variables: Record<string, unknown>): Promise<Page> {
  const { body } = await server.gql<{ items: Page }>(PAGE, variables, { token });
  expect(body.errors).toBeUndefined();
  const result = body.data!.items;
  expect(result.nodes.map((n) => n.id)).toEqual(result.edges.map((e) => e.node.id));
  expect(result.pageInfo.startCursor).toBe(result.edges[0]?.cursor ?? null);
  expect(result.pageInfo.endCursor).toBe(result.edges.at(-1)?.cursor ?? null);
  return result;
}

/** Walks forward; `between` runs after each page (to change the data mid-walk). */
async function walkForward(orderBy: { field: Field; direction: Direction }, between?: (cursorId: string) => Promise<void>) {
  const pages: Page[] = [];
  let after: string | null = null;
  for (;;) {
    const current = await page({ first: 100, after, orderBy });
    pages.push(current);
    if (!current.pageInfo.hasNextPage) break;
    expect(pages.length).toBeLessThan(10);
    after = current.pageInfo.endCursor;
    await between?.(current.edges.at(-1)!.node.id);
  }
  return { pages, ids: pages.flatMap((p) => p.edges.map((e) => e.node.id)) };
}

async function walkBackward(orderBy: { field: Field; direction: Direction }, between?: (cursorId: string) => Promise<void>) {
  const pages: Page[] = [];
  let before: string | null = null;
  for (;;) {
    const current = await page({ last: 100, before, orderBy });
    pages.push(current);
    if (!current.pageInfo.hasPreviousPage) break;
    expect(pages.length).toBeLessThan(10);
    before = current.pageInfo.startCursor;
    await between?.(current.edges[0]!.node.id);
  }
  // Each page is in list order; the pages themselves arrive last first.
  return { pages, ids: [...pages].reverse().flatMap((p) => p.edges.map((e) => e.node.id)) };
}

beforeAll(async () => {
  server = await startServer();
  ({ token } = await createUser(server, { role: 'ADMIN' }));
  for (let i = 0; i < ITEM_COUNT; i += 1) {
    await insertItem({
      name: WORDS[(i * 7) % WORDS.length]!, // 13 names, about 19 items each
      priceCents: ((i * 11) % 40) * 250 + 100, // 40 prices, about 6 items each
      createdAt: new Date(BASE_TIME + Math.floor(i / 3) * 1_000), // three items per instant
    });
  }
});
afterAll(() => server?.close());

describe.each(FIELDS.flatMap((field) => DIRECTIONS.map((direction) => ({ field, direction }))))('orderBy $field $direction', (orderBy) => {
  it('walks first: 100 with after over every item exactly once, in order', async () => {
    const { pages, ids } = await walkForward(orderBy);
    expect(pages.map((p) => p.edges.length)).toEqual([100, 100, 50]);
    expect(new Set(ids).size).toBe(ITEM_COUNT);
    expect(ids).toEqual(expectedOrder(rows.keys(), orderBy.field, orderBy.direction));
    expect(pages.map((p) => p.pageInfo.hasNextPage)).toEqual([true, true, false]);
    expect(pages.map((p) => p.pageInfo.hasPreviousPage)).toEqual([false, true, true]);
    expect(pages.every((p) => p.totalCount === ITEM_COUNT)).toBe(true);
  });

  it('walks last: 100 with before back over the same sequence', async () => {
    const { pages, ids } = await walkBackward(orderBy);
    expect(pages.map((p) => p.edges.length)).toEqual([100, 100, 50]);
    expect(ids).toEqual(expectedOrder(rows.keys(), orderBy.field, orderBy.direction));
    expect(pages.map((p) => p.pageInfo.hasPreviousPage)).toEqual([true, true, false]);
    expect(pages.map((p) => p.pageInfo.hasNextPage)).toEqual([false, true, true]);
  });

  it('answers a page between two cursors with exactly the items between them', async () => {
    const { pages } = await walkForward(orderBy);
    const all = expectedOrder(rows.keys(), orderBy.field, orderBy.direction);
    const after = pages[0]!.edges[9]!.cursor; // the 10th item
    const before = pages[0]!.edges[20]!.cursor; // the 21st item
    const forward = await page({ first: 100, after, before, orderBy });
    expect(forward.nodes.map((n) => n.id)).toEqual(all.slice(10, 20));
    const backward = await page({ last: 5, after, before, orderBy });
    expect(backward.nodes.map((n) => n.id)).toEqual(all.slice(15, 20));
  });
});

describe('page arguments', () => {
  async function errorCode(variables: Record<string, unknown>) {
    const { body } = await server.gql(PAGE, variables, { token });
    expect(body.data?.items ?? null).toBeNull();
    return body.errors?.map((e) => e.extensions?.code);
  }

  it('returns 20 items by default', async () => {
    const result = await page({});
    expect(result.edges).toHaveLength(20);
    expect(result.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
  });

  it('accepts first: 100 and refuses first: 101 or last: 101 as BAD_USER_INPUT', async () => {
    expect((await page({ first: 100 })).edges).toHaveLength(100);
    expect(await errorCode({ first: 101 })).toEqual(['BAD_USER_INPUT']);
    expect(await errorCode({ last: 101 })).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses first and last together, and a negative size, as BAD_USER_INPUT', async () => {
    expect(await errorCode({ first: 10, last: 10 })).toEqual(['BAD_USER_INPUT']);
    expect(await errorCode({ first: -1 })).toEqual(['BAD_USER_INPUT']);
  });

  it.each([
    ['not base64 JSON', 'garbage!'],
    ['JSON of the wrong shape', Buffer.from('{"a":1}').toString('base64url')],
    ['a cursor whose id is not a uuid', Buffer.from('["2024-01-01T00:00:00.000Z","x"]').toString('base64url')],
  ])('refuses %s as a cursor with BAD_USER_INPUT', async (_what, cursor) => {
    expect(await errorCode({ first: 10, after: cursor })).toEqual(['BAD_USER_INPUT']);
    expect(await errorCode({ last: 10, before: cursor })).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses a cursor made for another sort order with BAD_USER_INPUT', async () => {
    const byName = await page({ first: 1, orderBy: { field: 'NAME', direction: 'ASC' } });
    expect(await errorCode({ first: 10, after: byName.pageInfo.endCursor, orderBy: { field: 'PRICE', direction: 'ASC' } })).toEqual([
      'BAD_USER_INPUT',
    ]);
  });
});

// Runs last: it adds items, which the walks above do not expect.
describe('items inserted during a walk', () => {
  const cases = FIELDS.flatMap((field) =>
    DIRECTIONS.flatMap((direction) => (['forward', 'backward'] as const).map((walk) => ({ field, direction, walk }))),
  );

  it.each(cases)('never make an existing item repeat or vanish ($walk, $field $direction)', async ({ walk, ...orderBy }) => {
    const existing = expectedOrder(rows.keys(), orderBy.field, orderBy.direction);
    let inserted = 0;
    // After each page, insert items whose sort key ties with the cursor's, lies just beside it on either side, and
    // lies at either end of the list.
    const between = async (cursorId: string) => {
      const cursor = rows.get(cursorId)!;
      const year = 365 * 24 * 60 * 60 * 1_000;
      const variants = [
        { name: cursor.name, priceCents: cursor.priceCents, createdAt: cursor.createdAt },
        {
          name: `${cursor.name}a`,
          priceCents: Math.min(cursor.priceCents + 1, 1_000_000),
          createdAt: new Date(cursor.createdAt.getTime() + 1),
        },
        {
          name: cursor.name.slice(0, -1) || 'a',
          priceCents: Math.max(cursor.priceCents - 1, 1),
          createdAt: new Date(cursor.createdAt.getTime() - 1),
        },
        { name: 'aaaa', priceCents: 1, createdAt: new Date(BASE_TIME - year) },
        { name: 'zzzz', priceCents: 1_000_000, createdAt: new Date(BASE_TIME + year) },
      ];
      for (const values of variants) await insertItem(values);
      inserted += variants.length;
    };
    const { ids } = walk === 'forward' ? await walkForward(orderBy, between) : await walkBackward(orderBy, between);

    expect(inserted).toBeGreaterThanOrEqual(10);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => existing.includes(id))).toEqual(existing);
    // The new items that were returned sit in their place in the order too.
    expect(ids).toEqual(expectedOrder(ids, orderBy.field, orderBy.direction));
  });
});
