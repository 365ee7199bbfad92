/**
 * Fan-out of one event to many subscribers: the subscribers of one (user, session) share one authentication read per
 * event, a shared result reaches every socket whole, and authorization stays per subscriber — a subscriber whose
 * session was revoked (with no revocation event reaching this process) is refused while the others receive.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { fromGlobalId } from '../../src/schema/shared/global-id.js';
import { createUser, login, TEST_PASSWORD, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect, triggerUntilEvent, type Collected } from '../helpers/subscriptions.js';
import { until } from './helpers.js';

let server: TestServer;
let admin: TestUser;
beforeAll(async () => {
  // Twenty sockets of one user: past the default per-user cap. No identity cache, so the reads counted are the
  // event's own and not served by it.
  server = await startServer({ WS_MAX_CONNECTIONS_PER_USER: '50', AUTH_CACHE_TTL_MS: '0' });
  admin = await createUser(server, { role: 'ADMIN' });
});
afterAll(() => server?.close());

const ITEMS = 'subscription { itemChanged { id name } }';

let sku = 1000;
async function createItem(): Promise<string> {
  const { body } = await server.gql(
    `mutation($input: CreateItemInput!) { createItem(input: $input) { item { id } userErrors { message } } }`,
    { input: { sku: `FO${sku++}`, name: 'Fanned', price: 1, category: 'HOME' } },
    { token: admin.token },
  );
  return body.data!.createItem.item.id;
}

const eventFor = (subscription: Collected, id: string) => subscription.events.find((event) => event.data?.itemChanged?.id === id);

/** The `sid` claim of an access token. */
const sessionOf = (token: string): string => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')).sid;

it('reads the authentication state of one (user, session) once per event, however many of its sockets subscribe', async () => {
  const viewer = await createUser(server, { role: 'USER' });
  const sockets = Array.from({ length: 20 }, () => collect(server.wsClient({ authorization: `Bearer ${viewer.token}` }), { query: ITEMS }));
  for (const subscription of sockets) await triggerUntilEvent(subscription, async () => void (await createItem()));
  // Every warm-up event delivered: none is checked while the spy counts.
  const warmedUp = await createItem();
  await until(() => sockets.every((subscription) => eventFor(subscription, warmedUp)), 'the last warm-up event everywhere');

  const reads = vi.spyOn(server.app.container.repos.users, 'authStates');
  const id = await createItem();
  await until(() => sockets.every((subscription) => eventFor(subscription, id)), 'the event on every socket');
  const keys = reads.mock.calls.flatMap(([batch]) => batch).filter((key) => key.userId === viewer.rowId);
  reads.mockRestore();

  expect(keys).toEqual([{ userId: viewer.rowId, sessionId: sessionOf(viewer.token) }]);
  for (const subscription of sockets) expect(eventFor(subscription, id)).toEqual({ data: { itemChanged: { id, name: 'Fanned' } } });
});

it('refuses the subscriber whose session was revoked while the others, of the same user and document, receive', async () => {
  const viewer = await createUser(server, { role: 'USER' });
  const second = await login(server, viewer.username, TEST_PASSWORD);
  expect(sessionOf(second.accessToken)).not.toBe(sessionOf(viewer.token));
  const revoked = collect(server.wsClient({ authorization: `Bearer ${viewer.token}` }), { query: ITEMS });
  const kept = Array.from({ length: 5 }, () => collect(server.wsClient({ authorization: `Bearer ${second.accessToken}` }), { query: ITEMS }));
  const others = Array.from({ length: 5 }, () => collect(server.wsClient({ authorization: `Bearer ${admin.token}` }), { query: ITEMS }));
  for (const subscription of [revoked, ...kept, ...others]) await triggerUntilEvent(subscription, async () => void (await createItem()));

  // Revoked in the database only, as another process would with its revocation event lost: the event's own check
  // finds it.
  expect(await server.app.container.repos.sessions.revokeFamily(sessionOf(viewer.token), new Date())).toBe(true);
  const id = await createItem();
  await until(() => [...kept, ...others].every((subscription) => eventFor(subscription, id)), 'the event for the live sessions');
  await until(() => revoked.errors.length > 0 || revoked.completed, 'the revoked subscriber refused');

  expect(eventFor(revoked, id)).toBeUndefined();
  expect(revoked.errors[0]).toMatchObject({ code: 4403 });
  for (const subscription of [...kept, ...others])
    expect(eventFor(subscription, id)).toEqual({ data: { itemChanged: { id, name: 'Fanned' } } });
  expect(fromGlobalId(id, 'Item')).toBeTruthy();
});
