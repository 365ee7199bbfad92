import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';
import { rawClient, until, users, type RawClient } from './helpers.js';

let server: TestServer;
const clients: RawClient[] = [];

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.dispose()));
  await server?.close();
});

const SEND = /* GraphQL */ `
  mutation Send($input: SendNotificationInput!) { sendNotification(input: $input) { sentCount userErrors { field message code } } }
`;
const RECEIVED = 'subscription { notificationReceived { id kind title body readAt } }';
const LIST = /* GraphQL */ `
  query List($unreadOnly: Boolean) { notifications(first: 100, unreadOnly: $unreadOnly) { totalCount nodes { id title readAt } } }
`;
const MARK = 'mutation Mark($ids: [ID!]) { markNotificationsRead(ids: $ids) }';

describe('notifications', () => {
  it('stores a notification per recipient for notifications:write holders and pushes it to their subscriptions', async () => {
    const staff = await createUser(server, { role: 'MODERATOR' });
    const [a, b] = (await users(server, 2)) as [TestUser, TestUser];
    const streamA = collect(rawClient(server, a.token, clients).client, { query: RECEIVED });
    const streamB = collect(rawClient(server, b.token, clients).client, { query: RECEIVED });
    await until(() => server.app.container.services.realtime.streams.open === 2, 'the subscriptions');
    const { body } = await server.gql(
      SEND,
      { input: { userIds: [a.id, b.id], kind: 'WARNING', title: ' Stock low ', body: 'AB1234 has 2 left' } },
      { token: staff.token },
    );
    expect(body.data?.sendNotification).toEqual({ sentCount: 2, userErrors: [] });
    const [event] = await streamA.waitFor(1, 20_000);
    expect(event?.data?.notificationReceived).toMatchObject({ kind: 'WARNING', title: 'Stock low', body: 'AB1234 has 2 left', readAt: null });
    await streamB.waitFor(1, 20_000);

    const refused = await server.gql(SEND, { input: { userIds: [b.id], title: 't', body: 'b' } }, { token: a.token });
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['notifications:write'] });
    const unknown = await server.gql(
      SEND,
      { input: { userIds: [a.id, staff.id.slice(0, -2) + 'AA'], title: 't', body: 'b' } },
      { token: staff.token },
    );
    expect(unknown.body.data?.sendNotification.sentCount).toBe(0);
    expect(unknown.body.data?.sendNotification.userErrors[0]).toMatchObject({ field: ['input', 'userIds', '1'], code: 'NOT_FOUND' });
    streamA.dispose();
    streamB.dispose();
  });

  it("lists the viewer's notifications, marks listed ones or all read, and returns how many changed", async () => {
    const staff = await createUser(server, { role: 'ADMIN' });
    const [a, other] = (await users(server, 2)) as [TestUser, TestUser];
    for (const title of ['one', 'two', 'three'])
      await server.gql(SEND, { input: { userIds: [a.id], title, body: 'b' } }, { token: staff.token });
    await server.gql(SEND, { input: { userIds: [other.id], title: 'not yours', body: 'b' } }, { token: staff.token });

    const all = await server.gql(LIST, {}, { token: a.token });
    expect(all.body.data?.notifications.totalCount).toBe(3);
    expect(all.body.data?.notifications.nodes.map((node: { title: string }) => node.title)).toEqual(['three', 'two', 'one']);
    const [three] = all.body.data?.notifications.nodes as Array<{ id: string }>;

    expect((await server.gql(MARK, { ids: [three!.id] }, { token: a.token })).body.data).toEqual({ markNotificationsRead: 1 });
    expect((await server.gql(MARK, { ids: [three!.id] }, { token: a.token })).body.data).toEqual({ markNotificationsRead: 0 });
    // Someone else's notification is not the viewer's to mark, nor to read through node(id).
    expect((await server.gql(MARK, { ids: [three!.id] }, { token: other.token })).body.data).toEqual({ markNotificationsRead: 0 });
    expect((await server.gql('query($id: ID!) { node(id: $id) { id } }', { id: three!.id }, { token: other.token })).body.data).toEqual({
      node: null,
    });
    expect(
      (await server.gql('query($id: ID!) { node(id: $id) { ... on Notification { title readAt } } }', { id: three!.id }, { token: a.token }))
        .body.data?.node.readAt,
    ).not.toBeNull();

    const unread = await server.gql(LIST, { unreadOnly: true }, { token: a.token });
    expect(unread.body.data?.notifications.nodes.map((node: { title: string }) => node.title)).toEqual(['two', 'one']);
    expect((await server.gql(MARK, { ids: null }, { token: a.token })).body.data).toEqual({ markNotificationsRead: 2 });
    expect((await server.gql(LIST, { unreadOnly: true }, { token: a.token })).body.data?.notifications.totalCount).toBe(0);
    expect((await server.gql(LIST, { unreadOnly: true }, { token: other.token })).body.data?.notifications.totalCount).toBe(1);
  });

  it('delivers a direct message to the recipient with a notification, and to nobody else', async () => {
    const [a, b, c] = (await users(server, 3)) as [TestUser, TestUser, TestUser];
    const dmB = collect(rawClient(server, b.token, clients).client, {
      query: 'subscription { directMessages { body author { username } room { id } } }',
    });
    const dmC = collect(rawClient(server, c.token, clients).client, { query: 'subscription { directMessages { body } }' });
    const notesB = collect(rawClient(server, b.token, clients).client, { query: RECEIVED });
    await until(() => server.app.container.services.realtime.streams.open === 3, 'the subscriptions');
    const send =
      'mutation($input: SendDirectMessageInput!) { sendDirectMessage(input: $input) { message { id body room { id } } userErrors { field code } } }';
    const sent = await server.gql(send, { input: { toUserId: b.id, body: ' psst ' } }, { token: a.token });
    expect(sent.body.data?.sendDirectMessage.message).toMatchObject({ body: 'psst', room: null });
    expect((await dmB.waitFor(1, 20_000))[0]?.data?.directMessages).toEqual({ body: 'psst', author: { username: a.username }, room: null });
    expect((await notesB.waitFor(1, 20_000))[0]?.data?.notificationReceived).toMatchObject({
      kind: 'INFO',
      title: `New message from ${a.username}`,
      body: 'psst',
    });
    const self = await server.gql(send, { input: { toUserId: a.id, body: 'me' } }, { token: a.token });
    expect(self.body.data?.sendDirectMessage.userErrors).toEqual([{ field: ['input', 'toUserId'], code: 'INVALID' }]);

    const messageId = sent.body.data?.sendDirectMessage.message.id;
    const node = 'query($id: ID!) { node(id: $id) { ... on Message { body } } }';
    expect((await server.gql(node, { id: messageId }, { token: b.token })).body.data).toEqual({ node: { body: 'psst' } });
    expect((await server.gql(node, { id: messageId }, { token: c.token })).body.data).toEqual({ node: null });
    // C's subscription saw nothing: a DM to C now is the first thing it gets.
    await server.gql(send, { input: { toUserId: c.id, body: 'for c' } }, { token: a.token });
    expect((await dmC.waitFor(1, 20_000)).map((event) => event.data?.directMessages.body)).toEqual(['for c']);
    [dmB, dmC, notesB].forEach((stream) => stream.dispose());
  });
});

describe('dashboard', () => {
  const STATS =
    'subscription($ms: Int) { dashboardStats(intervalMs: $ms) { onlineUsers openConnections ordersLastHour revenueLastHour runningJobs at } }';

  it('answers the dashboard query for analytics:read holders only', async () => {
    const staff = await createUser(server, { role: 'MODERATOR' });
    const [a] = (await users(server, 1)) as [TestUser];
    const { body } = await server.gql(
      '{ dashboard { onlineUsers openConnections ordersLastHour revenueLastHour runningJobs at } }',
      {},
      { token: staff.token },
    );
    expect(body.data?.dashboard).toMatchObject({ ordersLastHour: 0, revenueLastHour: 0, runningJobs: 0 });
    expect(body.data?.dashboard.openConnections).toBe(server.app.container.services.realtime.connections.openConnections);
    const refused = await server.gql('{ dashboard { at } }', {}, { token: a.token });
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['analytics:read'] });
  });

  it('serves all subscribers of one interval from one shared computation and stops when the last leaves', async () => {
    const staff = await createUser(server, { role: 'MODERATOR' });
    const ticker = server.app.container.services.dashboard.ticker;
    const first = collect(rawClient(server, staff.token, clients).client, { query: STATS, variables: { ms: 500 } });
    await first.waitFor(1, 20_000);
    const second = collect(rawClient(server, staff.token, clients).client, { query: STATS, variables: { ms: 500 } });
    await second.waitFor(3, 20_000);
    await until(() => first.events.length >= second.events.length, 'the first subscriber to catch up');
    // Every figure the second subscriber got is one the first got too: one computation per tick, shared.
    const firstTimes = new Set(first.events.map((event) => event.data?.dashboardStats.at));
    for (const event of second.events) expect(firstTimes).toContain(event.data?.dashboardStats.at);
    expect(second.events.at(-1)?.data?.dashboardStats.onlineUsers).toBeGreaterThanOrEqual(1);
    expect(ticker.activeIntervals).toBe(1);

    const tooFast = collect(rawClient(server, staff.token, clients).client, { query: STATS, variables: { ms: 100 } });
    await tooFast.done(20_000);
    expect(tooFast.events[0]?.errors?.[0]?.extensions?.code ?? (tooFast.errors[0] as any)?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    first.dispose();
    second.dispose();
    await until(() => ticker.activeIntervals === 0, 'the ticker to stop');
  });
});
