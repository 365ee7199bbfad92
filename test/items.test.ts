import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from './helpers/auth.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let token: string;
beforeAll(async () => {
  server = await startServer();
  ({ token } = await createUser(server, { role: 'ADMIN' }));
});
afterAll(() => server?.close());

const CREATE = /* GraphQL */ `
  mutation Create($input: CreateItemInput!) {
    createItem(input: $input) {
      item { id sku name description price category tags stock createdAt updatedAt }
      userErrors { field message code }
    }
  }
`;

const valid = { sku: 'AB1000', name: 'Desk lamp', price: 19.99, category: 'HOME' };

async function create(input: Record<string, unknown>) {
  const { body } = await server.gql(CREATE, { input }, { token });
  expect(body.errors).toBeUndefined();
  return body.data!.createItem as { item: Record<string, any> | null; userErrors: Array<{ field: string[]; message: string; code: string }> };
}

describe('createItem', () => {
  it('stores an item with normalised tags and an exact price', async () => {
    const { item, userErrors } = await create({ ...valid, sku: 'CR0001', price: 0.1 + 0.2, tags: [' Sale ', 'sale', '', 'NEW'], stock: 3 });
    expect(userErrors).toEqual([]);
    expect(item).toMatchObject({ sku: 'CR0001', price: 0.3, tags: ['sale', 'new'], stock: 3, description: null });
    expect(new Date(item!.createdAt).toISOString()).toBe(item!.createdAt);
  });

  it.each([
    [{ sku: 'ab1234' }, ['input', 'sku'], 'SKU must be 2 uppercase letters followed by 4 digits'],
    [{ sku: 'ABC123' }, ['input', 'sku'], 'SKU must be 2 uppercase letters followed by 4 digits'],
    [{ name: '   ' }, ['input', 'name'], 'Name must not be empty'],
    [{ name: 'x'.repeat(201) }, ['input', 'name'], 'Name must be at most 200 characters'],
    [{ description: 'd'.repeat(501) }, ['input', 'description'], 'Description must be at most 500 characters'],
    [{ price: 0 }, ['input', 'price'], 'Price must be greater than 0'],
    [{ price: -5 }, ['input', 'price'], 'Price must be greater than 0'],
    [{ price: 10000.01 }, ['input', 'price'], 'Price must be at most 10000'],
    [{ tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, ['input', 'tags'], 'Maximum 10 tags allowed'],
    [{ stock: -1 }, ['input', 'stock'], 'Stock must not be negative'],
  ])('rejects %j with a user error on its field', async (override, field, message) => {
    const { item, userErrors } = await create({ ...valid, sku: 'VA0001', ...override });
    expect(item).toBeNull();
    expect(userErrors).toEqual([{ field, message, code: 'INVALID' }]);
  });

  it('accepts the price limit of 10000 and 10 tags', async () => {
    const tags = Array.from({ length: 10 }, (_, i) => `t${i}`);
    const { item, userErrors } = await create({ ...valid, sku: 'LM0001', price: 10000, tags });
    expect(userErrors).toEqual([]);
    expect(item).toMatchObject({ price: 10000, tags });
  });

  it('reports a duplicate SKU as TAKEN', async () => {
    await create({ ...valid, sku: 'DU0001' });
    const { item, userErrors } = await create({ ...valid, sku: 'DU0001' });
    expect(item).toBeNull();
    expect(userErrors).toEqual([{ field: ['input', 'sku'], message: 'SKU already exists', code: 'TAKEN' }]);
  });

  it('refuses a wrong enum value as a validation error, not a user error', async () => {
    const { status, body } = await server.gql(CREATE, { input: { ...valid, category: 'FOOD' } }, { token });
    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('updateItem and deleteItem', () => {
  it('changes only the given fields, clears description with null, and bumps updatedAt', async () => {
    const { item } = await create({ ...valid, sku: 'UP0001', description: 'old', stock: 5 });
    const { body } = await server.gql(
      `mutation($input: UpdateItemInput!) { updateItem(input: $input) { item { name description price stock updatedAt } userErrors { field message code } } }`,
      { input: { id: item!.id, price: 25.5, description: null } },
      { token },
    );
    expect(body.data!.updateItem.userErrors).toEqual([]);
    expect(body.data!.updateItem.item).toMatchObject({ name: 'Desk lamp', description: null, price: 25.5, stock: 5 });
    expect(new Date(body.data!.updateItem.item.updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(item!.updatedAt).getTime());
  });

  it('reports validation failures and unknown ids as user errors', async () => {
    const { item } = await create({ ...valid, sku: 'UP0002' });
    const bad = await server.gql(
      `mutation($input: UpdateItemInput!) { updateItem(input: $input) { item { id } userErrors { field code } } }`,
      { input: { id: item!.id, stock: -3 } },
      { token },
    );
    expect(bad.body.data!.updateItem).toEqual({ item: null, userErrors: [{ field: ['input', 'stock'], code: 'INVALID' }] });
    const missing = await server.gql(
      `mutation($input: UpdateItemInput!) { updateItem(input: $input) { item { id } userErrors { field code } } }`,
      { input: { id: 'not-an-id', name: 'x' } },
      { token },
    );
    expect(missing.body.data!.updateItem.userErrors).toEqual([{ field: ['input', 'id'], code: 'NOT_FOUND' }]);
  });

  it('deletes an item, after which node(id) is null', async () => {
    const { item } = await create({ ...valid, sku: 'DE0001' });
    const deleted = await server.gql(
      `mutation($id: ID!) { deleteItem(id: $id) { deletedId userErrors { code } } }`,
      { id: item!.id },
      { token },
    );
    expect(deleted.body.data!.deleteItem).toEqual({ deletedId: item!.id, userErrors: [] });
    const again = await server.gql(
      `mutation($id: ID!) { deleteItem(id: $id) { deletedId userErrors { field code } } }`,
      { id: item!.id },
      { token },
    );
    expect(again.body.data!.deleteItem).toEqual({ deletedId: null, userErrors: [{ field: ['id'], code: 'NOT_FOUND' }] });
    const node = await server.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: item!.id }, { token });
    expect(node.body.data!.node).toBeNull();
  });
});

describe('deleting an ordered item', () => {
  it('keeps the item and reports a user error, since orders refer to it', async () => {
    const { item } = await create({ ...valid, sku: 'DE0002', stock: 5 });
    const order = await server.gql(
      `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { message } } }`,
      { input: { itemId: item!.id, quantity: 1 } },
      { token },
    );
    expect(order.body.data!.placeOrder.userErrors).toEqual([]);
    const { body } = await server.gql(
      `mutation($id: ID!) { deleteItem(id: $id) { deletedId userErrors { field message code } } }`,
      { id: item!.id },
      { token },
    );
    expect(body.errors).toBeUndefined();
    expect(body.data!.deleteItem).toEqual({
      deletedId: null,
      userErrors: [{ field: ['id'], message: 'Item has orders and cannot be deleted', code: 'INVALID' }],
    });
  });
});

describe('node and nodes', () => {
  it('resolves items by global id, in order, with null for unknown ones', async () => {
    const a = (await create({ ...valid, sku: 'ND0001', name: 'First' })).item!;
    const b = (await create({ ...valid, sku: 'ND0002', name: 'Second' })).item!;
    const gone = Buffer.from('Item:00000000-0000-4000-8000-000000000000').toString('base64url');
    const { body } = await server.gql(
      `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Item { name } } }`,
      { ids: [b.id, gone, a.id] },
      { token },
    );
    expect(body.data!.nodes).toEqual([
      { __typename: 'Item', id: b.id, name: 'Second' },
      null,
      { __typename: 'Item', id: a.id, name: 'First' },
    ]);
    expect(body.extensions?.sql?.statements).toBe(1);
  });

  it('answers a malformed id with BAD_USER_INPUT', async () => {
    const { body } = await server.gql(`{ node(id: "bm9wZQ") { id } }`, undefined, { token });
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('items filters', () => {
  beforeAll(async () => {
    await create({ sku: 'FI0001', name: 'Blue Kettle', price: 30, category: 'HOME', stock: 0 });
    await create({ sku: 'FI0002', name: 'Red kettle', price: 45, category: 'HOME', stock: 2 });
    await create({ sku: 'FI0003', name: 'Kettlebell 100%', price: 60, category: 'CLOTHING', stock: 9 });
  });

  async function skus(filter: Record<string, unknown>) {
    const { body } = await server.gql(
      `query($filter: ItemFilter) { items(first: 100, filter: $filter, orderBy: { field: PRICE, direction: ASC }) { nodes { sku } totalCount } }`,
      { filter },
      { token },
    );
    expect(body.errors).toBeUndefined();
    return { skus: body.data!.items.nodes.map((n: { sku: string }) => n.sku), total: body.data!.items.totalCount };
  }

  it('searches names case-insensitively and literally', async () => {
    expect((await skus({ search: 'KETTLE' })).skus).toEqual(['FI0001', 'FI0002', 'FI0003']);
    expect((await skus({ search: '100%' })).skus).toEqual(['FI0003']);
    expect((await skus({ search: '_' })).skus).toEqual([]);
  });

  it('combines filters', async () => {
    expect(await skus({ search: 'kettle', categories: ['HOME'], inStock: true })).toEqual({ skus: ['FI0002'], total: 1 });
    expect((await skus({ search: 'kettle', minPrice: 45, maxPrice: 60 })).skus).toEqual(['FI0002', 'FI0003']);
    expect((await skus({ search: 'kettle', inStock: false })).skus).toEqual(['FI0001']);
  });
});
