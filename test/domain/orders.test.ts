/**
 * Orders: server-computed totals, discount codes, stock that never goes below zero under concurrent orders, status
 * moves, ownership, the orderPlaced subscription and the SQL budget of the orders list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';
import { eventMatching, ok, statements, stockedItem, warmUp } from './fixtures.js';

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let staff: TestUser;

beforeAll(async () => {
  server = await startServer();
  [alice, bob, staff] = await Promise.all([createUser(server), createUser(server), createUser(server, { role: 'MODERATOR' })]);
});
afterAll(() => server?.close());

const PLACE = /* GraphQL */ `
  mutation($input: PlaceOrderInput!) {
    placeOrder(input: $input) {
      order { id quantity unitPrice discountCode discountPercent total status placedBy { username } item { id stock } }
      userErrors { field message code }
    }
  }
`;
const STATUS = /* GraphQL */ `
  mutation($input: UpdateOrderStatusInput!) {
    updateOrderStatus(input: $input) { order { id status item { stock } } userErrors { field message code } }
  }
`;

async function place(user: TestUser, input: Record<string, unknown>) {
  return (await ok(server, user, PLACE, { input })).placeOrder;
}

async function setStatus(user: TestUser, id: string, status: string) {
  return (await ok(server, user, STATUS, { input: { id, status } })).updateOrderStatus;
}

async function stockOf(itemRowId: string): Promise<number> {
  const [row] = await server.app.container.repos.items.findByIds([itemRowId]);
  return row!.stock;
}

describe('placeOrder', () => {
  it('computes the total on the server and takes the stock', async () => {
    const item = await stockedItem(server, 5, 19.99);
    const { order, userErrors } = await place(alice, { itemId: item.id, quantity: 3 });
    expect(userErrors).toEqual([]);
    expect(order).toMatchObject({
      quantity: 3,
      unitPrice: 19.99,
      discountCode: null,
      discountPercent: 0,
      total: 59.97,
      status: 'PENDING',
      placedBy: { username: alice.username },
      item: { id: item.id, stock: 2 },
    });
  });

  it.each([
    ['SAVE10', 10, 90],
    ['DISC20', 20, 80],
    ['OFFER30', 30, 70],
  ])('applies the discount code %s (%i%% off)', async (code, percent, total) => {
    const item = await stockedItem(server, 10, 25);
    const { order, userErrors } = await place(alice, { itemId: item.id, quantity: 4, discountCode: code });
    expect(userErrors).toEqual([]);
    expect(order).toMatchObject({ discountCode: code, discountPercent: percent, total });
  });

  it('rounds a discounted total to the cent', async () => {
    const item = await stockedItem(server, 10, 0.99);
    const { order } = await place(alice, { itemId: item.id, quantity: 1, discountCode: 'SAVE10' });
    expect(order.total).toBe(0.89);
  });

  it.each([
    [{ quantity: 0 }, ['input', 'quantity'], 'Quantity must be greater than 0', 'INVALID'],
    [{ quantity: -2 }, ['input', 'quantity'], 'Quantity must be greater than 0', 'INVALID'],
    [{ quantity: 10_001 }, ['input', 'quantity'], 'Quantity must be at most 10000', 'INVALID'],
    [{ discountCode: 'save10' }, ['input', 'discountCode'], 'Invalid discount code format', 'INVALID'],
    [{ discountCode: 'SAVE1' }, ['input', 'discountCode'], 'Invalid discount code format', 'INVALID'],
    [{ discountCode: 'ABCDEF12' }, ['input', 'discountCode'], 'Invalid discount code format', 'INVALID'],
    [{ discountCode: 'SAVE50' }, ['input', 'discountCode'], 'Invalid discount code', 'INVALID'],
    [{ quantity: 6 }, ['input', 'quantity'], 'Not enough stock', 'LIMIT_EXCEEDED'],
  ])('rejects %j with a user error on its field and takes no stock', async (override, field, message, code) => {
    const item = await stockedItem(server, 5);
    const { order, userErrors } = await place(alice, { itemId: item.id, quantity: 1, ...override });
    expect(order).toBeNull();
    expect(userErrors).toEqual([{ field, message, code }]);
    expect(await stockOf(item.rowId)).toBe(5);
  });

  it('reports an unknown item, or an id of another type, as NOT_FOUND on itemId', async () => {
    const item = await stockedItem(server, 1);
    await server.app.container.services.items.delete(item.id);
    for (const itemId of [item.id, alice.id]) {
      const { order, userErrors } = await place(alice, { itemId, quantity: 1 });
      expect(order).toBeNull();
      expect(userErrors).toEqual([{ field: ['input', 'itemId'], message: 'Item not found', code: 'NOT_FOUND' }]);
    }
  });

  it('never sells the last unit twice: 50 rounds of two concurrent orders for it', async () => {
    for (let round = 0; round < 50; round += 1) {
      const item = await stockedItem(server, 1);
      const results = await Promise.all([alice, bob].map((user) => place(user, { itemId: item.id, quantity: 1 })));
      const placed = results.filter((result) => result.order !== null);
      const refused = results.filter((result) => result.order === null);
      expect(placed, `round ${round}`).toHaveLength(1);
      expect(refused[0]!.userErrors).toEqual([{ field: ['input', 'quantity'], message: 'Not enough stock', code: 'LIMIT_EXCEEDED' }]);
      expect(placed[0]!.order.item.stock).toBe(0);
      expect(await stockOf(item.rowId)).toBe(0);
    }
  });
});

describe('order status', () => {
  it('moves PENDING → PAID → SHIPPED for staff and refuses any move from SHIPPED', async () => {
    const item = await stockedItem(server, 3);
    const { order } = await place(alice, { itemId: item.id, quantity: 2 });
    expect((await setStatus(staff, order.id, 'PAID')).order.status).toBe('PAID');
    expect((await setStatus(staff, order.id, 'SHIPPED')).order.status).toBe('SHIPPED');
    for (const status of ['PENDING', 'PAID', 'CANCELLED']) {
      expect(await setStatus(staff, order.id, status)).toEqual({
        order: null,
        userErrors: [{ field: ['input', 'status'], message: `Cannot change an order from SHIPPED to ${status}`, code: 'INVALID' }],
      });
    }
    expect(await stockOf(item.rowId)).toBe(1);
  });

  it('refuses to skip PAID', async () => {
    const item = await stockedItem(server, 1);
    const { order } = await place(alice, { itemId: item.id, quantity: 1 });
    expect((await setStatus(staff, order.id, 'SHIPPED')).userErrors).toEqual([
      { field: ['input', 'status'], message: 'Cannot change an order from PENDING to SHIPPED', code: 'INVALID' },
    ]);
  });

  it('returns the units to stock when a paid order is cancelled, once', async () => {
    const item = await stockedItem(server, 4);
    const { order } = await place(alice, { itemId: item.id, quantity: 3 });
    await setStatus(staff, order.id, 'PAID');
    const cancelled = await setStatus(staff, order.id, 'CANCELLED');
    expect(cancelled).toEqual({ order: { id: order.id, status: 'CANCELLED', item: { stock: 4 } }, userErrors: [] });
    expect((await setStatus(staff, order.id, 'CANCELLED')).userErrors[0].message).toBe('Cannot change an order from CANCELLED to CANCELLED');
    expect(await stockOf(item.rowId)).toBe(4);
  });

  it('lets the owner cancel their own pending order', async () => {
    const item = await stockedItem(server, 2);
    const { order } = await place(alice, { itemId: item.id, quantity: 2 });
    expect(await setStatus(alice, order.id, 'CANCELLED')).toEqual({
      order: { id: order.id, status: 'CANCELLED', item: { stock: 2 } },
      userErrors: [],
    });
  });

  it('refuses the owner any other move: paying, or cancelling a paid order', async () => {
    const item = await stockedItem(server, 2);
    const { order } = await place(alice, { itemId: item.id, quantity: 1 });
    const forbidden = {
      order: null,
      userErrors: [
        {
          field: ['input', 'status'],
          message: 'Only staff can make this status change; you can cancel your own pending orders',
          code: 'FORBIDDEN',
        },
      ],
    };
    expect(await setStatus(alice, order.id, 'PAID')).toEqual(forbidden);
    await setStatus(staff, order.id, 'PAID');
    expect(await setStatus(alice, order.id, 'CANCELLED')).toEqual(forbidden);
  });
});

describe('ownership of orders', () => {
  it("lists only the viewer's own orders, and everyone's for orders:read", async () => {
    const carol = await createUser(server);
    const dave = await createUser(server);
    const item = await stockedItem(server, 10);
    const mine = (await place(carol, { itemId: item.id, quantity: 1 })).order.id;
    const theirs = (await place(dave, { itemId: item.id, quantity: 1 })).order.id;
    const query = '{ orders(first: 100) { totalCount nodes { id } } }';
    const own = (await ok(server, carol, query)).orders;
    expect(own).toEqual({ totalCount: 1, nodes: [{ id: mine }] });
    const all = (await ok(server, staff, query)).orders;
    expect(all.nodes.map((node: { id: string }) => node.id)).toEqual(expect.arrayContaining([mine, theirs]));
    expect(all.totalCount).toBeGreaterThan(2);
  });

  it("answers null for node(id) of someone else's order, and the order for its owner and for staff", async () => {
    const item = await stockedItem(server, 1);
    const { order } = await place(alice, { itemId: item.id, quantity: 1 });
    const query = 'query($id: ID!) { node(id: $id) { ... on Order { id total } } }';
    expect((await ok(server, bob, query, { id: order.id })).node).toBeNull();
    expect((await ok(server, alice, query, { id: order.id })).node).toEqual({ id: order.id, total: 10 });
    expect((await ok(server, staff, query, { id: order.id })).node).toEqual({ id: order.id, total: 10 });
  });

  it("refuses to change the status of someone else's order, as if it did not exist", async () => {
    const item = await stockedItem(server, 1);
    const { order } = await place(alice, { itemId: item.id, quantity: 1 });
    expect(await setStatus(bob, order.id, 'CANCELLED')).toEqual({
      order: null,
      userErrors: [{ field: ['input', 'id'], message: 'Order not found', code: 'NOT_FOUND' }],
    });
    expect(await stockOf(item.rowId)).toBe(0);
  });

  it('does not give orders:read to the USER role', async () => {
    expect(alice.scopes).not.toContain('orders:read');
    expect(alice.scopes).toContain('orders:write');
    expect(staff.scopes).toContain('orders:read');
  });
});

describe('orderPlaced', () => {
  const SUBSCRIPTION = 'subscription { orderPlaced { id total placedBy { username } item { id stock } } }';

  it('refuses a subscriber without orders:read', async () => {
    const client = server.wsClient({ authorization: `Bearer ${alice.token}` });
    const sub = collect(client, { query: SUBSCRIPTION });
    try {
      const [event] = await sub.waitFor(1);
      expect(event!.data ?? null).toBeNull();
      expect(event!.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['orders:read'] });
    } finally {
      sub.dispose();
    }
  });

  it('delivers each placed order once, after it committed, and nothing for an order that failed', async () => {
    const client = server.wsClient({ authorization: `Bearer ${staff.token}` });
    const sub = collect<{ orderPlaced: { id: string; total: number; placedBy: { username: string }; item: { id: string; stock: number } } }>(
      client,
      { query: SUBSCRIPTION },
    );
    try {
      const warmUpItem = await stockedItem(server, 1_000);
      const warmUpIds = await warmUp(sub, async () => (await place(bob, { itemId: warmUpItem.id, quantity: 1 })).order.id);

      const item = await stockedItem(server, 3);
      const placed: string[] = [];
      for (let index = 0; index < 3; index += 1) placed.push((await place(alice, { itemId: item.id, quantity: 1 })).order.id);
      const failed = await place(alice, { itemId: item.id, quantity: 1 });
      expect(failed.order).toBeNull();
      // In-process and Redis pub/sub deliver in publish order: once the sentinel arrived, anything earlier has too.
      const sentinel = (await place(bob, { itemId: warmUpItem.id, quantity: 1 })).order.id;
      await eventMatching(sub, (event) => event.data?.orderPlaced.id === sentinel);

      const ours = sub.events.map((event) => event.data!.orderPlaced).filter((order) => !warmUpIds.has(order.id));
      expect(ours.map((order) => order.id)).toEqual([...placed, sentinel]);
      // The event's own reads (item stock through a fresh loader) see the committed stock decrement.
      expect(ours.slice(0, 3).every((order) => order.item.id === item.id && order.placedBy.username === alice.username)).toBe(true);
      expect(ours[2]!.item.stock).toBe(0);
      for (const order of ours) {
        const node = (await ok(server, staff, 'query($id: ID!) { node(id: $id) { id } }', { id: order.id })).node;
        expect(node).toEqual({ id: order.id });
      }
    } finally {
      sub.dispose();
    }
  });
});

describe('SQL budget of the orders list', () => {
  it('costs at most 3 statements for 50 orders with their items and customers', async () => {
    const customers = await Promise.all([0, 1, 2, 3].map(() => createUser(server)));
    const items = await Promise.all([0, 1, 2, 3, 4].map(() => stockedItem(server, 100)));
    for (let index = 0; index < 50; index += 1) {
      await place(customers[index % customers.length]!, { itemId: items[index % items.length]!.id, quantity: 1 });
    }
    const response = await server.gql('{ orders(first: 50) { nodes { item { name } placedBy { username } } } }', {}, { token: staff.token });
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data!.orders.nodes).toHaveLength(50);
    expect(statements(response)).toBeLessThanOrEqual(3);
  });
});

describe('configuration and statistics', () => {
  it('reads DISCOUNT_CODES and refuses a code its own format rule would reject', () => {
    expect([...loadConfig({ DISCOUNT_CODES: 'SPRNG15:15, BULK05:5' }).discountCodes]).toEqual([
      ['SPRNG15', 15],
      ['BULK05', 5],
    ]);
    expect(() => loadConfig({ DISCOUNT_CODES: 'SPRING15:15' })).toThrow(ConfigError);
    expect(() => loadConfig({ DISCOUNT_CODES: 'SAVE10:0' })).toThrow(/DISCOUNT_CODES/);
    expect(() => loadConfig({ DISCOUNT_CODES: 'SAVE10' })).toThrow(/DISCOUNT_CODES/);
  });

  it('counts the orders placed since a time and the revenue of those not cancelled, for dashboards', async () => {
    const repo = server.app.container.repos.orders;
    const since = new Date(Date.now() - 1_000);
    const before = await repo.statsSince(since);
    const item = await stockedItem(server, 10, 12.5);
    await place(bob, { itemId: item.id, quantity: 2 });
    const cancelled = (await place(bob, { itemId: item.id, quantity: 1 })).order.id;
    await setStatus(bob, cancelled, 'CANCELLED');
    const after = await repo.statsSince(since);
    expect(after).toEqual({ count: before.count + 2, revenueCents: before.revenueCents + 2_500 });
    expect(await repo.statsSince(new Date(Date.now() + 60_000))).toEqual({ count: 0, revenueCents: 0 });
  });
});
