/**
 * Fan-out of one event to many subscribers: the subscribers of one (user, session) share one authentication read per
 * event, a shared result reaches every socket whole, and authorization stays per subscriber — a subscriber whose
 * session was revoked (with no revocation event reaching this process) is refused while the others receive. Events
 * published faster than they go out (a burst in one loop) reach every subscriber once and in order, executed once per
 * event and scope set, and a subscriber whose undelivered events pass the queue limit is dropped.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Topic } from '../../src/pubsub/topics.js';
import { SLOW_SUBSCRIBER } from '../../src/realtime/queue.js';
import { Item } from '../../src/schema/item/item.type.js';
import { fromGlobalId } from '../../src/schema/shared/global-id.js';
import { createUser, login, TEST_PASSWORD, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect, triggerUntilEvent, type Collected } from '../helpers/subscriptions.js';
import { until } from './helpers.js';
import { itemEvent } from '../helpers/events.js';

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

describe('a burst of events', () => {
  const LIMIT = 50;
  let burst: TestServer;
  beforeAll(async () => {
    burst = await startServer({ WS_MAX_CONNECTIONS_PER_USER: '50', WS_SUBSCRIPTION_QUEUE_LIMIT: String(LIMIT) });
  });
  afterAll(() => burst?.close());

  const BURST = 'subscription Burst { itemChanged { id sku } }';
  let n = 0;
  const event = () => itemEvent({ id: '00000000-0000-4000-8000-000000000002', sku: `BU${String(n++).padStart(4, '0')}`, name: 'Burst' });
  const skus = (subscription: Collected) => subscription.events.map((received) => received.data?.itemChanged?.sku as string);
  /** Publishes until every subscription has had an event, then until each has the last one: all are listening. */
  async function listening(subscriptions: Collected[]): Promise<void> {
    await until(() => {
      burst.app.container.pubsub.publish(Topic.ItemChanged, event());
      return subscriptions.every((subscription) => subscription.events.length > 0);
    }, 'every subscription');
    const last = `BU${String(n - 1).padStart(4, '0')}`;
    await until(() => subscriptions.every((subscription) => skus(subscription).includes(last)), `event ${last} everywhere`);
  }

  it('reaches every subscriber once and in order, executed once per event and scope set', async () => {
    const [owner, viewer] = [await createUser(burst, { role: 'ADMIN' }), await createUser(burst, { role: 'USER' })];
    const subscriptions = [owner, viewer].flatMap((user) =>
      Array.from({ length: 10 }, () => collect(burst.wsClient({ authorization: `Bearer ${user.token}` }), { query: BURST })),
    );
    await listening(subscriptions);

    const executions = vi.spyOn(Item, 'fromEvent');
    const published: string[] = [];
    // Fewer than the queue limit, in one synchronous loop: every event is published before the first one goes out.
    for (let i = 0; i < LIMIT - 10; i++) {
      const next = event();
      published.push(next.item.sku);
      burst.app.container.pubsub.publish(Topic.ItemChanged, next);
    }
    await until(() => subscriptions.every((subscription) => skus(subscription).includes(published.at(-1)!)), 'the last event everywhere');
    const calls = executions.mock.calls.length;
    executions.mockRestore();

    // Two scope sets (ADMIN, USER): two executions per event, whatever the number of sockets.
    expect(calls).toBe(published.length * 2);
    for (const subscription of subscriptions) {
      expect(subscription.errors).toEqual([]);
      expect(subscription.events.filter((received) => received.errors)).toEqual([]);
      const received = skus(subscription);
      expect(received.slice(received.indexOf(published[0]!))).toEqual(published);
    }
    for (const subscription of subscriptions) subscription.dispose();
  });

  it('drops a subscriber whose undelivered events pass the queue limit, and the server goes on', async () => {
    const user = await createUser(burst, { role: 'ADMIN' });
    const subscription = collect(burst.wsClient({ authorization: `Bearer ${user.token}` }), { query: BURST });
    await listening([subscription]);

    // More events in one loop than the subscriber may have waiting: none has gone out when the limit is passed.
    const flood: string[] = [];
    for (let i = 0; i < LIMIT + 10; i++) {
      const next = event();
      flood.push(next.item.sku);
      burst.app.container.pubsub.publish(Topic.ItemChanged, next);
    }
    await until(() => burst.logs.some((line) => line.msg === 'websocket dropped' && line.userId === user.rowId), 'the drop');
    await until(() => subscription.errors.length > 0 || subscription.completed, 'the socket closed');

    const drops = burst.logs.filter((line) => line.msg === 'websocket dropped' && line.userId === user.rowId);
    expect(drops.map((line) => line.reason)).toEqual([SLOW_SUBSCRIBER]);
    // Dropped before any of them went out: the subscriber got none of the flood.
    expect(skus(subscription).filter((sku) => flood.includes(sku))).toEqual([]);
    expect(burst.logs.filter((line) => line.level >= 50)).toEqual([]);
    // A new subscriber of the same document gets events as before.
    const after = collect(burst.wsClient({ authorization: `Bearer ${user.token}` }), { query: BURST });
    await listening([after]);
    after.dispose();
  });
});
