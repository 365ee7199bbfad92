/**
 * Subscriptions marked @SharedEvents execute each event once per distinct document, variables and scopes, however
 * many subscribers share them; each subscriber still gets its own complete result.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { Item } from '../../src/schema/item/item.type.js';
import { fromGlobalId } from '../../src/schema/shared/global-id.js';
import { createUser } from '../helpers/auth.js';
import { collect, triggerUntilEvent } from '../helpers/subscriptions.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let admin: string;
let user: string;
beforeAll(async () => {
  server = await startServer();
  ({ token: admin } = await createUser(server, { role: 'ADMIN' }));
  ({ token: user } = await createUser(server, { role: 'USER' }));
});
afterAll(() => server?.close());

let sku = 1000;
async function createItem(): Promise<string> {
  const { body } = await server.gql(
    `mutation($input: CreateItemInput!) { createItem(input: $input) { item { id } userErrors { message } } }`,
    { input: { sku: `SH${sku++}`, name: 'Shared', price: 1, category: 'HOME' } },
    { token: admin },
  );
  return body.data!.createItem.item.id;
}

it('executes one itemChanged event once for subscribers with the same document and scopes', async () => {
  const query = 'subscription { itemChanged { id name } }';
  const clients = [server.wsClient({ authorization: `Bearer ${admin}` }), server.wsClient({ authorization: `Bearer ${admin}` })];
  const same = clients.map((client) => collect(client, { query }));
  const other = collect(server.wsClient({ authorization: `Bearer ${admin}` }), { query: 'subscription { itemChanged { id sku } }' });
  const fewerScopes = collect(server.wsClient({ authorization: `Bearer ${user}` }), { query });
  for (const subscription of [...same, other, fewerScopes]) await triggerUntilEvent(subscription, async () => void (await createItem()));

  const spy = vi.spyOn(Item, 'fromEvent');
  const id = await createItem();
  const match = (events: Array<{ data?: any }>) => events.find((event) => event.data?.itemChanged?.id === id);
  await vi.waitFor(() => {
    for (const subscription of [...same, other, fewerScopes]) expect(match(subscription.events)).toBeDefined();
  });
  for (const subscription of same) expect(match(subscription.events)).toEqual({ data: { itemChanged: { id, name: 'Shared' } } });
  expect(match(other.events)).toEqual({ data: { itemChanged: { id, sku: expect.stringMatching(/^SH\d{4}$/) } } });
  // Two admins with one document share an execution; another document and another scope set execute separately.
  // (Only calls for this event count: warm-up events may still be in flight when the spy starts.)
  const rowId = fromGlobalId(id, 'Item');
  expect(spy.mock.calls.filter(([item]) => item.id === rowId)).toHaveLength(3);
  spy.mockRestore();
});
